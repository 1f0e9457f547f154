// The node's access counts (docs/statistics.md): mirrorlist and metalink requests per UTC day by country, arch,
// repository and countme bucket, counted in memory on the request path (a few Map updates, no database), and handed
// to the flusher as numbered batches that are added to the database exactly once.
import { randomUUID } from "node:crypto"
import { Context, Layer } from "effect"

/** What is counted, each request once in every kind. */
export const ACCESS_KINDS = ["countries", "arches", "repositories", "countme"] as const
export type AccessKind = (typeof ACCESS_KINDS)[number]

export const isAccessKind = (value: string): value is AccessKind =>
  (ACCESS_KINDS as ReadonlyArray<string>).includes(value)

/** Keys past a kind's bound on one day, and keys too long to be a real name, are counted here. */
export const OTHER_KEY = "(other)"
/** Requests whose client's country is not known (no GeoIP answer). */
export const UNKNOWN_COUNTRY = "unknown"
/** Embargoed countries' requests, one anonymous bucket (written so: a country of the list is never stored). */
export const EMBARGOED_KEY = "embargoed"
/** Requests without `countme=`. */
export const NO_COUNTME = "none"

/** Distinct keys of one kind on one day: repo and arch come from the requests, so memory is bounded here. */
export const MAX_KEYS_PER_KIND = 5_000
const MAX_KEY_LENGTH = 128
/** Days of counts kept while none can be written (the database away): the oldest day goes past this. */
const MAX_UNWRITTEN_DAYS = 3
const DAY_MS = 86_400_000

/** The parts of a redirector answer that are counted (the front server's Answer has them). */
export interface CountedRequest {
  readonly endpoint: string
  readonly status: number
  readonly log: {
    readonly country: string | undefined
    readonly repo: string | undefined
    readonly arch: string | undefined
    readonly countme: string | undefined
  }
}

export interface AccessRow {
  /** UTC day, YYYY-MM-DD. */
  readonly day: string
  readonly kind: AccessKind
  readonly key: string
  readonly requests: number
}

/**
 * Counts taken from the node at one time. `(runId, seq)` names it for good: a batch whose writing failed is written
 * again under the same name, so a commit whose acknowledgement was lost is not added twice.
 */
export interface AccessBatch {
  readonly runId: string
  readonly seq: number
  readonly rows: ReadonlyArray<AccessRow>
  /** Requests counted in it (each appears once in every kind). */
  readonly requests: number
}

class DayCounts {
  readonly day: string
  readonly countries = new Map<string, number>()
  readonly arches = new Map<string, number>()
  readonly repositories = new Map<string, number>()
  readonly countme = new Map<string, number>()
  requests = 0
  constructor(day: string) {
    this.day = day
  }
}

const add = (counts: Map<string, number>, key: string) => {
  const n = counts.get(key)
  if (n !== undefined) counts.set(key, n + 1)
  // One place of the bound is the "(other)" bucket's.
  else if (counts.size < MAX_KEYS_PER_KIND - 1 && key.length <= MAX_KEY_LENGTH) counts.set(key, 1)
  else counts.set(OTHER_KEY, (counts.get(OTHER_KEY) ?? 0) + 1)
}

/** libdnf sends countme=1..4 (the system's age bucket); anything else is "(other)". */
const countmeBucket = (countme: string | undefined): string => {
  if (countme === undefined) return NO_COUNTME
  switch (countme) {
    case "1":
    case "2":
    case "3":
    case "4":
      return countme
    default:
      return OTHER_KEY
  }
}

/** A key as stored: text PostgreSQL takes (no NUL or control characters, no lone surrogates). */
const storable = (key: string) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
  key.replace(/[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "?")

export class AccessCounter {
  /** This process's name in the flush records: a restarted node is a new run, its batches numbered afresh. */
  readonly runId: string = randomUUID()
  readonly enabled: boolean
  private days = new Map<string, DayCounts>()
  private currentDay = -1
  private current: DayCounts | undefined
  private pending: AccessBatch | undefined
  private nextSeq = 1
  /** Requests of days given up while none could be written. */
  droppedRequests = 0
  /** Requests in batches the database has (for /metrics). */
  addedRequests = 0
  /** Flushes that failed (their batch kept and written again). */
  failedFlushes = 0

  constructor(enabled: boolean) {
    this.enabled = enabled
  }

  /** On the request path: one answered (200) mirrorlist or metalink request for a repo and arch is counted. */
  record(at: number, request: CountedRequest): void {
    if (!this.enabled || request.status !== 200) return
    const endpoint = request.endpoint
    if (endpoint !== "mirrorlist" && endpoint !== "metalink") return
    const log = request.log
    const repo = log.repo
    const arch = log.arch
    if (repo === undefined || arch === undefined) return
    const day = Math.floor(at / DAY_MS)
    const counts = day === this.currentDay && this.current !== undefined ? this.current : this.dayOf(day)
    counts.requests++
    add(counts.countries, log.country ?? UNKNOWN_COUNTRY)
    add(counts.arches, arch)
    add(counts.repositories, repo)
    add(counts.countme, countmeBucket(log.countme))
  }

  private dayOf(dayNumber: number): DayCounts {
    const day = new Date(dayNumber * DAY_MS).toISOString().slice(0, 10)
    let counts = this.days.get(day)
    if (counts === undefined) {
      counts = new DayCounts(day)
      this.days.set(day, counts)
      for (const [oldest, dropped] of this.days) {
        if (this.days.size <= MAX_UNWRITTEN_DAYS) break
        this.days.delete(oldest)
        this.droppedRequests += dropped.requests
      }
    }
    this.current = counts
    this.currentDay = dayNumber
    return counts
  }

  /**
   * The batch to write: the one not acknowledged yet (the same, again), else everything counted since the last,
   * taken now (counting starts afresh); undefined when there is nothing to write.
   */
  takeBatch(): AccessBatch | undefined {
    if (this.pending !== undefined) return this.pending
    const rows: Array<AccessRow> = []
    let requests = 0
    for (const counts of this.days.values()) {
      requests += counts.requests
      for (const kind of ACCESS_KINDS) {
        for (const [key, n] of counts[kind]) rows.push({ day: counts.day, kind, key: storable(key), requests: n })
      }
    }
    this.days = new Map()
    this.current = undefined
    this.currentDay = -1
    if (rows.length === 0) return undefined
    this.pending = { runId: this.runId, seq: this.nextSeq++, rows, requests }
    return this.pending
  }

  /** The batch is in the database: the next `takeBatch` takes new counts. */
  acknowledge(batch: AccessBatch): void {
    if (this.pending !== batch) return
    this.pending = undefined
    this.addedRequests += batch.requests
  }

  /** Requests counted and not written yet (a pending batch's included). */
  unwritten(): number {
    let requests = this.pending?.requests ?? 0
    for (const counts of this.days.values()) requests += counts.requests
    return requests
  }
}

/**
 * One counter per node, made with the node and kept across its database side's restarts (a batch not acknowledged
 * is written again by the next flusher): the front server counts into it, the flusher takes batches from it.
 */
export class AccessCounts extends Context.Service<AccessCounts, AccessCounter>()("actors/AccessCounts") {
  /** `enabled` false: nothing is counted (MM_ACCESS_STATS=off, or a node whose counts could not be written). */
  static readonly layer = (options: { readonly enabled: boolean }) =>
    Layer.sync(AccessCounts, () => new AccessCounter(options.enabled))
}
