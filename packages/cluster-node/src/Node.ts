// Wiring of one node: database (embedded or DATABASE_URL), registry services, bootstrap admin, HTTP server.

import { createServer } from "node:http"
import * as path from "node:path"
import { NodeHttpServer } from "@effect/platform-node"
import { Accounts } from "@mirrormanager/actors/Accounts"
import { databaseLayer } from "@mirrormanager/actors/Database"
import { defaultMasterScanPolicy, MasterScanPolicy } from "@mirrormanager/actors/MasterScanPolicy"
import { MasterScanScheduleLayer } from "@mirrormanager/actors/MasterScanSchedule"
import { RegistryLayer } from "@mirrormanager/actors/Registry"
import { loadRepositoryRules } from "@mirrormanager/actors/RepositoryRules"
import { AdminApiRoutes } from "@mirrormanager/http/AdminApi"
import { Effect, Layer, Logger, Option, Redacted, References } from "effect"
import { HttpRouter } from "effect/http"
import { NodeConfig } from "./Config.ts"
import { attachEmbeddedPostgres, startEmbeddedPostgres } from "./EmbeddedPostgres.ts"

const describeUrl = (url: string) => {
  const u = new URL(url)
  return `${u.hostname}:${u.port || 5432}${u.pathname}`
}

/**
 * DATABASE_URL, or the embedded server under MM_DATA_DIR. With `attach`, a command run beside a node uses the
 * embedded server that node runs instead of refusing the data directory.
 */
export const databaseLive = (options: { readonly attach: boolean }) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* NodeConfig
      if (Option.isSome(config.databaseUrl)) {
        yield* Effect.logInfo(`database: DATABASE_URL ${describeUrl(Redacted.value(config.databaseUrl.value))}`)
        return databaseLayer(config.databaseUrl.value)
      }
      const dataDir = path.resolve(config.dataDir, "postgres")
      const running = options.attach ? attachEmbeddedPostgres({ dataDir, database: "mirrormanager" }) : undefined
      if (running !== undefined) {
        yield* Effect.logInfo(
          `database: the running node's embedded PostgreSQL in ${dataDir}, 127.0.0.1:${running.port}`
        )
        return databaseLayer(Redacted.make(running.url))
      }
      const server = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () => startEmbeddedPostgres({ dataDir, port: config.embeddedPostgresPort, database: "mirrormanager" }),
          catch: (error) => (error instanceof Error ? error : new Error(String(error)))
        }),
        (server) =>
          Effect.promise(() => server.stop()).pipe(Effect.andThen(Effect.logInfo("embedded PostgreSQL stopped")))
      )
      yield* Effect.logInfo(`database: embedded PostgreSQL in ${dataDir}, 127.0.0.1:${server.port}`)
      return databaseLayer(Redacted.make(server.url))
    })
  )

export const DatabaseLive = databaseLive({ attach: false })

/** The scan policy, with the operator's repository rules file if MM_REPOSITORY_RULES names one. */
export const MasterScanPolicyLive = Layer.effect(
  MasterScanPolicy,
  Effect.gen(function* () {
    const config = yield* NodeConfig
    if (Option.isNone(config.repositoryRules)) return defaultMasterScanPolicy
    const file = config.repositoryRules.value
    const rules = yield* Effect.try({
      try: () => loadRepositoryRules(file),
      catch: (error) => (error instanceof Error ? error : new Error(String(error)))
    })
    yield* Effect.logInfo(`repository rules: ${file} (${rules.rules.length} rules)`)
    return { ...defaultMasterScanPolicy, rules }
  })
)

const MasterScanScheduleLive = Layer.unwrap(
  Effect.map(NodeConfig, (config) =>
    MasterScanScheduleLayer({ interval: config.scanInterval, deleteDirectories: config.scanDeleteDirectories })
  )
)

/** Makes sure a global admin can sign in: MM_ADMIN_TOKEN, or a token generated once and shown once. */
export const BootstrapAdmin = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    const accounts = yield* Accounts
    const result = yield* accounts.bootstrap(config.adminToken)
    if (Option.isSome(result.generatedToken)) {
      yield* Effect.logWarning(
        `no MM_ADMIN_TOKEN set: generated a global admin token. It is shown this once and stored hashed: ${Redacted.value(result.generatedToken.value)}`
      )
    } else if (result.source === "configured") {
      yield* Effect.logInfo("global admin token: MM_ADMIN_TOKEN")
    }
  })
)

export const HttpServerLive = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    return HttpRouter.serve(AdminApiRoutes, { disableListenLog: true }).pipe(
      Layer.provide(NodeHttpServer.layer(createServer, { port: config.httpPort, host: config.httpHost }))
    )
  })
)

const Listening = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    yield* Effect.logInfo(
      `mirrormanager listening on http://${config.httpHost}:${config.httpPort} (data in ${path.resolve(config.dataDir)})`
    )
  })
)

/** The node's logs on stdout; a command's logs (`toStderr`) on stderr, apart from what it prints. */
export const loggerLive = (options: { readonly toStderr: boolean }) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* NodeConfig
      const logger =
        config.logFormat === "json"
          ? options.toStderr
            ? Logger.withConsoleError(Logger.formatJson)
            : Logger.consoleJson
          : config.logFormat === "pretty"
            ? Logger.consolePretty({ colors: false })
            : options.toStderr
              ? Logger.withConsoleError(Logger.formatLogFmt)
              : Logger.consoleLogFmt
      return Layer.mergeAll(Logger.layer([logger]), Layer.succeed(References.MinimumLogLevel, config.logLevel))
    })
  )

export const LoggerLive = loggerLive({ toStderr: false })

export const NodeLive = Listening.pipe(
  Layer.provideMerge(HttpServerLive),
  Layer.provideMerge(MasterScanScheduleLive),
  Layer.provideMerge(BootstrapAdmin),
  Layer.provideMerge(RegistryLayer),
  Layer.provide(MasterScanPolicyLive),
  Layer.provideMerge(DatabaseLive)
)
