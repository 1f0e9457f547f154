// Scheduled crawls (docs/crawler.md#schedule), run by one node of the cluster at a time (a cluster singleton): check-in
// claims of public hosts verified first (a targeted crawl of the claimed directories, looked for every minute); then
// rounds of full crawls (every 12 h), repodata crawls (every 2 h) and canary checks (hourly) of every active public
// host, each round's hosts spread over its interval and a bounded number crawling at once across all rounds. Hosts the
// crawler switched off are crawled in full at a reduced rate (daily) so they can recover. Each crawl runs in the host's
// entity, wherever it lives.
import { HostEntity } from "@mirrormanager/domain/host"
import type { HostCategoryId } from "@mirrormanager/domain/registry"
import { Duration, Effect, Layer, Schedule, Semaphore } from "effect"
import { Singleton } from "effect/cluster"
import { SqlClient } from "effect/sql"
import { defaultCrawlOptions } from "./Crawler.ts"
import { type CrawlRunMode, hostsToCrawl, runCrawls } from "./CrawlRun.ts"

export interface CrawlScheduleOptions {
  /** Between full crawls of a host; zero: no scheduled crawls at all. */
  readonly interval: Duration.Duration
  /** Between repodata crawls; zero: none. */
  readonly repodataInterval: Duration.Duration
  /** Between canary checks; zero: none. */
  readonly canaryInterval: Duration.Duration
  /** Hosts switched off by the crawler are crawled in full at most this often. */
  readonly disabledInterval: Duration.Duration
  /** Hosts crawled at once, cluster-wide. */
  readonly parallel: number
  /** How often claims waiting for verification are looked for. */
  readonly verifyEvery: Duration.Duration
  /** The crawler's time limit per host (a round leaves each host this long before the next round is due). */
  readonly hostTimeout: Duration.Duration
}

export const defaultCrawlScheduleOptions: CrawlScheduleOptions = {
  interval: Duration.hours(12),
  repodataInterval: Duration.hours(2),
  canaryInterval: Duration.hours(1),
  disabledInterval: Duration.hours(24),
  parallel: 50,
  verifyEvery: Duration.minutes(1),
  hostTimeout: Duration.millis(defaultCrawlOptions.hostTimeoutMs)
}

export const CrawlScheduleLayer = (options: CrawlScheduleOptions) =>
  Duration.isZero(options.interval)
    ? Layer.effectDiscard(Effect.logInfo("scheduled crawls are off (MM_CRAWL_INTERVAL is zero)"))
    : Singleton.make(
        "mirrormanager/CrawlSchedule",
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const hosts = yield* HostEntity.client
          const slots = yield* Semaphore.make(Math.max(1, options.parallel))

          /** Check-in claims waiting for a crawl: a targeted crawl of what was claimed. */
          const verify = Effect.gen(function* () {
            const claims = yield* sql<{ hostId: number; hostCategoryId: HostCategoryId; paths: ReadonlyArray<string> }>`
              SELECT hc.host_id AS "hostId", c.host_category_id AS "hostCategoryId", c.paths
              FROM host_category_claims c JOIN host_categories hc ON hc.id = c.host_category_id
              JOIN hosts h ON h.id = hc.host_id
              WHERE c.verification_due AND h.admin_active AND NOT h.private
              ORDER BY c.reported_at`
            const byHost = new Map<number, Array<{ hostCategoryId: HostCategoryId; paths: ReadonlyArray<string> }>>()
            for (const claim of claims) {
              const list = byHost.get(claim.hostId) ?? []
              list.push({ hostCategoryId: claim.hostCategoryId, paths: claim.paths })
              byHost.set(claim.hostId, list)
            }
            yield* Effect.forEach(
              [...byHost],
              ([hostId, targets]) =>
                hosts(String(hostId))
                  .Crawl({ mode: "targeted", targets })
                  .pipe(
                    Effect.tap((summary) =>
                      Effect.logInfo("check-in claim verified").pipe(
                        Effect.annotateLogs({ hostId, status: summary.status })
                      )
                    ),
                    Effect.catchCause((cause) => Effect.logWarning("verifying a check-in claim failed", cause)),
                    // Within the same limit as the rounds' crawls.
                    slots.withPermits(1)
                  ),
              { concurrency: options.parallel, discard: true }
            )
          }).pipe(Effect.catchCause((cause) => Effect.logError("verifying check-in claims failed", cause)))

          /**
           * One round of `mode`: its hosts started one by one over the interval less the host time limit, so each
           * has that long before the next round is due (when the round's time runs out); the next round starts an
           * interval after this one did.
           */
          const round = (mode: CrawlRunMode, interval: Duration.Duration) => {
            let first = true
            return Effect.gen(function* () {
              const started = Date.now()
              const every = Duration.toMillis(interval)
              const due = yield* hostsToCrawl(sql, {
                mode,
                // Judged as each round starts: a host switched off just after one round is crawled in the round
                // closest to a day later, not the one after it.
                disabledEvery: Duration.millis(Math.max(0, Duration.toMillis(options.disabledInterval) - every / 2)),
                // The first round after the schedule (re)started on this node leaves out what was crawled lately, so
                // a schedule taken over by another node does not crawl the same hosts again.
                ...(first ? { notCrawledWithin: Duration.millis(every / 2) } : {})
              })
              const hostTime = Duration.toMillis(options.hostTimeout)
              const spreadOver = every > 2 * hostTime ? every - hostTime : every / 2
              if (due.length > 0) {
                yield* Effect.logInfo("crawl round started").pipe(Effect.annotateLogs({ mode, hosts: due.length }))
                const summary = yield* runCrawls(due, {
                  mode,
                  parallel: options.parallel,
                  slots,
                  // Scheduled crawls spare the mirrors what they were found to carry lately
                  // (docs/crawler.md#limits-and-politeness).
                  budget: true,
                  deadline: started + every,
                  spacing: Duration.millis(spreadOver / due.length)
                })
                yield* Effect.logInfo("crawl round ended").pipe(Effect.annotateLogs({ ...summary }))
              }
              first = false
              yield* Effect.sleep(Duration.millis(Math.max(0, started + every - Date.now())))
            }).pipe(
              // A round that could not start (the database away) is tried again a minute later.
              Effect.catchCause((cause) =>
                Effect.logError("scheduled crawls failed", cause).pipe(
                  Effect.andThen(Effect.sleep(Duration.minutes(1)))
                )
              ),
              Effect.forever
            )
          }

          yield* verify.pipe(Effect.repeat(Schedule.spaced(options.verifyEvery)), Effect.forkScoped)
          if (!Duration.isZero(options.repodataInterval)) {
            yield* Effect.forkScoped(round("repodata", options.repodataInterval))
          }
          if (!Duration.isZero(options.canaryInterval)) {
            yield* Effect.forkScoped(round("canary", options.canaryInterval))
          }
          return yield* round("full", options.interval)
        })
      )
