// The registry database: a PostgreSQL connection pool with the registry's migrations applied.

import { NodeServices } from "@effect/platform-node"
import { PgClient, PgMigrator } from "@effect/sql-pg"
import { type Cause, Duration, Effect, Exit, Fiber, Layer, Option, type Redacted } from "effect"
import { Migrator, type SqlClient } from "effect/sql"
import { migrations } from "./Migrations.ts"

export interface DatabaseOptions {
  readonly maxConnections?: number
  /** How the pool's sessions show in `pg_stat_activity` (default `mirrormanager`). */
  readonly applicationName?: string
  /** How long a connection may take, and (Readiness) how long the database may take to answer a probe. */
  readonly timeout?: Duration.Input
  /**
   * The longest a statement runs on the server (PostgreSQL `statement_timeout`) unless its transaction lifts it
   * (`withoutStatementTimeout`); zero: unbounded.
   */
  readonly statementTimeout?: Duration.Input
  /**
   * How long a transaction may stay idle between its statements before the server ends its session (PostgreSQL
   * `idle_in_transaction_session_timeout`), so a stuck transaction cannot hold a connection and its locks forever,
   * unless it lifts that (`withoutTransactionTimeouts`); zero: unbounded.
   */
  readonly idleInTransactionTimeout?: Duration.Input
}

export const DEFAULT_DATABASE_TIMEOUT = Duration.seconds(3)
export const DEFAULT_STATEMENT_TIMEOUT = Duration.seconds(60)
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT = Duration.seconds(60)

const millis = (duration: Duration.Input) => String(Duration.toMillis(Duration.fromInputUnsafe(duration)))

/** No bound on a statement or on the time between two (a setting's `0`). */
const UNBOUNDED = { statement_timeout: "0", idle_in_transaction_session_timeout: "0" }

/**
 * The registry's migrations, on a connection of their own whose statements are unbounded: creating an index on a
 * big table, or waiting for the migrations of another node starting at the same time (a table lock), may take longer
 * than any bound of the pool. The connection is closed once they are applied.
 */
const migrate = (config: PgClient.PgPoolConfig) =>
  Layer.effectDiscard(
    PgMigrator.run({ loader: Migrator.fromRecord(migrations) }).pipe(
      Effect.provide(
        Layer.mergeAll(
          PgClient.layer({
            ...config,
            maxConnections: 1,
            applicationName: "mirrormanager migrations",
            startupParameters: UNBOUNDED
          }),
          NodeServices.layer
        )
      )
    )
  )

export const databaseLayer = (url: Redacted.Redacted<string>, options: DatabaseOptions = {}) => {
  const config: PgClient.PgPoolConfig = {
    url,
    maxConnections: options.maxConnections ?? 10,
    applicationName: options.applicationName ?? "mirrormanager",
    connectTimeout: options.timeout ?? DEFAULT_DATABASE_TIMEOUT,
    startupParameters: {
      statement_timeout: millis(options.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT),
      idle_in_transaction_session_timeout: millis(
        options.idleInTransactionTimeout ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT
      )
    }
  }
  return migrate(config).pipe(Layer.provideMerge(PgClient.layer(config)))
}

/**
 * Inside a transaction: its statements run as long as they need (`statement_timeout` 0 until it ends). For the
 * writes that grow with the mirror tree (a host's check-in or crawl result); the time it may stay idle between them
 * stays bounded.
 */
export const withoutStatementTimeout = (sql: SqlClient.SqlClient) =>
  sql`SELECT set_config('statement_timeout', '0', true)`.pipe(Effect.asVoid)

/**
 * Inside a transaction: no bound on its statements nor on the time between them, until it ends. For the work that
 * grows with the whole registry and does more than SQL meanwhile: the index load (every host-directory pair in one
 * statement, DNS names resolved between statements) and a master scan (the tree walked while its transaction is
 * open).
 */
export const withoutTransactionTimeouts = (sql: SqlClient.SqlClient) =>
  sql`SELECT set_config('statement_timeout', '0', true),
    set_config('idle_in_transaction_session_timeout', '0', true)`.pipe(Effect.asVoid)

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
