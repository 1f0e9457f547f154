// The node's HTTP routes for the admin API: handlers, authentication, problem details, body limit, docs; and the
// XML-RPC check-in of report_mirror, which answers in its own terms (faults, reply strings) under its own limit.
import type { Netblock } from "@mirrormanager/actors/IpAddress"
import { Api } from "@mirrormanager/domain/api/Api"
import { Effect, Layer, Option } from "effect"
import { HttpMiddleware, HttpRouter, HttpServerRequest, type HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiMiddleware } from "effect/http-api"
import { AccountsHandlers } from "./AccountsHandlers.ts"
import { ApiDocsRoute } from "./ApiDocs.ts"
import { AuthenticationLayer } from "./Authentication.ts"
import { ContentHandlers } from "./ContentHandlers.ts"
import { EventsHandlers } from "./EventsHandlers.ts"
import { HealthHandlers } from "./HealthHandlers.ts"
import { HostsHandlers } from "./HostsHandlers.ts"
import { MasterTreeHandlers } from "./MasterTreeHandlers.ts"
import { OverridesHandlers } from "./OverridesHandlers.ts"
import { NotFoundRoute, problemResponses } from "./ProblemResponses.ts"
import { PropagationHandlers } from "./PropagationHandlers.ts"
import { clientAddress } from "./RedirectorAnswer.ts"
import { SitesHandlers } from "./SitesHandlers.ts"
import { XMLRPC_PATH, XmlRpcRoute } from "./XmlRpcRoute.ts"

export const MAX_API_BODY_BYTES = 1024 * 1024

export const AdminApiRoutes = Layer.mergeAll(
  HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }).pipe(
    Layer.provide([
      HealthHandlers,
      AccountsHandlers,
      SitesHandlers,
      HostsHandlers,
      ContentHandlers,
      MasterTreeHandlers,
      OverridesHandlers,
      EventsHandlers,
      PropagationHandlers
    ]),
    Layer.provide([AuthenticationLayer, HttpApiMiddleware.layerProblemDetails({ includeDetails: true })])
  ),
  ApiDocsRoute,
  XmlRpcRoute,
  problemResponses({ maxBodyBytes: MAX_API_BODY_BYTES, except: [XMLRPC_PATH] }),
  NotFoundRoute
)

/**
 * The client of a request by the redirector's rule (MM_TRUSTED_PROXIES: `X-Forwarded-For` walked from the right
 * while the hops are trusted proxies) becomes the request's remote address, which check-ins limit failed logins by,
 * and is on every log line of the request (`client=`), the request log included.
 */
export const withClientAddress =
  (trustedProxies: ReadonlyArray<Netblock>) =>
  <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const peer = Option.getOrUndefined(request.remoteAddress)
      const forwarded = trustedProxies.length === 0 ? undefined : request.headers["x-forwarded-for"]
      const client = clientAddress(peer, forwarded, trustedProxies)?.text ?? peer
      const resolved = client === peer ? request : request.modify({ remoteAddress: Option.fromUndefinedOr(client) })
      return yield* app.pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, resolved),
        Effect.annotateLogs({ client })
      )
    })

/** The admin API served on the node's HTTP server, with its request log. */
export const serveAdminApi = (options: { readonly trustedProxies: ReadonlyArray<Netblock> }) =>
  HttpRouter.serve(AdminApiRoutes, {
    disableListenLog: true,
    disableLogger: true,
    middleware: (app) => withClientAddress(options.trustedProxies)(HttpMiddleware.logger(app))
  })
