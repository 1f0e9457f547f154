// Scheduled crawls (SPEC 7.1), run by one node of the cluster at a time (a cluster singleton): each round first
// verifies what public hosts claimed in their check-ins (a targeted crawl of the claimed directories), then crawls
// every active public host in full, spread over the interval, a bounded number at once. Each crawl runs in the
// host's entity, wherever it lives.
import { HostEntity } from "@mirrormanager/domain/cluster/HostEntity"
import { Duration, Effect, Fiber, Layer, Schedule, Semaphore } from "effect"
import { Singleton } from "effect/cluster"
import { SqlClient } from "effect/sql"

export interface CrawlScheduleOptions {
  /** Between full crawls of a host; zero: no scheduled crawls. */
  readonly interval: Duration.Duration
  /** Hosts crawled at once, cluster-wide. */
  readonly parallel: number
  /** How often claims waiting for verification are looked for. */
  readonly verifyEvery: Duration.Duration
}

export const defaultCrawlScheduleOptions: CrawlScheduleOptions = {
  interval: Duration.hours(12),
  parallel: 50,
  verifyEvery: Duration.minutes(1)
}

export const CrawlScheduleLayer = (options: CrawlScheduleOptions) =>
  Duration.isZero(options.interval)
    ? Layer.effectDiscard(Effect.logInfo("scheduled crawls are off (MM_CRAWL_INTERVAL is zero)"))
    : Singleton.make(
        "mirrormanager/CrawlSchedule",
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const hosts = yield* HostEntity.client
          const crawl = (
            hostId: number,
            mode: "full" | "targeted",
            targets: ReadonlyArray<{ hostCategoryId: number; paths: ReadonlyArray<string> }>
          ) =>
            hosts(String(hostId))
              .Crawl({ mode, targets })
              .pipe(
                Effect.tap((summary) =>
                  Effect.logInfo("scheduled crawl").pipe(Effect.annotateLogs({ hostId, mode, status: summary.status }))
                ),
                Effect.catchCause((cause) => Effect.logWarning("scheduled crawl failed", cause)),
                Effect.asVoid
              )

          /** Check-in claims waiting for a crawl: a targeted crawl of what was claimed. */
          const verify = Effect.gen(function* () {
            const claims = yield* sql<{ hostId: number; hostCategoryId: number; paths: ReadonlyArray<string> }>`
              SELECT hc.host_id AS "hostId", c.host_category_id AS "hostCategoryId", c.paths
              FROM host_category_claims c JOIN host_categories hc ON hc.id = c.host_category_id
              JOIN hosts h ON h.id = hc.host_id
              WHERE c.verification_due AND h.admin_active AND NOT h.private
              ORDER BY c.reported_at`
            const byHost = new Map<number, Array<{ hostCategoryId: number; paths: ReadonlyArray<string> }>>()
            for (const claim of claims) {
              const list = byHost.get(claim.hostId) ?? []
              list.push({ hostCategoryId: claim.hostCategoryId, paths: claim.paths })
              byHost.set(claim.hostId, list)
            }
            yield* Effect.forEach([...byHost], ([hostId, targets]) => crawl(hostId, "targeted", targets), {
              concurrency: options.parallel,
              discard: true
            })
          }).pipe(Effect.catchCause((cause) => Effect.logError("verifying check-in claims failed", cause)))

          /** Every active public host in full, spread over the interval. */
          const full = Effect.gen(function* () {
            const due = yield* sql<{ id: number }>`
              SELECT h.id FROM hosts h JOIN sites s ON s.id = h.site_id
              WHERE h.admin_active AND (h.user_active OR h.disabled_by = 'crawler') AND NOT h.private
                AND s.admin_active AND s.user_active
              ORDER BY h.last_crawl_duration DESC NULLS FIRST, h.id`
            if (due.length === 0) return yield* Effect.sleep(options.interval)
            // One host started every interval / hosts, at most `parallel` crawling at once.
            const spacing = Duration.millis(Duration.toMillis(options.interval) / due.length)
            const slots = yield* Semaphore.make(options.parallel)
            const fibers: Array<Fiber.Fiber<void>> = []
            for (const { id } of due) {
              fibers.push(yield* Effect.forkChild(slots.withPermits(1)(crawl(id, "full", []))))
              yield* Effect.sleep(spacing)
            }
            yield* Fiber.awaitAll(fibers)
          }).pipe(
            // A round that could not start (the database away) is tried again a minute later.
            Effect.catchCause((cause) =>
              Effect.logError("scheduled crawls failed", cause).pipe(Effect.andThen(Effect.sleep(Duration.minutes(1))))
            )
          )

          yield* verify.pipe(Effect.repeat(Schedule.spaced(options.verifyEvery)), Effect.forkScoped)
          // A round spreads its hosts over the interval, so the next one starts when it ends.
          yield* Effect.forever(full)
        })
      )
