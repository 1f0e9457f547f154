// Databases of their own for tests and benchmarks, on the PostgreSQL server they share, dropped after them.

import { randomBytes } from "node:crypto"
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Layer, Redacted, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { type DatabaseOptions, databaseLayer } from "../db/index.ts"

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

/**
 * Fresh databases for tests that run with promises (nodes as processes): `create` makes one and answers its URL,
 * `dropAll` drops every one made (a test file's `afterAll`).
 */
export const freshDatabases = (serverUrl: string) => {
  const databases = Scope.makeUnsafe()
  return {
    create: () => Effect.runPromise(Scope.provide(freshDatabase(serverUrl), databases)),
    dropAll: () => Effect.runPromise(Scope.close(databases, Exit.void))
  }
}
