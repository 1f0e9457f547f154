// A lock held by another session, for tests of what waits on the database: a long maintenance, another node's scan
// of the same category, a host's row taken by another check-in.

import { PgClient } from "@effect/sql-pg"
import { Deferred, Effect, Fiber, type Redacted } from "effect"
import { SqlClient } from "effect/sql"

export interface HeldLock {
  /** Lets go of the lock (ends the session's transaction); completes once it is let go. */
  readonly release: Effect.Effect<void>
}

/**
 * Another session on the database at `url` (a connection of its own, without the pool's time bounds) takes a lock
 * with `statement` in a transaction and holds it until `release`, or until the scope closes; returns once it holds it.
 */
export const holdLock = (url: Redacted.Redacted<string>, statement: string) =>
  Effect.gen(function* () {
    const taken = yield* Deferred.make<void>()
    const letGo = yield* Deferred.make<void>()
    const holder = yield* Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql.withTransaction(
        Effect.gen(function* () {
          yield* sql.unsafe(statement)
          yield* Deferred.succeed(taken, undefined)
          yield* Deferred.await(letGo)
        })
      )
    }).pipe(Effect.provide(PgClient.layer({ url, maxConnections: 1 })), Effect.orDie, Effect.forkScoped)
    // A statement that fails ends the holder before it holds anything: its failure, not a wait forever.
    yield* Effect.raceFirst(Deferred.await(taken), Fiber.join(holder))
    const release: Effect.Effect<void> = Deferred.succeed(letGo, undefined).pipe(Effect.andThen(Fiber.join(holder)))
    return { release } satisfies HeldLock
  })
