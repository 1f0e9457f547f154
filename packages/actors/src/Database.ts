// The registry database: a PostgreSQL connection pool with the registry's migrations applied.

import { randomBytes } from "node:crypto"
import { NodeServices } from "@effect/platform-node"
import { PgClient, PgMigrator } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import { migrations } from "./Migrations.ts"

const Migrations = PgMigrator.layer({ loader: Migrator.fromRecord(migrations) }).pipe(Layer.provide(NodeServices.layer))

export const databaseLayer = (url: Redacted.Redacted<string>, options: { readonly maxConnections?: number } = {}) =>
  Migrations.pipe(
    Layer.provideMerge(
      PgClient.layer({ url, maxConnections: options.maxConnections ?? 10, applicationName: "mirrormanager" })
    )
  )

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
export const freshDatabaseLayer = (serverUrl: string) =>
  Layer.unwrap(Effect.map(freshDatabase(serverUrl), (url) => databaseLayer(Redacted.make(url), { maxConnections: 5 })))
