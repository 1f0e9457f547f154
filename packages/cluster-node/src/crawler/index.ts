// `mirrormanager crawl`: hosts crawled now by their entities on the running nodes. Imports node.
export * from "./CrawlCommand.ts"
