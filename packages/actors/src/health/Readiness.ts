// Whether the registry database answers, and what /healthz/ready reports. A stopped or frozen server answers
// nothing and reports no error, so a probe asks it every second, on a connection of its own (a pool busy with long
// statements is not an outage), and counts it unreachable when no answer comes within the database timeout. The
// admin API answers 503 while it is unreachable; the node's readiness (the redirector's status) says so.
import { PgClient, PgConnection } from "@effect/sql-pg"
import type { ReadinessReport } from "@mirrormanager/domain/health"
import { Cause, Context, Deferred, Duration, Effect, Exit, Layer, Option, Schedule, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { DEFAULT_DATABASE_TIMEOUT, migrations, within } from "../db/index.ts"
import { Redirector } from "../redirector/index.ts"

const DATABASE_PROBE_INTERVAL = Duration.seconds(1)

/** What a public answer says of an unreachable database: no address, port or error chain (those go to the log). */
export const UNREACHABLE = "unreachable"

/** How the log says the database was lost (the node's logger folds other warnings of the same loss into it). */
export const DATABASE_UNREACHABLE = "registry database unreachable"

const unreachableReport: ReadinessReport = {
  status: "starting",
  checks: { database: UNREACHABLE, migrations: "unknown" }
}

export class Readiness extends Context.Service<
  Readiness,
  {
    readonly check: Effect.Effect<ReadinessReport>
    /** Whether the database answered the last probe in time. */
    readonly reachable: () => boolean
    /** Completes once the database is found unreachable (at once while it is). */
    readonly unreachable: Effect.Effect<void>
  }
>()("actors/Readiness") {
  static readonly layer = Layer.effect(
    Readiness,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const pg = yield* PgClient.PgClient
      const redirector = yield* Effect.serviceOption(Redirector)
      const timeout = Duration.fromInputUnsafe(pg.config.connectTimeout ?? DEFAULT_DATABASE_TIMEOUT)
      const expected = Object.keys(migrations).length

      let reachable = true
      let lost = Deferred.makeUnsafe<void>()
      let probeConnection:
        | { readonly scope: Scope.Closeable; readonly connection: PgConnection.PgConnection }
        | undefined

      // Closing only ends the socket; a statement still waiting on it fails.
      const dropConnection = Effect.suspend(() => {
        const open = probeConnection
        probeConnection = undefined
        return open === undefined ? Effect.void : Scope.close(open.scope, Exit.void)
      })
      yield* Effect.addFinalizer(() => dropConnection)

      const probe = Effect.gen(function* () {
        if (probeConnection === undefined) {
          const scope = yield* Scope.make()
          const connection = yield* PgConnection.make(pg.config).pipe(
            Scope.provide(scope),
            Effect.onError(() => Scope.close(scope, Exit.void))
          )
          probeConnection = { scope, connection }
        }
        yield* probeConnection.connection.query("SELECT 1", [], false)
      })

      const round = Effect.gen(function* () {
        const result = yield* probe.pipe(within(timeout), Effect.exit)
        const answered = Exit.isSuccess(result) && Option.isSome(result.value)
        if (!answered) yield* dropConnection
        if (answered && !reachable) {
          reachable = true
          lost = Deferred.makeUnsafe<void>()
          yield* Effect.logInfo("registry database answers again")
        } else if (!answered && reachable) {
          reachable = false
          Deferred.doneUnsafe(lost, Effect.void)
          const why = Exit.isSuccess(result)
            ? `no answer within ${Duration.format(timeout)}`
            : String(Cause.squash(result.cause)).split("\n")[0]
          yield* Effect.logWarning(`${DATABASE_UNREACHABLE}: ${why}`)
          if (Option.isSome(redirector)) {
            redirector.value.databaseLost(why)
          }
        }
      })
      yield* round.pipe(Effect.repeat(Schedule.spaced(DATABASE_PROBE_INTERVAL)), Effect.forkScoped)

      const check = Effect.gen(function* () {
        if (!reachable) return unreachableReport
        const [row] = yield* sql<{ applied: number }>`SELECT count(*)::int AS applied FROM effect_sql_migrations`
        const applied = row?.applied ?? 0
        return applied >= expected
          ? ({ status: "ready", checks: { database: "ok", migrations: `applied (${applied})` } } as const)
          : ({ status: "starting", checks: { database: "ok", migrations: `${applied} of ${expected}` } } as const)
      }).pipe(
        within(timeout),
        Effect.map(Option.getOrElse(() => unreachableReport)),
        Effect.catchCause((cause) =>
          Effect.as(Effect.logWarning("readiness: the database check failed", cause), unreachableReport)
        )
      )

      return Readiness.of({
        check,
        reachable: () => reachable,
        unreachable: Effect.suspend(() => Deferred.await(lost))
      })
    })
  )
}
