// The node's registry database: DATABASE_URL, or the embedded PostgreSQL under MM_DATA_DIR (started, or attached to).

import * as path from "node:path"
import { databaseLayer } from "@mirrormanager/actors/db"
import { Effect, Layer, Option, Redacted } from "effect"
import { attachEmbeddedPostgres, startEmbeddedPostgres } from "../db/index.ts"
import { NodeConfig } from "./Config.ts"

const describeUrl = (url: string) => {
  const u = new URL(url)
  return `${u.hostname}:${u.port || 5432}${u.pathname}`
}

/** The sessions of a redirector node show as `mirrormanager redirector` in pg_stat_activity, a full node's as `mirrormanager`. */
export const applicationNameOf = (config: NodeConfig["Service"]) =>
  config.role === "full" ? "mirrormanager" : `mirrormanager ${config.role}`

const databaseOptions = (config: NodeConfig["Service"]) => ({
  maxConnections: config.databaseConnections,
  applicationName: applicationNameOf(config),
  timeout: config.databaseTimeout,
  statementTimeout: config.databaseStatementTimeout,
  idleInTransactionTimeout: config.databaseIdleInTransactionTimeout
})

/**
 * DATABASE_URL, or the embedded server under MM_DATA_DIR. With `attach`, a command run beside a node uses the
 * embedded server that node runs instead of refusing the data directory.
 */
export const nodeDatabaseLayer = (options: { readonly attach: boolean }) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* NodeConfig
      if (Option.isSome(config.databaseUrl)) {
        yield* Effect.logInfo(`database: DATABASE_URL ${describeUrl(Redacted.value(config.databaseUrl.value))}`)
        return databaseLayer(config.databaseUrl.value, databaseOptions(config))
      }
      const dataDir = path.resolve(config.dataDir, "postgres")
      const running = options.attach ? attachEmbeddedPostgres({ dataDir, database: "mirrormanager" }) : undefined
      if (running !== undefined) {
        yield* Effect.logInfo(
          `database: the running node's embedded PostgreSQL in ${dataDir}, 127.0.0.1:${running.port}`
        )
        return databaseLayer(Redacted.make(running.url), databaseOptions(config))
      }
      const server = yield* Effect.acquireRelease(
        Effect.tryPromise({
          // In its own process group: a terminal's Ctrl-C reaches only the node, which stops it last.
          try: () =>
            startEmbeddedPostgres({
              dataDir,
              port: config.embeddedPostgresPort,
              database: "mirrormanager",
              ownProcessGroup: true
            }),
          catch: (error) => (error instanceof Error ? error : new Error(String(error)))
        }),
        (server) =>
          Effect.promise(() => server.stop()).pipe(Effect.andThen(Effect.logInfo("embedded PostgreSQL stopped")))
      )
      yield* Effect.logInfo(`database: embedded PostgreSQL in ${dataDir}, 127.0.0.1:${server.port}`)
      return databaseLayer(Redacted.make(server.url), databaseOptions(config))
    })
  )

export const NodeDatabaseLayer = nodeDatabaseLayer({ attach: false })
