// What a crawl concludes from what the mirror answered, as pure functions over the MirrorClient's answers: whether
// a base URL serves (over which families, with which certificate), a file against the master's size, repomd.xml
// against the retained hashes, a directory up to date or not, the host's status and the reason said for it, and
// the words added to the crawl log.
import type {
  CrawledCategory,
  CrawledDirectory,
  CrawledUrl,
  CrawlLogEntry,
  CrawlReport
} from "@mirrormanager/domain/host"
import type { DirectoryId, HostCategoryId } from "@mirrormanager/domain/registry"
import type { MirrorAnswer } from "./MirrorClient.ts"

export interface CrawlFile {
  readonly name: string
  readonly size: number
}

/** A file detail of repomd.xml: its sha256 and its timestamp (epoch seconds). */
export interface RepomdDetail {
  readonly sha256: string
  readonly timestamp: number
}

export interface CrawlDirectory {
  readonly directoryId: DirectoryId
  /** Below the category's top directory; "" is the top. */
  readonly path: string
  readonly files: ReadonlyArray<CrawlFile>
  /** For a repodata directory: the newest repomd.xml's file detail, then the retained alternates. */
  readonly repomd: { readonly newest: RepomdDetail; readonly alternates: ReadonlyArray<RepomdDetail> } | undefined
  /**
   * Found up to date lately and unchanged on the master since (the load budget): a full crawl keeps it as it is,
   * without asking the mirror.
   */
  readonly kept?:
    | { readonly matched: CrawledDirectory["matched"]; readonly matchedTimestamp: number | null }
    | undefined
  /** The master's file list as the crawl checks it (md5), recorded with an up-to-date verdict (the load budget). */
  readonly filesDigest?: string | undefined
}

/** A verdict and, when there is something to say, why (for the crawl log entry of the answer it was drawn from). */
export interface Verdict<R extends string> {
  readonly result: R
  readonly why?: string | undefined
}

/** A repodata directory (docs/crawler.md#schedule repodata mode), by its path below the category's top. */
export const isRepodata = (path: string) => path === "repodata" || path.endsWith("/repodata")

/** Whether an answer to a base URL's HEAD says the URL serves (any HTTP answer but 404 and 5xx). */
export const serves = (answer: MirrorAnswer) => answer.status >= 200 && answer.status < 500 && answer.status !== 404

/**
 * The file's size from the answer to a one-byte ranged GET: a 206 names it in Content-Range; a 200 that ignored the
 * range in Content-Length, or by the body it sent (Infinity: more than was read, so larger than a file that small).
 */
export const rangedSize = (answer: MirrorAnswer, masterSize: number): number | undefined => {
  const total = /\/(\d+)\s*$/.exec(String(answer.headers["content-range"] ?? ""))?.[1]
  if (total !== undefined) return Number(total)
  if (answer.status !== 200) return undefined
  if (answer.headers["content-length"] !== undefined) return Number(answer.headers["content-length"])
  if (answer.bodyCut !== true) return answer.bodyBytes
  return masterSize <= (answer.bodyBytes ?? 0) ? Number.POSITIVE_INFINITY : undefined
}

/**
 * docs/crawler.md#what-counts-as-up-to-date: a file as "ok", "stale" or "unknown", from the answer to its HEAD, or
 * (`ranged`) to the ranged GET asked when HEAD was not allowed.
 */
export const fileVerdict = (
  file: CrawlFile,
  answer: MirrorAnswer,
  ranged: boolean
): Verdict<"ok" | "stale" | "unknown"> => {
  const length = answer.headers["content-length"]
  const status = ranged && answer.status === 206 ? 200 : answer.status
  const size = ranged ? rangedSize(answer, file.size) : length === undefined ? undefined : Number(length)
  if (status >= 200 && status < 300) {
    return size === undefined || size === file.size
      ? { result: "ok" }
      : {
          result: "stale",
          why: `stale: size ${size === Number.POSITIVE_INFINITY ? "larger" : size}, the master's ${file.size}`
        }
  }
  if (status === 404 || status === 410 || status === 403) return { result: "stale", why: `stale: answered ${status}` }
  return { result: "unknown", why: `unknown: ${status === 0 ? (answer.error ?? "no answer") : `answered ${status}`}` }
}

/** repomd.xml as downloaded, against the newest file detail and the retained alternates. */
export const repomdVerdict = (
  repomd: NonNullable<CrawlDirectory["repomd"]>,
  answer: MirrorAnswer
):
  | { readonly result: "stale" | "unknown"; readonly why?: string }
  | { readonly result: "matched"; readonly matched: RepomdDetail; readonly why: string } => {
  if (answer.status === 404 || answer.status === 410 || answer.status === 403) return { result: "stale" }
  // No hash: not a 2xx answer, or a body cut short or over the limit.
  if (answer.sha256 === undefined) return { result: "unknown" }
  const { newest, alternates } = repomd
  const matched = [newest, ...alternates].find((d) => d.sha256.toLowerCase() === answer.sha256)
  if (matched === undefined) {
    return { result: "stale", why: `stale: sha256 ${answer.sha256.slice(0, 12)}… matches no retained repomd.xml` }
  }
  return {
    result: "matched",
    matched,
    why: `matches the ${matched === newest ? "newest" : "an older retained"} repomd.xml`
  }
}

/** A directory's result as reported, with the repomd.xml it matched (newest or an alternate), if any. */
export const crawledDirectory = (
  directory: CrawlDirectory,
  result: CrawledDirectory["result"],
  matched: RepomdDetail | undefined = undefined
): CrawledDirectory => ({
  directoryId: directory.directoryId,
  path: directory.path,
  result,
  matched: matched === undefined ? null : matched === directory.repomd?.newest ? "newest" : "alternate",
  matchedTimestamp: matched?.timestamp ?? null,
  ...(directory.filesDigest === undefined ? {} : { filesDigest: directory.filesDigest })
})

/** A directory found up to date lately and unchanged on the master since: kept as it was, not asked. */
export const keptDirectory = (directory: CrawlDirectory): CrawledDirectory => ({
  directoryId: directory.directoryId,
  path: directory.path,
  result: "upToDate",
  matched: directory.kept!.matched,
  matchedTimestamp: directory.kept!.matchedTimestamp,
  kept: true
})

const byPath = (a: CrawlDirectory, b: CrawlDirectory) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)

/**
 * The directories a crawl of `mode` checks (targeted: those wanted), by path. A full crawl resuming a pass cut short
 * (`resumeAfter`, docs/crawler.md#time-limit-and-resuming) starts with the first after it and wraps round to the
 * first of all.
 */
export const directoriesToCheck = (
  directories: ReadonlyArray<CrawlDirectory>,
  mode: CrawlReport["mode"],
  wanted: ReadonlySet<string> | undefined,
  resumeAfter: string | null = null
): Array<CrawlDirectory> => {
  const sorted = directories
    .filter((d) =>
      mode === "repodata" ? isRepodata(d.path) : mode === "targeted" ? wanted?.has(d.path) === true : true
    )
    .toSorted(byPath)
  if (resumeAfter === null) return sorted
  const after = sorted.findIndex((d) => d.path > resumeAfter)
  return after <= 0 ? sorted : [...sorted.slice(after), ...sorted.slice(0, after)]
}

/**
 * Where the host category's next full crawl starts (docs/crawler.md#time-limit-and-resuming), after a full crawl's
 * report of it: `null` once a pass covered every directory (the next starts from the first; a report without a pass
 * is a whole one), else after the last directory this one covered (or where this one started, had it covered none).
 * Undefined: nothing to record (the category not accessible).
 */
export const resumePoint = (category: CrawledCategory): { readonly resumeAfter: string | null } | undefined => {
  const { pass } = category
  if (!category.accessible) return undefined
  if (pass === undefined || pass.complete) return { resumeAfter: null }
  return { resumeAfter: category.directories.at(-1)?.path ?? pass.from }
}

/**
 * What a full crawl's sweep ("what was not confirmed is not up to date", docs/crawler.md#how-a-host-is-crawled) takes
 * out of date in an accessible category: after a complete pass, every directory of the host category but the
 * `confirmed` ones (found up to date); after a pass cut short by the time limit, only the `covered` directories that
 * were not found up to date: those it did not reach keep their state.
 */
export type FullSweep =
  | { readonly range: "all"; readonly confirmed: ReadonlyArray<CrawledDirectory> }
  | { readonly range: "covered"; readonly unconfirmed: ReadonlyArray<CrawledDirectory> }

export const fullSweep = (category: CrawledCategory): FullSweep =>
  category.pass === undefined || category.pass.complete
    ? { range: "all", confirmed: category.directories.filter((d) => d.result === "upToDate") }
    : { range: "covered", unconfirmed: category.directories.filter((d) => d.result !== "upToDate") }

/**
 * What a full crawl says of the host's standing (docs/crawler.md#failures-and-switching-off): `good` resets the
 * failures and switches a host the crawler switched off on again, `failed` counts a failure, `none` changes nothing.
 * A crawl stopped by its time limit fails nothing: it is good when it reached the host's directories, else nothing.
 */
export const crawlStanding = (report: CrawlReport): "good" | "failed" | "none" =>
  report.mode !== "full"
    ? "none"
    : report.status === "ok"
      ? "good"
      : report.status === "failure"
        ? "failed"
        : report.status === "timeout" && report.categories.some((c) => c.accessible)
          ? "good"
          : "none"

/** Said in the crawl log of a category whose directories count as up to date whatever they hold. */
export const ALWAYS_UP_TO_DATE_NOTE = "always up to date (alwaysUp2date): its base URLs checked, its directories not"

/** Said in the crawl log when directories are kept as they were (the load budget). */
export const keptNote = (kept: number) =>
  `${kept} directories found up to date lately and unchanged on the master since: not asked again`

export interface BaseCheck {
  /** The URL answers (over some family) with a valid certificate. */
  readonly serves: boolean
  /** It could not be checked from here (the resolver failing, no route): nothing is known of it. */
  readonly ourSide: boolean
}

/** A base URL whose name does not resolve: its log entry, what is reported of it, and the check. */
export const unresolvedBaseUrl = (
  hostCategoryId: HostCategoryId,
  raw: string,
  found: { readonly error?: string; readonly ourSide: boolean }
): { readonly entry: CrawlLogEntry; readonly url: CrawledUrl; readonly check: BaseCheck } => {
  const known = found.ourSide ? null : false
  return {
    entry: {
      url: `${raw.replace(/\/+$/, "")}/`,
      method: "HEAD",
      status: 0,
      result: `the name does not resolve (${found.error})`,
      ms: 0
    },
    url: {
      hostCategoryId,
      url: raw,
      reachable: known,
      ipv4: known,
      ipv6: known,
      tlsValid: null,
      tlsExpiresAt: null,
      tlsExpiresSoon: null
    },
    check: { serves: false, ourSide: found.ourSide }
  }
}

/**
 * The base check of one URL (docs/crawler.md#how-a-host-is-crawled, docs/crawler.md#address-families-and-tls) from its
 * answers over each family its name has addresses in: a mirror whose IPv6 address does not answer is known not to serve
 * IPv6. What this machine could not find out (no route of a family from here) stays unknown.
 */
export const baseUrlVerdict = (
  hostCategoryId: HostCategoryId,
  raw: string,
  answers: ReadonlyMap<4 | 6, MirrorAnswer>,
  now: number,
  tlsWarnDays: number
): { readonly url: CrawledUrl; readonly check: BaseCheck } => {
  const all = [...answers.values()]
  const refused = all.some((a) => a.refused === true)
  const reachable = all.some(serves)
  const ourSide = !reachable && all.every((a) => a.ourSide === true)
  const answered = (family: 4 | 6) => {
    const answer = answers.get(family)
    if (answer === undefined) return false
    return answer.ourSide === true ? null : serves(answer)
  }
  const tlsInvalid = all.some((a) => a.tlsInvalid === true)
  // The earliest, should the families reach servers with different certificates.
  const expiries = all.flatMap((a) => (a.tlsExpiresAt === undefined ? [] : [a.tlsExpiresAt]))
  const expiresAt = expiries.length === 0 ? undefined : Math.min(...expiries)
  return {
    url: {
      hostCategoryId,
      url: raw,
      reachable: refused || ourSide ? null : reachable,
      ipv4: refused ? null : answered(4),
      ipv6: refused ? null : answered(6),
      tlsValid: !raw.startsWith("https:") || refused ? null : tlsInvalid ? false : reachable ? true : null,
      tlsExpiresAt: expiresAt ?? null,
      tlsExpiresSoon: expiresAt === undefined ? null : expiresAt * 1000 < now + tlsWarnDays * 86_400_000
    },
    check: { serves: reachable && !tlsInvalid, ourSide }
  }
}

/**
 * The request a failed crawl is blamed on: the last one that got no answer or an error status. Notes (an
 * always-up-to-date category's, directories not asked again) are in the log with status 0 but record no request:
 * never blamed.
 */
export const blamedRequest = (
  log: ReadonlyArray<CrawlLogEntry>,
  notes: ReadonlySet<CrawlLogEntry>
): CrawlLogEntry | undefined =>
  log.findLast((entry) => !notes.has(entry) && (entry.status === 0 || entry.status >= 400))

/** The host's status once its categories were crawled, and the reason said for it. */
export const hostVerdict = (crawled: {
  readonly categories: ReadonlyArray<CrawledCategory>
  /** Categories not accessible only because of this machine (its resolver, its routes). */
  readonly couldNotCheck: number
  readonly urls: number
  readonly log: ReadonlyArray<CrawlLogEntry>
  readonly notes: ReadonlySet<CrawlLogEntry>
}): { readonly status: CrawlReport["status"]; readonly reason: string | null } => {
  const { categories, log, notes } = crawled
  if (categories.length === 0) return { status: "unknown", reason: "the host has no categories to crawl" }
  if (categories.some((c) => c.accessible)) return { status: "ok", reason: null }
  if (crawled.couldNotCheck === categories.length) {
    // Nothing failed on the mirror's side: this machine could not resolve or reach it. Not held against it.
    const last = log.findLast((entry) => !notes.has(entry))
    return {
      status: "unknown",
      reason: `could not check from here${last === undefined ? "" : ` (last: ${last.url}: ${last.result})`}`
    }
  }
  if (crawled.urls === 0) {
    return {
      status: "failure",
      reason: "no base URL answered: the host has no public http(s) base URL to check"
    }
  }
  const last = blamedRequest(log, notes)
  return {
    status: "failure",
    reason: `no base URL answered${last === undefined ? "" : ` (last: ${last.url}: ${last.status === 0 ? "" : `${last.status} `}${last.result})`}`
  }
}

/**
 * A crawl that did not end: the run's time, or a crawl stopped from outside, is ours to blame, not the mirror's:
 * nothing changes (docs/crawler.md#results UNKNOWN).
 */
export const unfinishedVerdict = (
  why: "stopped" | "run's time"
): { readonly status: CrawlReport["status"]; readonly reason: string } =>
  why === "stopped"
    ? { status: "unknown", reason: "stopped before the end" }
    : { status: "unknown", reason: "the crawl run's time ran out before this host was done" }

/** A duration as the crawl log says it ("120 min", "1.5 s"). */
const limitText = (ms: number) => (ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${ms / 1000} s`)

/**
 * A crawl stopped by the host's time limit (docs/crawler.md#time-limit-and-resuming): a timeout, not a failure. What
 * it covered is kept; the reason says how far it got and where the next full crawl resumes.
 */
export const timedOutVerdict = (
  crawled: ReadonlyArray<CrawledCategory>,
  /** Directories the crawl had to check, per host category. */
  toCheck: ReadonlyMap<HostCategoryId, number>,
  limitMs: number
): { readonly status: CrawlReport["status"]; readonly reason: string } => {
  const covered = crawled.reduce((n, c) => n + c.directories.length, 0)
  const total = [...toCheck.values()].reduce((n, count) => n + count, 0)
  const cut = crawled.find((c) => c.pass !== undefined && !c.pass.complete)
  const resume = cut === undefined ? undefined : resumePoint(cut)?.resumeAfter
  const where =
    cut === undefined
      ? ""
      : `; the next full crawl resumes in host category ${cut.hostCategoryId} after ${resume === null || resume === undefined ? "its start" : `"${resume}"`}`
  return {
    status: "timeout",
    reason: `stopped at the host's time limit (${limitText(limitMs)}) after ${covered} of ${total} directories${where}`
  }
}

/** Said in the crawl log when a crawl stops at the host's time limit: how far it got in the category. */
export const timeLimitNote = (covered: number, of: number, last: string | undefined) =>
  `stopped at the host's time limit: ${covered} of ${of} directories of this category covered${last === undefined ? "" : `, the last "${last}"`}`

/** Entries of a crawl stopped by its time limit kept from the end of its log: where it stopped. */
const LOG_TAIL_KEPT = 20

/**
 * The entries of a crawl's log that its crawl log keeps (docs/crawler.md#crawl-log): the first `limit`; of a crawl
 * stopped by its time limit, the last few in place of as many of those, so it says where and why it stopped.
 */
export const logKept = (
  log: ReadonlyArray<CrawlLogEntry>,
  status: CrawlReport["status"],
  limit: number
): ReadonlyArray<CrawlLogEntry> => {
  if (log.length <= limit) return log
  if (status !== "timeout") return log.slice(0, limit)
  const tail = Math.min(LOG_TAIL_KEPT, limit)
  return [...log.slice(0, limit - tail), ...log.slice(log.length - tail)]
}
