// What /healthz/ready reports: the database answers and every known migration has been applied.
import type { Readiness as ReadinessReport } from "@mirrormanager/domain/api/HealthApi"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { migrations } from "./Migrations.ts"

export class Readiness extends Context.Service<Readiness, { readonly check: Effect.Effect<ReadinessReport> }>()(
  "actors/Readiness"
) {
  static readonly layer = Layer.effect(
    Readiness,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const expected = Object.keys(migrations).length
      const check = Effect.gen(function* () {
        const [row] = yield* sql<{ applied: number }>`SELECT count(*)::int AS applied FROM effect_sql_migrations`
        const applied = row?.applied ?? 0
        return applied >= expected
          ? ({ status: "ready", checks: { database: "ok", migrations: `applied (${applied})` } } as const)
          : ({ status: "starting", checks: { database: "ok", migrations: `${applied} of ${expected}` } } as const)
      }).pipe(
        Effect.timeout("2 seconds"),
        Effect.catchCause((cause) =>
          Effect.succeed({
            status: "starting",
            checks: { database: `unreachable: ${String(cause).split("\n")[0]}`, migrations: "unknown" }
          } as const)
        )
      )
      return Readiness.of({ check })
    })
  )
}
