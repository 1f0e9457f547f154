// The node's HTTP servers: the front server (redirector, health, metrics, access log) on MM_HTTP_PORT, the admin API
// behind it, and the line saying where the node listens.

import * as fs from "node:fs"
import type * as http from "node:http"
import * as path from "node:path"
import { NodeHttpServer } from "@effect/platform-node"
import { AdminDatabaseTimeout, serveAdminApi } from "@mirrormanager/http/admin"
import { FrontServer, openAccessLog } from "@mirrormanager/http/front"
import { defaultIndexFeedRoutesOptions, IndexFeedRoutes } from "@mirrormanager/http/redirector"
import { Duration, Effect, Layer, Option } from "effect"
import { NodeConfig } from "./Config.ts"
import { trustedProxiesOf } from "./NodeRedirector.ts"

/** The node's HTTP server: redirector, health and metrics answered in front; the admin API behind. */
export const FrontServerLayer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    const destination = Option.getOrElse(config.accessLog, () => path.join(config.dataDir, "access.log"))
    if (destination !== "-" && destination !== "off")
      fs.mkdirSync(path.dirname(path.resolve(destination)), { recursive: true })
    return FrontServer.layer({
      accessLog: openAccessLog(destination),
      connections: {
        keepAliveTimeoutMs: Duration.toMillis(config.httpKeepAliveTimeout),
        headersTimeoutMs: Duration.toMillis(config.httpHeadersTimeout),
        requestTimeoutMs: Duration.toMillis(config.httpRequestTimeout),
        maxConnections: Math.max(1, config.httpMaxConnections)
      }
    }).pipe(
      Layer.provide(
        IndexFeedRoutes.layer({ ...defaultIndexFeedRoutesOptions, token: Option.getOrUndefined(config.indexFeedToken) })
      )
    )
  })
)

/** The admin API, routed behind the front server, its database waits bounded by MM_ADMIN_DATABASE_TIMEOUT. */
export const AdminApiLayer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    return serveAdminApi({ trustedProxies: yield* trustedProxiesOf(config) }).pipe(
      Layer.provide(Layer.succeed(AdminDatabaseTimeout, config.adminDatabaseTimeout))
    )
  })
)

/** What a redirector node answers on every path that is not the redirector's, health or metrics. */
export const NOT_ON_A_REDIRECTOR_NODE =
  "this node is a redirector (MM_ROLE=redirector): it answers /mirrorlist, /metalink, redirects, health and metrics; the admin API and check-ins (/xmlrpc) are served by the full nodes"

/**
 * A redirector node's answer to everything the front server does not answer itself (the admin API, /xmlrpc, /docs):
 * 404 with a problem saying so, at once, whether or not the database answers.
 */
export const RedirectorRoleLayer = Layer.effectDiscard(
  Effect.gen(function* () {
    const front = yield* FrontServer
    const body = `${JSON.stringify({ type: "about:blank", title: "Not Found", status: 404, detail: NOT_ON_A_REDIRECTOR_NODE })}\n`
    const notHere = (request: http.IncomingMessage, response: http.ServerResponse) => {
      response.writeHead(404, {
        "content-type": "application/problem+json",
        "content-length": String(Buffer.byteLength(body))
      })
      response.end(request.method === "HEAD" ? undefined : body)
    }
    front.server.on("request", notHere)
    front.server.on("checkContinue", notHere)
  })
)

/** The listening socket on MM_HTTP_HOST:MM_HTTP_PORT, answered by the front server. */
export const HttpServerLayer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    const front = yield* FrontServer
    return NodeHttpServer.layer(() => front.server, { port: config.httpPort, host: config.httpHost })
  })
)

/** Says where the node listens, once its database side is up. */
export const Listening = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    yield* Effect.logInfo(
      `mirrormanager listening on http://${config.httpHost}:${config.httpPort} (${config.role} node, data in ${path.resolve(config.dataDir)})`
    )
  })
)
