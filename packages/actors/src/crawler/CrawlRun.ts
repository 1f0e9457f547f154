// A crawl run (docs/crawler.md#schedule): many hosts crawled, each by its own entity wherever it lives, a bounded
// number at once, all within the run's time (the global timeout: a host not started by then is skipped, one still
// crawling ends unknown). Used by the schedule's rounds and by `mirrormanager crawl`; reports each host as it ends and
// sums up, and records the propagation picture after full and repodata runs.
import { HostEntity, NOTHING_CRAWLED } from "@mirrormanager/domain/host"
import { Duration, Effect, Fiber, Semaphore } from "effect"
import type { SqlClient } from "effect/sql"
import { Propagation } from "./Propagation.ts"

export type CrawlRunMode = "full" | "repodata" | "canary"

/** One host's crawl as the run saw it end. */
export interface CrawledHost {
  readonly hostId: number
  readonly hostName: string
  readonly status: "ok" | "failure" | "timeout" | "unknown" | "skipped" | "error"
  readonly reason: string | null
  readonly directoriesUpToDate: number
  readonly directoriesStale: number
  readonly directoriesUnknown: number
  /** Base URLs checked, and of them those usable (answering, certificate valid). */
  readonly baseUrls: number
  readonly baseUrlsUsable: number
  /** Categories whose directories count as up to date without being checked (`alwaysUp2date`). */
  readonly categoriesAlwaysUpToDate: number
  readonly requests: number
  readonly durationMs: number
}

export interface CrawlRunSummary {
  readonly mode: CrawlRunMode
  readonly hosts: number
  readonly ok: number
  readonly failure: number
  readonly timeout: number
  readonly unknown: number
  /** Not started before the run's time ran out. */
  readonly skipped: number
  /** The host's entity could not be reached, or the host was deleted meanwhile. */
  readonly errors: number
  readonly directoriesUpToDate: number
  readonly directoriesStale: number
  readonly directoriesUnknown: number
  readonly baseUrls: number
  readonly baseUrlsUsable: number
  readonly requests: number
  readonly durationMs: number
  /** Repositories whose propagation was recorded at the end (full and repodata runs). */
  readonly propagationRecorded: number
}

export interface CrawlRunOptions {
  readonly mode: CrawlRunMode
  /** Only these categories (names) of each host. */
  readonly categories?: ReadonlyArray<string> | undefined
  /** Hosts crawled at once. */
  readonly parallel: number
  /** Shared with other runs (the schedule's rounds): at most its permits crawling at once across them. */
  readonly slots?: Semaphore.Semaphore | undefined
  /** When the run ends (epoch ms). */
  readonly deadline: number
  /** Between host starts (a round spread over its interval); none: as fast as `parallel` allows. */
  readonly spacing?: Duration.Duration | undefined
  /** Called as each host's crawl ends, with how many have ended. */
  readonly onCrawled?: ((host: CrawledHost, done: number, total: number) => Effect.Effect<void>) | undefined
  /** Apply the load budget: directories found up to date lately and unchanged since are not asked again. */
  readonly budget?: boolean | undefined
  /** Called as each host's crawl starts. */
  readonly onStarted?: ((host: HostToCrawl) => Effect.Effect<void>) | undefined
}

/** How long past a run's deadline a crawl's reply is waited for. */
const REPLY_GRACE_MS = 5 * 60_000

export interface HostToCrawl {
  readonly id: number
  readonly name: string
}

/** The hosts a run crawls, slowest first so long crawls end within the run (docs/crawler.md#schedule). */
export const hostsToCrawl = (
  sql: SqlClient.SqlClient,
  select: {
    readonly mode: CrawlRunMode
    /** Crawler-disabled hosts crawled at most this often (all of them when undefined). */
    readonly disabledEvery?: Duration.Duration | undefined
    /** An explicit request: these hosts, whatever their state. */
    readonly hostIds?: ReadonlyArray<number> | undefined
    /** Only hosts carrying this category (name, any case). */
    readonly category?: string | undefined
    /** Leave out hosts crawled in this mode within this time (a round restarted with a new node, say). */
    readonly notCrawledWithin?: Duration.Duration | undefined
  }
) => {
  const recovering =
    select.mode !== "full"
      ? sql`false`
      : select.disabledEvery === undefined
        ? sql`h.disabled_by = 'crawler'`
        : // Its last full crawl (claim verifications and other modes do not count: only a full crawl switches it on).
          sql`h.disabled_by = 'crawler' AND NOT EXISTS (SELECT 1 FROM host_crawl_logs l
            WHERE l.host_id = h.id AND l.mode = 'full'
              AND l.started_at > now() - make_interval(secs => ${Duration.toSeconds(select.disabledEvery)}))`
  const which =
    select.hostIds !== undefined
      ? sql`h.id IN (SELECT value::int FROM jsonb_array_elements_text(${JSON.stringify(select.hostIds)}::jsonb))`
      : sql`h.admin_active AND (h.user_active OR (${recovering})) AND NOT h.private AND NOT s.private
          AND s.admin_active AND s.user_active`
  const carrying =
    select.category === undefined
      ? sql`true`
      : sql`EXISTS (SELECT 1 FROM host_categories hc JOIN categories c ON c.id = hc.category_id
          WHERE hc.host_id = h.id AND lower(c.name) = lower(${select.category}))`
  const due =
    select.notCrawledWithin === undefined
      ? sql`true`
      : sql`NOT EXISTS (SELECT 1 FROM host_crawl_logs l WHERE l.host_id = h.id AND l.mode = ${select.mode}
          AND l.started_at > now() - make_interval(secs => ${Duration.toSeconds(select.notCrawledWithin)}))`
  return sql<HostToCrawl>`
    SELECT h.id, h.name FROM hosts h JOIN sites s ON s.id = h.site_id
    WHERE ${which} AND ${carrying} AND ${due}
    ORDER BY h.last_crawl_duration DESC NULLS FIRST, h.id`
}

/** Crawls `hosts` as `options` say; never fails (a host that could not be crawled is counted as an error). */
export const runCrawls = (hosts: ReadonlyArray<HostToCrawl>, options: CrawlRunOptions) =>
  Effect.gen(function* () {
    const propagation = yield* Propagation
    const entities = yield* HostEntity.client
    const started = Date.now()
    const slots = options.slots ?? (yield* Semaphore.make(Math.max(1, options.parallel)))
    const ended: Array<CrawledHost> = []

    const crawlOne = (host: HostToCrawl) =>
      Effect.gen(function* () {
        const began = Date.now()
        if (began < options.deadline && options.onStarted !== undefined) yield* options.onStarted(host)
        const result: CrawledHost =
          began >= options.deadline
            ? { hostId: host.id, hostName: host.name, status: "skipped", reason: null, ...NOTHING_CRAWLED }
            : yield* entities(String(host.id))
                .Crawl({
                  mode: options.mode,
                  targets: [],
                  runDeadline: options.deadline,
                  ...(options.budget === true ? { budget: true } : {}),
                  ...(options.categories === undefined ? {} : { categories: options.categories })
                })
                .pipe(
                  // The entity ends its crawl by the deadline; a reply lost with a node that died is not waited
                  // for past it.
                  Effect.timeout(Duration.millis(Math.max(0, options.deadline - began) + REPLY_GRACE_MS)),
                  Effect.map((summary): CrawledHost => ({ hostId: host.id, hostName: host.name, ...summary })),
                  Effect.catchCause((cause) =>
                    Effect.logWarning("a host could not be crawled", cause).pipe(
                      Effect.annotateLogs({ hostId: host.id }),
                      Effect.as<CrawledHost>({
                        hostId: host.id,
                        hostName: host.name,
                        status: "error",
                        ...NOTHING_CRAWLED,
                        reason: "its entity could not be reached or did not answer, or it was deleted",
                        durationMs: Date.now() - began
                      })
                    )
                  )
                )
        ended.push(result)
        if (options.onCrawled !== undefined) yield* options.onCrawled(result, ended.length, hosts.length)
      })

    const fibers: Array<Fiber.Fiber<void>> = []
    for (const [i, host] of hosts.entries()) {
      fibers.push(yield* Effect.forkChild(slots.withPermits(1)(crawlOne(host))))
      if (options.spacing !== undefined && i < hosts.length - 1) yield* Effect.sleep(options.spacing)
    }
    yield* Fiber.awaitAll(fibers)

    const count = (status: CrawledHost["status"]) => ended.filter((h) => h.status === status).length
    const sum = (
      field:
        | "directoriesUpToDate"
        | "directoriesStale"
        | "directoriesUnknown"
        | "baseUrls"
        | "baseUrlsUsable"
        | "requests"
    ) => ended.reduce((total, h) => total + h[field], 0)
    const propagationRecorded =
      options.mode === "canary" || hosts.length === 0
        ? 0
        : yield* propagation
            .record()
            .pipe(
              Effect.catchCause((cause) => Effect.logError("recording propagation failed", cause).pipe(Effect.as(0)))
            )
    return {
      mode: options.mode,
      hosts: hosts.length,
      ok: count("ok"),
      failure: count("failure"),
      timeout: count("timeout"),
      unknown: count("unknown"),
      skipped: count("skipped"),
      errors: count("error"),
      directoriesUpToDate: sum("directoriesUpToDate"),
      directoriesStale: sum("directoriesStale"),
      directoriesUnknown: sum("directoriesUnknown"),
      baseUrls: sum("baseUrls"),
      baseUrlsUsable: sum("baseUrlsUsable"),
      requests: sum("requests"),
      durationMs: Date.now() - started,
      propagationRecorded
    } satisfies CrawlRunSummary
  })
