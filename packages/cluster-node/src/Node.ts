// Wiring of one node: database (embedded or DATABASE_URL), registry services, bootstrap admin, HTTP server.

import { createServer } from "node:http"
import * as path from "node:path"
import { NodeHttpServer } from "@effect/platform-node"
import { Accounts } from "@mirrormanager/actors/Accounts"
import { databaseLayer } from "@mirrormanager/actors/Database"
import { RegistryLayer } from "@mirrormanager/actors/Registry"
import { AdminApiRoutes } from "@mirrormanager/http/AdminApi"
import { Effect, Layer, Logger, Option, Redacted, References } from "effect"
import { HttpRouter } from "effect/http"
import { NodeConfig } from "./Config.ts"
import { startEmbeddedPostgres } from "./EmbeddedPostgres.ts"

const describeUrl = (url: string) => {
  const u = new URL(url)
  return `${u.hostname}:${u.port || 5432}${u.pathname}`
}

export const DatabaseLive = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    if (Option.isSome(config.databaseUrl)) {
      yield* Effect.logInfo(`database: DATABASE_URL ${describeUrl(Redacted.value(config.databaseUrl.value))}`)
      return databaseLayer(config.databaseUrl.value)
    }
    const dataDir = path.resolve(config.dataDir, "postgres")
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

export const LoggerLive = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    const logger =
      config.logFormat === "json"
        ? Logger.consoleJson
        : config.logFormat === "pretty"
          ? Logger.consolePretty({ colors: false })
          : Logger.consoleLogFmt
    return Layer.mergeAll(Logger.layer([logger]), Layer.succeed(References.MinimumLogLevel, config.logLevel))
  })
)

export const NodeLive = Listening.pipe(
  Layer.provideMerge(HttpServerLive),
  Layer.provideMerge(BootstrapAdmin),
  Layer.provideMerge(RegistryLayer),
  Layer.provideMerge(DatabaseLive)
)
