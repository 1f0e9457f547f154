// What a node's crawls share: its connections to mirrors and the resolver's memory (MirrorClient), its crawl counters
// (CrawlMetrics). One of each per node; two nodes in one process share neither.
import { Layer } from "effect"
import { CrawlMetrics } from "./CrawlMetrics.ts"
import { MirrorClient } from "./MirrorClient.ts"

export const CrawlerStateLayer = Layer.mergeAll(MirrorClient.layer, CrawlMetrics.layer)
