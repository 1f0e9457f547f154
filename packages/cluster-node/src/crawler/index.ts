// `mirrormanager crawl`: hosts crawled now by their entities on the running nodes. Imports node, actors/crawler.
export * from "./CrawlCommand.ts"
