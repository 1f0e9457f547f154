// The crawler: checks one host's directories over HTTP(S) against the master tree, crawl runs (many hosts, bounded)
// on a schedule or on demand, crawl figures and propagation statistics. Imports ipdata.

export * from "./Crawler.ts"
export * from "./CrawlMetrics.ts"
export * from "./CrawlRun.ts"
export * from "./CrawlSchedule.ts"
export * from "./OnDemandCrawls.ts"
export * from "./Propagation.ts"
