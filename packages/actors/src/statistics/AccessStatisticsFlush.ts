// The node's access counts written to the database (docs/statistics.md#how-the-counts-reach-the-database-exactly-once): every
// interval, and once more as the node stops cleanly; old days removed about once an hour.
import { Duration, Effect, Layer, Option, Schedule, Semaphore } from "effect"
import { within } from "../db/index.ts"
import { AccessCounts } from "./AccessCounts.ts"
import { AccessStatistics } from "./AccessStatistics.ts"

export interface AccessStatisticsFlushOptions {
  /** Between flushes: what a crash can lose at most. */
  readonly interval: Duration.Duration
  /** Days kept (MM_STATS_KEEP_DAYS). */
  readonly keepDays: number
  /** The longest the last flush of a stopping node waits for the database. */
  readonly finalFlushBound: Duration.Duration
}

export const defaultAccessStatisticsFlushOptions: AccessStatisticsFlushOptions = {
  interval: Duration.minutes(1),
  keepDays: 30,
  finalFlushBound: Duration.seconds(3)
}

const PRUNE_EVERY_MS = 3_600_000

/** Runs with the node's database side; the counter (AccessCounts) outlives it, so a failed batch is written later. */
export const AccessStatisticsFlushLayer = (options: AccessStatisticsFlushOptions) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const counts = yield* AccessCounts
      const statistics = yield* AccessStatistics
      // One flush at a time: the last one (as the node stops) may meet a periodic one still under way.
      const lock = yield* Semaphore.make(1)
      let failing = false
      let prunedAt = 0

      /** Writes the batch left from a failed attempt (the same one again), then what was counted since. */
      const flush = lock.withPermits(1)(
        Effect.gen(function* () {
          for (let i = 0; i < 2; i++) {
            const batch = counts.takeBatch()
            if (batch === undefined) return
            const added = yield* statistics.add(batch)
            counts.acknowledge(batch)
            if (!added) yield* Effect.logInfo(`access statistics: batch ${batch.seq} had been added already`)
          }
        })
      )
      const tick = Effect.gen(function* () {
        yield* flush
        if (failing) yield* Effect.logInfo("access statistics: counts are written again")
        failing = false
        if (Date.now() - prunedAt >= PRUNE_EVERY_MS) {
          yield* statistics.prune(options.keepDays)
          prunedAt = Date.now()
        }
      }).pipe(
        Effect.catchCause((cause) =>
          Effect.suspend(() => {
            counts.failedFlushes++
            if (failing) return Effect.void
            failing = true
            return Effect.logWarning(
              `access statistics: counts could not be written, kept and tried again every ${Duration.format(options.interval)}`,
              cause
            )
          })
        )
      )

      // Added before the periodic fiber starts, so it runs after that fiber is stopped.
      yield* Effect.addFinalizer(() =>
        flush.pipe(
          within(options.finalFlushBound),
          Effect.flatMap((done) =>
            Option.isSome(done)
              ? Effect.void
              : Effect.logWarning(
                  `access statistics: the last counts (${counts.unwritten()} requests) could not be written within ${Duration.format(options.finalFlushBound)}`
                )
          ),
          Effect.catchCause((cause) =>
            Effect.logWarning(
              `access statistics: the last counts (${counts.unwritten()} requests) could not be written`,
              cause
            )
          )
        )
      )
      yield* tick.pipe(
        Effect.delay(options.interval),
        Effect.repeat(Schedule.spaced(options.interval)),
        Effect.forkScoped
      )
    })
  )
