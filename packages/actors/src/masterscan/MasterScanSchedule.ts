// Scheduled master scans (docs/masterscan.md#the-walk: every 2 h): each round scans the categories with a master path
// that no node has scanned within half an interval, so several nodes on one database do not scan the same tree back to
// back.
import { Duration, Effect, Layer, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { logProgress, logSummary, MasterScanner } from "./MasterScanner.ts"

export const MasterScanScheduleLayer = (options: {
  readonly interval: Duration.Duration
  readonly deleteDirectories: boolean
}) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      if (Duration.isZero(options.interval)) {
        yield* Effect.logInfo("scheduled master scans are off (MM_SCAN_INTERVAL is zero)")
        return
      }
      const scanner = yield* MasterScanner
      const sql = yield* SqlClient.SqlClient
      const recent = Duration.toSeconds(options.interval) / 2
      const round = Effect.gen(function* () {
        const due = yield* sql<{ id: number }>`SELECT c.id FROM categories c
          LEFT JOIN master_scans m ON m.category_id = c.id
          WHERE c.master_path IS NOT NULL
            AND (m.finished_at IS NULL OR m.finished_at < now() - make_interval(secs => ${recent}))
          ORDER BY c.id`
        for (const { id } of due) {
          yield* scanner
            .scan(id, {
              deleteDirectories: options.deleteDirectories,
              onProgress: logProgress,
              progressInterval: "30 seconds"
            })
            .pipe(
              Effect.flatMap(logSummary),
              // A category deleted or stripped of its master path since the query is not an error.
              Effect.catchTags({ NotFound: () => Effect.void, Unprocessable: () => Effect.void })
            )
        }
      }).pipe(Effect.catchCause((cause) => Effect.logError("scheduled master scan failed", cause)))
      yield* round.pipe(Effect.repeat(Schedule.spaced(options.interval)), Effect.forkScoped)
    })
  )
