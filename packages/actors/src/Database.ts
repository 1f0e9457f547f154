// The registry database: a PostgreSQL connection pool with the registry's migrations applied.

import { randomBytes } from "node:crypto"
import { NodeServices } from "@effect/platform-node"
import { PgClient, PgMigrator } from "@effect/sql-pg"
import { type Cause, Duration, Effect, Exit, Fiber, Layer, Option, Redacted } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import { migrations } from "./Migrations.ts"

const Migrations = PgMigrator.layer({ loader: Migrator.fromRecord(migrations) }).pipe(Layer.provide(NodeServices.layer))

export interface DatabaseOptions {
  readonly maxConnections?: number
  /** How long a connection may take, and (Readiness) how long the database may take to answer a probe. */
  readonly timeout?: Duration.Input
  /** The longest a statement runs on the server (PostgreSQL `statement_timeout`); zero: unbounded. */
  readonly statementTimeout?: Duration.Input
}

export const DEFAULT_DATABASE_TIMEOUT = Duration.seconds(3)
export const DEFAULT_STATEMENT_TIMEOUT = Duration.seconds(60)

export const databaseLayer = (url: Redacted.Redacted<string>, options: DatabaseOptions = {}) =>
  Migrations.pipe(
    Layer.provideMerge(
      PgClient.layer({
        url,
        maxConnections: options.maxConnections ?? 10,
        applicationName: "mirrormanager",
        connectTimeout: options.timeout ?? DEFAULT_DATABASE_TIMEOUT,
        startupParameters: {
          statement_timeout: String(
            Duration.toMillis(Duration.fromInputUnsafe(options.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT))
          )
        }
      })
    )
  )

/**
 * Runs `effect` until `deadline` completes: then the result is `Option.none()` at once and the effect is interrupted
 * in the background. (Interrupting a statement sent to a stopped server waits for that server a few seconds more;
 * `Effect.timeout` and `Effect.raceFirst` would wait for that too.)
 */
export const until =
  (deadline: Effect.Effect<void>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R> =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkDetach(effect)
      const stop = Effect.asVoid(Effect.forkDetach(Fiber.interrupt(fiber)))
      const exit = yield* Effect.raceFirst(
        Effect.map(Fiber.await(fiber), Option.some),
        Effect.as(deadline, Option.none())
      ).pipe(Effect.onInterrupt(() => stop))
      if (Option.isNone(exit)) {
        yield* stop
        return Option.none()
      }
      return Exit.isSuccess(exit.value) ? Option.some(exit.value.value) : yield* Effect.failCause(exit.value.cause)
    })

/** `until` a time has passed. */
export const within = (duration: Duration.Input) => until(Effect.sleep(duration))

/** Whether a failure says the database could not be reached or did not answer in time (not a bad statement). */
export const isDatabaseUnavailable = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.some((reason) => {
    const error = reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : undefined
    if (typeof error !== "object" || error === null) return false
    const e = error as { readonly _tag?: unknown; readonly reason?: { readonly _tag?: unknown } }
    return e._tag === "SqlError" && (e.reason?._tag === "ConnectionError" || e.reason?._tag === "StatementTimeoutError")
  })

/** A new, empty database on the server at `serverUrl`, dropped when the scope closes (tests); its URL. */
export const freshDatabase = (serverUrl: string) =>
  Effect.gen(function* () {
    const name = `mm_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`
    const admin = new URL(serverUrl)
    admin.pathname = "/postgres"
    const run = (statement: string) =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(statement)
      }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(admin.toString()), maxConnections: 1 })), Effect.orDie)
    yield* Effect.acquireRelease(run(`CREATE DATABASE ${name}`), () =>
      run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    )
    const url = new URL(serverUrl)
    url.pathname = `/${name}`
    return url.toString()
  })

/** A fresh database (see `freshDatabase`), migrated, for the life of the layer. */
export const freshDatabaseLayer = (serverUrl: string, options: DatabaseOptions = {}) =>
  Layer.unwrap(
    Effect.map(freshDatabase(serverUrl), (url) => databaseLayer(Redacted.make(url), { maxConnections: 5, ...options }))
  )
