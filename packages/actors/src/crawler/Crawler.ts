// The crawl of one host (docs/crawler.md#how-a-host-is-crawled): per category, the base URLs checked, then each
// directory's files checked through the first base URL that answers (HEAD, keep-alive, a bounded number of connections
// per mirror), and repomd.xml downloaded and its sha256 compared with the newest file detail or any retained alternate.
// Everything a mirror sends is bounded: time per request and per host, bytes, redirects. The outcome is a CrawlReport
// for the host's entity and a log of what was asked and answered. The asking is the MirrorClient's (MirrorClient.ts),
// what the answers mean the verdicts' (CrawlVerdicts.ts); this file puts them in order.
import type {
  CrawledCategory,
  CrawledDirectory,
  CrawledUrl,
  CrawlLogEntry,
  CrawlMode,
  CrawlReport
} from "@mirrormanager/domain/host"
import type { HostCategoryId, HostId } from "@mirrormanager/domain/registry"
import {
  ALWAYS_UP_TO_DATE_NOTE,
  type BaseCheck,
  baseUrlVerdict,
  type CrawlDirectory,
  crawledDirectory,
  directoriesToCheck,
  fileVerdict,
  hostVerdict,
  keptDirectory,
  keptNote,
  type RepomdDetail,
  repomdVerdict,
  timedOutVerdict,
  timeLimitNote,
  unfinishedVerdict,
  unresolvedBaseUrl
} from "./CrawlVerdicts.ts"
import {
  type MirrorAnswer,
  type MirrorClientShape,
  type MirrorRequestLimits,
  type MirrorSession,
  OutOfTime,
  Stopped
} from "./MirrorClient.ts"

export interface CrawlCategory {
  readonly hostCategoryId: HostCategoryId
  /** `alwaysUp2date`: its directories count as up to date; only its base URLs are checked. */
  readonly alwaysUpToDate: boolean
  /** http(s) base URLs of the category on the mirror, https first. */
  readonly urls: ReadonlyArray<string>
  /** What the crawl's mode checks (docs/crawler.md#modes): none for a canary crawl. */
  readonly directories: ReadonlyArray<CrawlDirectory>
  /**
   * A full crawl: the last directory (path) the last full crawl covered before its time ran out; this one starts with
   * the next (docs/crawler.md#time-limit-and-resuming). Null or absent: from the first.
   */
  readonly resumeAfter?: string | null | undefined
}

export interface CrawlTarget {
  readonly hostId: HostId
  readonly categories: ReadonlyArray<CrawlCategory>
}

export interface CrawlOptions extends MirrorRequestLimits {
  readonly mode: CrawlMode
  /** For a targeted crawl: the directories to check, per host category (paths below the top). */
  readonly targets?: ReadonlyMap<number, ReadonlySet<string>>
  /**
   * An https certificate expiring within this many days is reported as expiring soon
   * (docs/crawler.md#address-families-and-tls).
   */
  readonly tlsWarnDays: number
  /**
   * The load budget (docs/crawler.md#limits-and-politeness): in a scheduled full crawl, a directory found up to date
   * within this time and unchanged on the master since is not asked again (repodata directories always are).
   */
  readonly recheckAfterMs: number
}

export const defaultCrawlOptions: CrawlOptions = {
  mode: "full",
  requestTimeoutMs: 30_000,
  hostTimeoutMs: 120 * 60_000,
  connectionsPerHost: 2,
  maxRepomdBytes: 10 * 1024 * 1024,
  maxRedirects: 3,
  retries: 3,
  allowPrivateAddresses: false,
  userAgent: "mirrormanager-crawler/0.1 (+https://github.com/mirrormanager)",
  tlsWarnDays: 14,
  recheckAfterMs: 24 * 3_600_000
}

export interface CrawlOutcome {
  readonly report: CrawlReport
  readonly log: ReadonlyArray<CrawlLogEntry>
  readonly requests: number
}

/** Adds a verdict's reason to the crawl log entry of the answer it was drawn from. */
const explain = (answer: MirrorAnswer, why: string | undefined): void => {
  if (answer.entry !== undefined && why !== undefined) answer.entry.result += `; ${why}`
}

/** A file of a directory against the master's size. */
const checkFile = async (mirror: MirrorSession, base: string, file: CrawlDirectory["files"][number]) => {
  const url = `${base}/${encodeURIComponent(file.name)}`
  const { answer, ranged } = await mirror.askFile(url)
  const verdict = fileVerdict(file, answer, ranged)
  explain(answer, verdict.why)
  return verdict.result
}

/** A directory's files in turn (repomd.xml downloaded and its hash compared), up to the first that is not ok. */
const checkDirectory = async (
  mirror: MirrorSession,
  base: string,
  directory: CrawlDirectory
): Promise<CrawledDirectory> => {
  const url = directory.path === "" ? base : `${base}/${directory.path.split("/").map(encodeURIComponent).join("/")}`
  let matched: RepomdDetail | undefined
  for (const file of directory.files) {
    if (file.name === "repomd.xml" && directory.repomd !== undefined) {
      const answer = await mirror.ask(`${url}/repomd.xml`, "GET")
      const verdict = repomdVerdict(directory.repomd, answer)
      explain(answer, verdict.why)
      if (verdict.result !== "matched") return crawledDirectory(directory, verdict.result)
      matched = verdict.matched
      continue
    }
    const result = await checkFile(mirror, url, file)
    if (result !== "ok") return crawledDirectory(directory, result)
  }
  return crawledDirectory(directory, "upToDate", matched)
}

/** A crawl under way: its way to the mirror, its options, and what it found and said so far. */
interface Crawl {
  readonly mirror: MirrorSession
  readonly options: CrawlOptions
  readonly log: Array<CrawlLogEntry>
  /** Entries of the log that say something of the crawl rather than of a request (status 0, no request made). */
  readonly notes: Set<CrawlLogEntry>
  readonly urls: Array<CrawledUrl>
}

const note = (crawl: Crawl, url: string, result: string) => {
  const entry: CrawlLogEntry = { url, method: "HEAD", status: 0, result, ms: 0 }
  crawl.notes.add(entry)
  crawl.log.push(entry)
}

/** A base URL asked (HEAD) over each family its name has addresses in; what was found of it is reported. */
const checkBase = async (crawl: Crawl, hostCategoryId: HostCategoryId, raw: string): Promise<BaseCheck> => {
  const url = raw.replace(/\/+$/, "")
  const found = await crawl.mirror.addressesOf(new URL(url))
  if (found.all.length === 0) {
    const unresolved = unresolvedBaseUrl(hostCategoryId, raw, found)
    crawl.log.push(unresolved.entry)
    crawl.urls.push(unresolved.url)
    return unresolved.check
  }
  const families = ([4, 6] as const).filter((family) => found.all.some((a) => a.family === family))
  const answers = new Map<4 | 6, MirrorAnswer>()
  for (const family of families) answers.set(family, await crawl.mirror.ask(`${url}/`, "HEAD", {}, family))
  const verdict = baseUrlVerdict(hostCategoryId, raw, answers, Date.now(), crawl.options.tlsWarnDays)
  crawl.urls.push(verdict.url)
  return verdict.check
}

/** What a category's crawl found; `stopped`: it stopped before the end, and why (its time, its signal, a bug). */
interface CategoryCrawl {
  readonly crawled: CrawledCategory
  /** Not accessible only because of this machine (its resolver, its routes). */
  readonly ourSideOnly: boolean
  readonly stopped?: { readonly by: unknown }
}

/**
 * A category: every base URL checked, an always-up-to-date category's too (reachability, families, certificates:
 * what puts a URL in the lists or keeps it out); its directories checked through the first that serves, in path
 * order (a full crawl from where the last one stopped, docs/crawler.md#time-limit-and-resuming). Stopped before the
 * end, what it covered is reported: the directories done in its order up to the first not done.
 */
const crawlCategory = async (crawl: Crawl, category: CrawlCategory): Promise<CategoryCrawl> => {
  const { options } = crawl
  const skipped = { hostCategoryId: category.hostCategoryId, accessible: false, directories: [] }
  let base: string | undefined
  let ourSideOnly = category.urls.length > 0
  for (const raw of category.urls) {
    const checked = await checkBase(crawl, category.hostCategoryId, raw)
    if (checked.serves && base === undefined) base = raw.replace(/\/+$/, "")
    if (!checked.ourSide) ourSideOnly = false
  }
  if (base === undefined) return { crawled: skipped, ourSideOnly }
  const accessible = { crawled: { ...skipped, accessible: true }, ourSideOnly: false }
  if (category.alwaysUpToDate) {
    // Its directories count as up to date whatever they hold (docs/registry.md#data-model): nothing to ask of them.
    note(crawl, `${base}/`, ALWAYS_UP_TO_DATE_NOTE)
    return accessible
  }
  if (options.mode === "canary") return accessible
  const full = options.mode === "full"
  const from = full ? (category.resumeAfter ?? null) : null
  const directories = directoriesToCheck(
    category.directories,
    options.mode,
    options.targets?.get(category.hostCategoryId),
    from
  )
  const kept = full ? directories.filter((d) => d.kept !== undefined).length : 0
  if (kept > 0) note(crawl, `${base}/`, keptNote(kept))
  // As many directories at once as connections to the mirror, taken in order; each result in its place.
  const done = Array.from<CrawledDirectory | undefined>({ length: directories.length })
  let next = 0
  let stoppedBy: unknown
  let stopped = false
  const worker = async () => {
    while (!stopped && next < directories.length) {
      const i = next++
      const directory = directories[i]!
      if (full && directory.kept !== undefined) {
        done[i] = keptDirectory(directory)
        continue
      }
      try {
        done[i] = await checkDirectory(crawl.mirror, base, directory)
      } catch (error) {
        if (!stopped) stoppedBy = error
        stopped = true
      }
    }
  }
  await Promise.all(Array.from({ length: options.connectionsPerHost }, worker))
  const reached = done.indexOf(undefined)
  const covered = (reached === -1 ? done : done.slice(0, reached)) as Array<CrawledDirectory>
  if (stoppedBy instanceof OutOfTime && !stoppedBy.run) {
    note(crawl, `${base}/`, timeLimitNote(covered.length, directories.length, covered.at(-1)?.path))
  }
  return {
    crawled: {
      ...accessible.crawled,
      directories: covered,
      ...(full ? { pass: { from, complete: !stopped } } : {})
    },
    ourSideOnly: false,
    ...(stopped ? { stopped: { by: stoppedBy } } : {})
  }
}

/** Crawls one host; never throws: what could not be learned is `unknown` in the report and said in the log. */
export const crawlHost = async (
  client: MirrorClientShape,
  target: CrawlTarget,
  options: CrawlOptions
): Promise<CrawlOutcome> => {
  const started = Date.now()
  const log: Array<CrawlLogEntry> = []
  const crawl: Crawl = { mirror: client.open(options, log), options, log, notes: new Set(), urls: [] }
  const categories: Array<CrawledCategory> = []
  let couldNotCheck = 0
  let verdict: { readonly status: CrawlReport["status"]; readonly reason: string | null }
  try {
    for (const category of target.categories) {
      const { crawled, ourSideOnly, stopped } = await crawlCategory(crawl, category)
      if (stopped !== undefined) {
        // What the host's time limit cut short is kept as far as it got (docs/crawler.md#time-limit-and-resuming).
        if (stopped.by instanceof OutOfTime && !stopped.by.run) categories.push(crawled)
        throw stopped.by
      }
      categories.push(crawled)
      if (ourSideOnly) couldNotCheck++
    }
    verdict = hostVerdict({ categories, couldNotCheck, urls: crawl.urls.length, log, notes: crawl.notes })
  } catch (error) {
    if (!(error instanceof OutOfTime || error instanceof Stopped)) throw error
    if (error instanceof OutOfTime && !error.run) {
      const toCheck = new Map(
        target.categories.map((c) => [
          c.hostCategoryId,
          c.alwaysUpToDate || options.mode === "canary"
            ? 0
            : directoriesToCheck(c.directories, options.mode, options.targets?.get(c.hostCategoryId)).length
        ])
      )
      verdict = timedOutVerdict(categories, toCheck, options.hostTimeoutMs)
    } else {
      // Ours to blame: nothing of it is applied.
      verdict = unfinishedVerdict(error instanceof Stopped ? "stopped" : "run's time")
      categories.length = 0
    }
  } finally {
    crawl.mirror.close()
  }
  return {
    report: { mode: options.mode, ...verdict, durationMs: Date.now() - started, categories, urls: crawl.urls },
    log,
    requests: crawl.mirror.requests()
  }
}
