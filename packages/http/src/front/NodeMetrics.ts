// The node's metrics in the Prometheus text format (GET /metrics): counters of the redirector and the state of its
// index, its kept answers, the node's crawls, its memory and the longest its event loop was held up.
import { monitorEventLoopDelay } from "node:perf_hooks"
import type { CrawlMetrics } from "@mirrormanager/actors/crawler"
import type { Redirector } from "@mirrormanager/actors/redirector"
import type { AccessCounter } from "@mirrormanager/actors/statistics"
import type { AnswerCache } from "../redirector/index.ts"

export class NodeMetrics {
  /** The node's crawl counters, rendered beside the redirector's. */
  private readonly crawlMetrics: CrawlMetrics["Service"]

  /**
   * Delays of the event loop (sampled every 10 ms) since the last scrape: every request waits behind a stall, so its
   * maximum is the redirector's worst added latency (docs/operations.md#metrics).
   */
  private readonly eventLoopDelay: ReturnType<typeof monitorEventLoopDelay>

  /** The access statistics' counter, on nodes that count. */
  private readonly accessCounts: AccessCounter | undefined

  constructor(crawlMetrics: CrawlMetrics["Service"], accessCounts?: AccessCounter) {
    this.crawlMetrics = crawlMetrics
    this.accessCounts = accessCounts
    this.eventLoopDelay = monitorEventLoopDelay({ resolution: 10 })
    this.eventLoopDelay.enable()
  }

  /** Per endpoint, per status. */
  private readonly requests = new Map<string, Map<number, number>>()

  count(endpoint: string, status: number): void {
    let byStatus = this.requests.get(endpoint)
    if (byStatus === undefined) {
      byStatus = new Map()
      this.requests.set(endpoint, byStatus)
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1)
  }

  render(redirector: Redirector["Service"], answers: AnswerCache, now: number): string {
    const status = redirector.status()
    const lines: Array<string> = []
    const metric = (name: string, type: string, help: string, values: ReadonlyArray<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const [labels, value] of values) lines.push(`${name}${labels === "" ? "" : `{${labels}}`} ${value}`)
    }
    metric(
      "mm_redirector_requests_total",
      "counter",
      "Redirector requests by endpoint and status.",
      [...this.requests]
        .flatMap(([endpoint, byStatus]) =>
          [...byStatus].map(([status, count]): [string, number] => [`endpoint="${endpoint}",status="${status}"`, count])
        )
        .sort()
    )
    const counts = status.index?.counts()
    metric("mm_index_ready", "gauge", "Whether an index is loaded (1) or not (0).", [["", status.index ? 1 : 0]])
    metric("mm_index_from_snapshot", "gauge", "Whether the index was read from the snapshot on disk.", [
      ["", status.origin === "snapshot" ? 1 : 0]
    ])
    metric("mm_index_hosts", "gauge", "Active hosts in the index.", [["", counts?.hosts ?? 0]])
    metric("mm_index_directories", "gauge", "Directories in the index.", [["", counts?.directories ?? 0]])
    metric("mm_index_repositories", "gauge", "Addressable repositories in the index.", [
      ["", counts?.repositories ?? 0]
    ])
    metric("mm_index_netblocks", "gauge", "Host netblocks in the index.", [["", counts?.netblocks ?? 0]])
    metric("mm_index_file_details", "gauge", "File details in the index.", [["", counts?.fileDetails ?? 0]])
    metric("mm_index_build_seconds", "gauge", "Duration of the last full index build.", [
      ["", (status.buildMs ?? 0) / 1000]
    ])
    metric("mm_index_built_at_seconds", "gauge", "When the index served was built (Unix time; 0: none).", [
      ["", (status.index?.builtAt ?? 0) / 1000]
    ])
    metric("mm_index_age_seconds", "gauge", "Seconds since the index was last known to be current.", [
      ["", status.currentAt === undefined ? 0 : Math.max(0, (now - status.currentAt) / 1000)]
    ])
    metric("mm_changes_following", "gauge", "Whether the change stream is followed (0: database unreachable).", [
      ["", status.following ? 1 : 0]
    ])
    metric("mm_changes_lag_seconds", "gauge", "Commit-to-apply delay of the newest applied change.", [
      ["", status.lagSeconds]
    ])
    metric("mm_changes_applied_total", "counter", "Changes applied from the change stream.", [
      ["", status.changesApplied]
    ])
    metric("mm_changes_reads_total", "counter", "Polls of the change log that read the rows of changes.", [
      ["", status.changeReads]
    ])
    metric(
      "mm_changes_read_seconds_total",
      "counter",
      "Time spent reading the rows of changes from the database (the change path's cost to it, per node).",
      [["", status.changeReadSeconds]]
    )
    metric("mm_answer_cache_bytes", "gauge", "Bytes' worth of answers kept (bounded by MM_ANSWER_CACHE_MB).", [
      ["", answers.size]
    ])
    metric(
      "mm_answer_cache_answers_total",
      "counter",
      "Redirector answers with a selection (not errors): sent as kept, or selected and rendered afresh (MM_ANSWER_VARIANTS 0: none).",
      [
        ['source="kept"', answers.kept],
        ['source="fresh"', answers.fresh]
      ]
    )
    metric(
      "mm_answer_cache_declined_total",
      "counter",
      "Fresh answers not kept: the cache was full and what would have made room was asked as often lately.",
      [["", answers.declined]]
    )
    metric(
      "mm_crawls_total",
      "counter",
      "Host crawls run on this node, by mode and status.",
      this.crawlMetrics.crawlCounts()
    )
    metric("mm_crawl_requests_total", "counter", "Requests made to mirrors by this node's crawls.", [
      ["", this.crawlMetrics.requests]
    ])
    metric(
      "mm_crawl_base_urls_total",
      "counter",
      "Base URL checks of this node's crawls, by result (usable: answers with a valid certificate; unknown: not checkable from here).",
      [
        ['result="usable"', this.crawlMetrics.baseUrls.usable],
        ['result="not_usable"', this.crawlMetrics.baseUrls.notUsable],
        ['result="unknown"', this.crawlMetrics.baseUrls.unknown]
      ]
    )
    metric("mm_hosts_switched_off_total", "counter", "Hosts switched off by this node's crawls (4 failed in a row).", [
      ["", this.crawlMetrics.switchedOff]
    ])
    const memory = process.memoryUsage()
    metric("process_resident_memory_bytes", "gauge", "Resident memory of the node process.", [["", memory.rss]])
    // Of which: the main thread's JavaScript heap (reserved, and in use), and memory outside it (buffers).
    metric("nodejs_heap_size_total_bytes", "gauge", "Size of the main thread's JavaScript heap.", [
      ["", memory.heapTotal]
    ])
    metric("nodejs_heap_size_used_bytes", "gauge", "Used part of the main thread's JavaScript heap.", [
      ["", memory.heapUsed]
    ])
    metric("nodejs_external_memory_bytes", "gauge", "Memory of buffers and other objects outside the heap.", [
      ["", memory.external]
    ])
    // The histogram's max is 0 before its first sample; a delay below the sampling resolution is not a stall.
    metric(
      "mm_event_loop_delay_max_seconds",
      "gauge",
      "Longest delay of the event loop since the previous scrape of /metrics (reset by each scrape).",
      [["", Math.max(0, this.eventLoopDelay.max - 10e6) / 1e9]]
    )
    const access = this.accessCounts
    if (access?.enabled === true) {
      metric(
        "mm_access_stats_added_requests_total",
        "counter",
        "Requests counted for the access statistics and added to the database by this node.",
        [["", access.addedRequests]]
      )
      metric(
        "mm_access_stats_unwritten_requests",
        "gauge",
        "Requests counted for the access statistics, not in the database yet (a minute's, or more while flushes fail).",
        [["", access.unwritten()]]
      )
      metric(
        "mm_access_stats_dropped_requests_total",
        "counter",
        "Requests counted and given up: days past the three kept in memory while none could be written.",
        [["", access.droppedRequests]]
      )
      metric(
        "mm_access_stats_failed_flushes_total",
        "counter",
        "Flushes of access counts that failed (their batch is kept and written again).",
        [["", access.failedFlushes]]
      )
    }
    this.eventLoopDelay.reset()
    return `${lines.join("\n")}\n`
  }
}
