// The crawler: checks one host's directories over HTTP(S) against the master tree (Crawler.ts, in order: the
// MirrorClient asks the mirror, CrawlVerdicts say what its answers mean), crawl runs (many hosts, bounded) on a
// schedule or on demand, crawl figures and propagation statistics. The node's MirrorClient (connection pool,
// resolver memory) and CrawlMetrics (counters) are services, each node providing its own layer. Imports ipdata.

export * from "./Crawler.ts"
export * from "./CrawlerState.ts"
export * from "./CrawlMetrics.ts"
export * from "./CrawlRun.ts"
export * from "./CrawlSchedule.ts"
export { crawlStanding, type FullSweep, fullSweep, isRepodata, logKept, resumePoint } from "./CrawlVerdicts.ts"
export { MirrorClient } from "./MirrorClient.ts"
export * from "./OnDemandCrawls.ts"
export * from "./Propagation.ts"
