// Access statistics in the database (docs/statistics.md): nodes' batches added exactly once, a day's figures read for
// the statistics pages, old days removed.
import { Context, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { type AccessBatch, type AccessKind, EMBARGOED_KEY } from "./AccessCounts.ts"

/** A day kept, with its requests (each request is counted once in every kind: the countries' sum). */
export interface AccessDay {
  /** UTC, YYYY-MM-DD. */
  readonly day: string
  readonly requests: number
}

export interface AccessCount {
  readonly kind: AccessKind
  readonly key: string
  readonly requests: number
}

export const DEFAULT_STATS_KEEP_DAYS = 30

export class AccessStatistics extends Context.Service<
  AccessStatistics,
  {
    /**
     * Adds a node's batch in one transaction, unless a batch of that run and number was added already (its earlier
     * attempt committed, the acknowledgement lost): true when added now. Countries on the embargo list are added to
     * the one anonymous bucket, as the list stands at this moment.
     */
    readonly add: (batch: AccessBatch) => Effect.Effect<boolean, SqlError.SqlError>
    /** The days kept, newest first, with their requests. */
    readonly days: () => Effect.Effect<ReadonlyArray<AccessDay>, SqlError.SqlError>
    /** One day's counts of every kind (or of one), most requests first. */
    readonly day: (day: string, kind?: AccessKind) => Effect.Effect<ReadonlyArray<AccessCount>, SqlError.SqlError>
    /** When a node last added a batch (epoch seconds), if any is recorded. */
    readonly lastAddedAt: () => Effect.Effect<number | undefined, SqlError.SqlError>
    /**
     * Removes the days before the last `keepDays` (today, UTC, is one of them) and the flush records older than
     * that (a batch is written again at most that long after its first attempt); answers the rows removed.
     */
    readonly prune: (keepDays: number) => Effect.Effect<number, SqlError.SqlError>
  }
>()("actors/AccessStatistics") {
  static readonly layer = Layer.effect(
    AccessStatistics,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      return AccessStatistics.of({
        add: Effect.fn("AccessStatistics.add")(function* (batch) {
          yield* Effect.annotateCurrentSpan({ runId: batch.runId, seq: batch.seq, rows: batch.rows.length })
          return yield* sql.withTransaction(
            Effect.gen(function* () {
              const first = yield* sql`
                INSERT INTO access_stats_flushes (run_id, seq, requests)
                VALUES (${batch.runId}::uuid, ${batch.seq}, ${batch.requests})
                ON CONFLICT (run_id, seq) DO NOTHING
                RETURNING seq`
              if (first.length === 0) return false
              // One statement for the whole batch (as JSON: keys are any text); rows meeting on one key (two
              // embargoed countries) are summed first, as ON CONFLICT takes each key once.
              yield* sql`
                INSERT INTO access_stats (day, kind, key, requests)
                SELECT b.day, b.kind,
                       CASE WHEN b.kind = 'countries' AND e.country IS NOT NULL THEN ${EMBARGOED_KEY} ELSE b.key END,
                       sum(b.requests)
                FROM jsonb_to_recordset(${JSON.stringify(batch.rows)}::jsonb)
                       AS b(day date, kind text, key text, requests bigint)
                LEFT JOIN embargoed_countries e ON b.kind = 'countries' AND e.country::text = b.key
                GROUP BY 1, 2, 3
                ON CONFLICT (day, kind, key) DO UPDATE SET requests = access_stats.requests + excluded.requests`
              return true
            })
          )
        }),
        days: Effect.fn("AccessStatistics.days")(function* () {
          return yield* sql<AccessDay>`
            SELECT to_char(day, 'YYYY-MM-DD') AS day, sum(requests)::float8 AS requests
            FROM access_stats WHERE kind = 'countries'
            GROUP BY day ORDER BY day DESC`
        }),
        day: Effect.fn("AccessStatistics.day")(function* (day, kind) {
          return yield* sql<AccessCount>`
            SELECT kind, key, requests::float8 AS requests FROM access_stats
            WHERE day = ${day}::date ${kind === undefined ? sql`` : sql`AND kind = ${kind}`}
            ORDER BY kind, requests DESC, key`
        }),
        lastAddedAt: Effect.fn("AccessStatistics.lastAddedAt")(function* () {
          const [row] = yield* sql<{ readonly at: number | null }>`
            SELECT extract(epoch FROM max(flushed_at))::float8 AS at FROM access_stats_flushes`
          return row?.at === null || row?.at === undefined ? undefined : Math.floor(row.at)
        }),
        prune: Effect.fn("AccessStatistics.prune")(function* (keepDays) {
          const days = Math.max(1, Math.floor(keepDays))
          const stats = yield* sql`
            DELETE FROM access_stats WHERE day <= (now() AT TIME ZONE 'UTC')::date - ${days}::int RETURNING 1`
          const flushes = yield* sql`
            DELETE FROM access_stats_flushes WHERE flushed_at < now() - make_interval(days => ${days + 1})
            RETURNING 1`
          return stats.length + flushes.length
        })
      })
    })
  )
}
