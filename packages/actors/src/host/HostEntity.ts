// The Host entity (protocol in domain/cluster/HostEntity.ts): one per host, on whichever node owns its shard. Its
// state is the host's rows in PostgreSQL, read within each message's transaction, so an entity that moves to
// another node after a failure goes on with nothing lost. Writes to the host (check-ins, crawl results) apply one at
// a time, in the order they arrive; one crawl runs at a time (another asked meanwhile is answered at once, not
// started), and while it asks the mirror (minutes, for a big one) check-ins and status questions are answered, its
// result waiting its turn among the writes.
import { type CrawlSummary, HostEntity, NOTHING_CRAWLED } from "@mirrormanager/domain/host"
import type { HostId } from "@mirrormanager/domain/registry"
import { Duration, Effect, Layer, Semaphore } from "effect"
import { Entity } from "effect/cluster"
import { CrawlMetrics, type CrawlOptions, crawlHost, defaultCrawlOptions, MirrorClient } from "../crawler/index.ts"
import { HostStore } from "./HostStore.ts"

/**
 * A crawl that did not happen, or whose result was not applied: unknown, which changes nothing
 * (docs/crawler.md#results).
 */
const notCrawled = (reason: string): CrawlSummary => ({ status: "unknown", reason, ...NOTHING_CRAWLED })

/** A fault of ours (a bug, the database failing while the result is written) ends the crawl unknown. */
const crawlFailedOnOurSide = (hostId: HostId, fault: unknown) =>
  Effect.logError("crawl failed on our side", fault).pipe(
    Effect.annotateLogs({ hostId }),
    Effect.as(
      notCrawled(`the crawl failed on the crawler's side: ${fault instanceof Error ? fault.message : String(fault)}`)
    )
  )

/**
 * The entity, crawling as `crawl` says (the node's crawler settings) through the node's MirrorClient, its crawls
 * counted in the node's CrawlMetrics.
 */
export const hostEntityLayer = (crawl: Omit<CrawlOptions, "mode" | "targets"> = defaultCrawlOptions) =>
  HostEntity.toLayer(
    Effect.gen(function* () {
      const address = yield* Entity.CurrentAddress
      const runner = yield* Entity.CurrentRunnerAddress
      const hostId = Number(address.entityId) as HostId
      const store = yield* HostStore
      const mirrors = yield* MirrorClient
      const metrics = yield* CrawlMetrics
      const writes = yield* Semaphore.make(1)
      /** When the crawl running now began; one crawl of a host at a time. */
      let crawling: number | undefined
      const write = writes.withPermits(1)
      yield* Effect.logInfo("host entity active").pipe(
        Effect.annotateLogs({ hostId, runner: `${runner.host}:${runner.port}` })
      )
      // The database failing under a message is a defect at the entity's boundary: its sender is told it failed.
      return HostEntity.of({
        Checkin: ({ payload }) =>
          write(store.applyCheckin(hostId, payload.checkin).pipe(Effect.catchTag("SqlError", Effect.die))),
        CrawlResult: ({ payload }) =>
          write(store.applyCrawl(hostId, payload.report).pipe(Effect.asVoid, Effect.catchTag("SqlError", Effect.die))),
        Status: () => store.status(hostId).pipe(Effect.catchTag("SqlError", Effect.die)),
        Crawl: ({ payload }) =>
          Effect.gen(function* () {
            if (crawling !== undefined) {
              // Not queued behind it (a round's slot would wait idle, maybe past the round's end): said at once.
              return notCrawled(
                `another crawl of this host has been running since ${new Date(crawling).toISOString()}; this one was not started`
              )
            }
            // Taken until the crawl's promise has settled, even when this request is withdrawn meanwhile.
            let running: Promise<unknown> | undefined
            yield* Effect.acquireRelease(
              Effect.sync(() => {
                crawling = Date.now()
              }),
              () =>
                Effect.sync(() => {
                  const release = () => {
                    crawling = undefined
                  }
                  if (running === undefined) release()
                  else running.then(release, release)
                })
            )
            const targets = new Map(payload.targets.map((t) => [t.hostCategoryId, new Set(t.paths)]))
            // Only what the mode checks (docs/crawler.md#modes).
            const target = yield* store.crawlTarget(hostId, {
              mode: payload.mode,
              only: payload.categories,
              recheckAfter: payload.budget === true ? Duration.millis(crawl.recheckAfterMs) : undefined,
              targets
            })
            const startedAt = Date.now()
            // Withdrawn (the caller gone, the node stopping): the signal stops the crawl at once.
            const outcome = yield* Effect.promise((signal) => {
              const crawled = crawlHost(mirrors, target, {
                ...crawl,
                mode: payload.mode,
                targets,
                runDeadline: payload.runDeadline,
                signal
              })
              running = crawled
              return crawled
            })
            // Settled: released at once when this ends (a release after the promise would come a turn too late).
            running = undefined
            // The result and its crawl log in one transaction: both or neither.
            const { switchedOff } = yield* write(store.applyCrawlWithLog(hostId, startedAt, outcome))
            const { urls } = outcome.report
            const baseUrlsUsable = urls.filter((u) => u.reachable === true && u.tlsValid !== false).length
            const baseUrlsUnknown = urls.filter((u) => u.reachable === null).length
            metrics.crawled(payload.mode, outcome.report.status, outcome.requests, {
              usable: baseUrlsUsable,
              notUsable: urls.length - baseUrlsUsable - baseUrlsUnknown,
              unknown: baseUrlsUnknown
            })
            if (switchedOff) metrics.switchedOff++
            const directories = outcome.report.categories.flatMap((c) => c.directories)
            const count = (result: string) => directories.filter((d) => d.result === result).length
            const summary: CrawlSummary = {
              status: outcome.report.status,
              reason: outcome.report.reason,
              directoriesUpToDate: count("upToDate"),
              directoriesStale: count("stale"),
              directoriesUnknown: count("unknown"),
              baseUrls: urls.length,
              baseUrlsUsable,
              categoriesAlwaysUpToDate: target.categories.filter((c) => c.alwaysUpToDate).length,
              requests: outcome.requests,
              durationMs: outcome.report.durationMs
            }
            yield* Effect.logInfo("host crawled").pipe(
              Effect.annotateLogs({
                hostId,
                mode: payload.mode,
                status: summary.status,
                baseUrls: summary.baseUrls,
                baseUrlsUsable,
                categoriesAlwaysUpToDate: summary.categoriesAlwaysUpToDate,
                requests: outcome.requests
              })
            )
            return summary
          }).pipe(
            // A fault of ours (a bug, the database failing while the target is read or the result written) ends the
            // crawl unknown, which changes nothing (the result's transaction rolled back); left as a defect it would
            // restart the entity and crawl the mirror again.
            Effect.catchTag("SqlError", (error) => crawlFailedOnOurSide(hostId, error)),
            Effect.catchDefect((defect) => crawlFailedOnOurSide(hostId, defect)),
            Effect.scoped
          )
      })
    }),
    // Messages are taken at once; writes go one at a time through the semaphore above, crawls one at a time.
    { maxIdleTime: "5 minutes", concurrency: "unbounded" }
  ).pipe(Layer.provide(HostStore.layer))

export const HostEntityLayer = hostEntityLayer()
