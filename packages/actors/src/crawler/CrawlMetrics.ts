// What this node's crawls did, for its /metrics (docs/operations.md#metrics: crawl outcomes, auto-disables): counted
// where each crawl runs (the node holding the host's entity), so a cluster's figures are the sum over its nodes. The
// counters belong to the node's CrawlMetrics (its layer), so two nodes in one process count apart.
import { Context, Layer } from "effect"

/** The counters of one node's crawls. */
export class CrawlFigures {
  /** Per mode, per status. */
  private readonly crawls = new Map<string, number>()
  requests = 0
  switchedOff = 0
  /** Base URL checks, by what they found (an always-up-to-date host's URLs are checked too). */
  readonly baseUrls = { usable: 0, notUsable: 0, unknown: 0 }

  crawled(
    mode: string,
    status: string,
    requests: number,
    baseUrls: { readonly usable: number; readonly notUsable: number; readonly unknown: number }
  ): void {
    const key = `mode="${mode}",status="${status}"`
    this.crawls.set(key, (this.crawls.get(key) ?? 0) + 1)
    this.requests += requests
    this.baseUrls.usable += baseUrls.usable
    this.baseUrls.notUsable += baseUrls.notUsable
    this.baseUrls.unknown += baseUrls.unknown
  }

  /** Label sets and counts of crawls, sorted. */
  crawlCounts(): ReadonlyArray<[string, number]> {
    return [...this.crawls].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }
}

/** The node's crawl counters: written by the Host entities it runs, read by its /metrics. */
export class CrawlMetrics extends Context.Service<CrawlMetrics, CrawlFigures>()("actors/CrawlMetrics") {
  /** Counters of their own, from zero. */
  static readonly layer = Layer.sync(CrawlMetrics, () => new CrawlFigures())
}
