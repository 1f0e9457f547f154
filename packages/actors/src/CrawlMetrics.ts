// What this node's crawls did, for its /metrics (SPEC 10.1: crawl outcomes, auto-disables): counted where each crawl
// runs (the node holding the host's entity), so a cluster's figures are the sum over its nodes.
export class CrawlMetrics {
  /** Per mode, per status. */
  private readonly crawls = new Map<string, number>()
  requests = 0
  switchedOff = 0

  crawled(mode: string, status: string, requests: number): void {
    const key = `mode="${mode}",status="${status}"`
    this.crawls.set(key, (this.crawls.get(key) ?? 0) + 1)
    this.requests += requests
  }

  /** Label sets and counts of crawls, sorted. */
  crawlCounts(): ReadonlyArray<[string, number]> {
    return [...this.crawls].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }
}

/** The node's counters (one process, one node). */
export const crawlMetrics = new CrawlMetrics()
