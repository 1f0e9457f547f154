// The node's HTTP routes for the admin API: handlers, authentication, problem details, body limit, docs; and the
// XML-RPC check-in of report_mirror, which answers in its own terms (faults, reply strings) under its own limit.
import type { Netblock } from "@mirrormanager/actors/ipdata"
import { clientAddress } from "@mirrormanager/actors/redirector"
import { Api } from "@mirrormanager/domain/api"
import { Effect, Layer, Option } from "effect"
import { HttpBody, HttpMiddleware, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiMiddleware } from "effect/http-api"
import { XMLRPC_PATH, XmlRpcRoute } from "../checkin/index.ts"
import { PagesRoutes } from "../pages/index.ts"
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
import { SitesHandlers } from "./SitesHandlers.ts"

export const MAX_API_BODY_BYTES = 1024 * 1024

const isJson = (contentType: string) => /^application\/(?:[\w.-]+\+)?json\b/.test(contentType)

/** A JSON body (a problem document too) with a final newline, unless it has one. */
const withFinalNewline = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  const body = response.body
  if (body._tag !== "Uint8Array" || body.contentLength === 0 || !isJson(body.contentType)) return response
  if (body.text !== undefined) {
    return body.text.endsWith("\n")
      ? response
      : HttpServerResponse.setBody(response, HttpBody.text(`${body.text}\n`, body.contentType))
  }
  const bytes = body.body
  if (bytes[bytes.length - 1] === 0x0a) return response
  return HttpServerResponse.setBody(response, HttpBody.uint8Array(Buffer.concat([bytes, NEWLINE]), body.contentType))
}
const NEWLINE = Buffer.from("\n")

/**
 * JSON answers end with a newline, so that `curl` output does not run into the next prompt or the next answer.
 * Outermost: it sees the answers the other middleware make (problem documents for failures) too.
 */
const JsonFinalNewline = HttpRouter.middleware((httpEffect) => Effect.map(httpEffect, withFinalNewline), {
  global: true
})

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
  PagesRoutes,
  XmlRpcRoute,
  problemResponses({ maxBodyBytes: MAX_API_BODY_BYTES, except: [XMLRPC_PATH] }),
  NotFoundRoute
  // Built first, so that it is the outermost global middleware (the first added wraps all the others).
).pipe(Layer.provide(JsonFinalNewline))

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
