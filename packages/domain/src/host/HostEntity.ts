// The Host entity's protocol (docs/registry.md#data-model, docs/checkin.md#protocol, docs/crawler.md#overview): one
// entity per mirror host, addressed by its host id, the single writer of the host's directory state. Check-ins and
// crawl results for one host reach it from any node and are applied one after the other.
import { Schema } from "effect"
import { Entity } from "effect/cluster"
import { Rpc } from "effect/rpc"
import { CheckinSection } from "../checkin/index.ts"
import { DirectoryId, HostCategoryId, HostId } from "../registry/index.ts"

/** A check-in of the host, its site's password already verified (docs/checkin.md#server-rules). */
export const HostCheckin = Schema.Struct({
  userActive: Schema.UndefinedOr(Schema.Boolean),
  sections: Schema.Array(CheckinSection)
}).annotate({ identifier: "HostCheckin" })
export type HostCheckin = typeof HostCheckin.Type

/** What a crawl found in one directory (docs/crawler.md#what-counts-as-up-to-date); `unknown` changes nothing. */
export const CrawledDirectory = Schema.Struct({
  directoryId: DirectoryId,
  /** Below the category's top directory; "" is the top. */
  path: Schema.String,
  result: Schema.Literals(["upToDate", "stale", "unknown"]),
  /** For an up-to-date repomd.xml: whether it matched the newest file detail or a retained alternate. */
  matched: Schema.NullOr(Schema.Literals(["newest", "alternate"])),
  /** The timestamp (epoch seconds) of the repomd.xml file detail it matched: how far behind the mirror is. */
  matchedTimestamp: Schema.NullOr(Schema.Number),
  /**
   * Not asked: found up to date lately and unchanged on the master since (the load budget,
   * docs/crawler.md#limits-and-politeness).
   */
  kept: Schema.optionalKey(Schema.Boolean),
  /** md5 of the master's file list the crawl checked (kept with an up-to-date verdict for the load budget). */
  filesDigest: Schema.optionalKey(Schema.String)
}).annotate({ identifier: "CrawledDirectory" })
export type CrawledDirectory = typeof CrawledDirectory.Type

export const CrawledCategory = Schema.Struct({
  hostCategoryId: HostCategoryId,
  /**
   * False: no base URL answered; the category's directories stay as they were (docs/crawler.md#how-a-host-is-crawled).
   */
  accessible: Schema.Boolean,
  directories: Schema.Array(CrawledDirectory),
  /**
   * A full crawl's pass over the category's directories (docs/crawler.md#time-limit-and-resuming): in path order from
   * the first after `from` (null: from the first), wrapping round. `complete`: it covered every directory. Cut short
   * by the host's time limit: `directories` are those it covered, in its order, and the next full crawl resumes after
   * the last of them. Absent: a complete pass.
   */
  pass: Schema.optionalKey(Schema.Struct({ from: Schema.NullOr(Schema.String), complete: Schema.Boolean }))
}).annotate({ identifier: "CrawledCategory" })
export type CrawledCategory = typeof CrawledCategory.Type

/**
 * What the base check learned of one base URL (docs/crawler.md#address-families-and-tls); null: not learned in this
 * crawl.
 */
export const CrawledUrl = Schema.Struct({
  hostCategoryId: HostCategoryId,
  url: Schema.String,
  reachable: Schema.NullOr(Schema.Boolean),
  /** Whether the URL answers over IPv4 and over IPv6 (its name has such addresses and they answer). */
  ipv4: Schema.NullOr(Schema.Boolean),
  ipv6: Schema.NullOr(Schema.Boolean),
  /** https only: whether the certificate is valid for the name, and when it expires (epoch seconds). */
  tlsValid: Schema.NullOr(Schema.Boolean),
  tlsExpiresAt: Schema.NullOr(Schema.Number),
  /** https only: the certificate expires within the crawler's warning window (its admins are told once). */
  tlsExpiresSoon: Schema.NullOr(Schema.Boolean)
}).annotate({ identifier: "CrawledUrl" })
export type CrawledUrl = typeof CrawledUrl.Type

/**
 * What a crawl checks (docs/crawler.md#schedule): everything, repodata directories, base URLs only, or named
 * directories.
 */
export const CrawlMode = Schema.Literals(["full", "repodata", "canary", "targeted"])
export type CrawlMode = typeof CrawlMode.Type

/** How a crawl ended (docs/crawler.md#results). */
export const CrawlStatus = Schema.Literals(["ok", "failure", "timeout", "unknown"])
export type CrawlStatus = typeof CrawlStatus.Type

/** One crawl of the host (docs/crawler.md#results). */
export const CrawlReport = Schema.Struct({
  mode: CrawlMode,
  status: CrawlStatus,
  reason: Schema.NullOr(Schema.String),
  durationMs: Schema.Number,
  categories: Schema.Array(CrawledCategory),
  urls: Schema.Array(CrawledUrl)
}).annotate({ identifier: "CrawlReport" })
export type CrawlReport = typeof CrawlReport.Type

export const HostStatus = Schema.Struct({
  hostId: HostId,
  userActive: Schema.Boolean,
  disabledBy: Schema.String,
  /** Epoch seconds. */
  lastCheckedIn: Schema.NullOr(Schema.Number),
  lastCrawled: Schema.NullOr(Schema.Number),
  crawlFailures: Schema.Int,
  /** Host-category directories up to date. */
  directoriesUpToDate: Schema.Int,
  /** Categories whose check-in claim still waits for a crawl. */
  claimsAwaitingCrawl: Schema.Int
}).annotate({ identifier: "HostStatus" })
export type HostStatus = typeof HostStatus.Type

/** What one crawl run by the entity found, in numbers. */
export const CrawlSummary = Schema.Struct({
  status: CrawlStatus,
  reason: Schema.NullOr(Schema.String),
  directoriesUpToDate: Schema.Int,
  directoriesStale: Schema.Int,
  directoriesUnknown: Schema.Int,
  /** Base URLs checked (each over its address families), and of them those usable: answering, certificate valid. */
  baseUrls: Schema.Int,
  baseUrlsUsable: Schema.Int,
  /** `alwaysUp2date` categories: their base URLs checked, their directories not (they count as up to date). */
  categoriesAlwaysUpToDate: Schema.Int,
  requests: Schema.Int,
  durationMs: Schema.Number
}).annotate({ identifier: "CrawlSummary" })
export type CrawlSummary = typeof CrawlSummary.Type

/** The counts of a summary when nothing was crawled (skipped, not started, not applied). */
export const NOTHING_CRAWLED = {
  directoriesUpToDate: 0,
  directoriesStale: 0,
  directoriesUnknown: 0,
  baseUrls: 0,
  baseUrlsUsable: 0,
  categoriesAlwaysUpToDate: 0,
  requests: 0,
  durationMs: 0
} as const satisfies Omit<CrawlSummary, "status" | "reason">

/** One request of a crawl, as the crawl log keeps it. */
export const CrawlLogEntry = Schema.Struct({
  url: Schema.String,
  method: Schema.Literals(["HEAD", "GET"]),
  /** 0: no answer (refused, timed out, connection failed). */
  status: Schema.Int,
  result: Schema.String,
  ms: Schema.Number
}).annotate({ identifier: "CrawlLogEntry" })
export type CrawlLogEntry = typeof CrawlLogEntry.Type

/** One crawl of a host, as its crawl log keeps it (the first entries only; `entriesTotal` counts them all). */
export const CrawlLog = Schema.Struct({
  /** Epoch seconds. */
  startedAt: Schema.Number,
  mode: Schema.String,
  status: Schema.String,
  reason: Schema.NullOr(Schema.String),
  durationMs: Schema.Number,
  requests: Schema.Int,
  entries: Schema.Array(CrawlLogEntry),
  entriesTotal: Schema.Int
}).annotate({ identifier: "CrawlLog" })
export type CrawlLog = typeof CrawlLog.Type

/** The host is not in the registry (deleted meanwhile). */
export class HostGone extends Schema.TaggedError<HostGone>()("HostGone", { hostId: HostId }) {}

/** Applies a check-in; succeeds with the reply's lines (without the closing `checked in successful`). */
export const Checkin = Rpc.make("Checkin", {
  payload: { checkin: HostCheckin },
  success: Schema.String,
  error: HostGone
})
export const CrawlResult = Rpc.make("CrawlResult", { payload: { report: CrawlReport }, error: HostGone })
export const Status = Rpc.make("Status", { success: HostStatus, error: HostGone })
/**
 * Crawls the host now (docs/crawler.md#overview) and applies what it found; a targeted crawl names its directories per
 * host category. `categories` (names) limits the crawl to those categories; `runDeadline` (epoch ms) is when the whole
 * run of which this crawl is part ends (the global timeout); `budget` applies the load budget.
 */
export const Crawl = Rpc.make("Crawl", {
  payload: {
    mode: CrawlMode,
    targets: Schema.Array(Schema.Struct({ hostCategoryId: HostCategoryId, paths: Schema.Array(Schema.String) })),
    categories: Schema.optionalKey(Schema.Array(Schema.String)),
    runDeadline: Schema.optionalKey(Schema.Number),
    /** Keep directories found up to date lately and unchanged since, rather than ask again (scheduled rounds). */
    budget: Schema.optionalKey(Schema.Boolean)
  },
  success: CrawlSummary,
  error: HostGone
})

export const HostEntity = Entity.make("Host", [Checkin, CrawlResult, Status, Crawl])
