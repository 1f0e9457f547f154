// The node's HTTP routes for the admin API: handlers, authentication, problem details, body limit, docs; and the
// XML-RPC check-in of report_mirror, which answers in its own terms (faults, reply strings) under its own limit.
import { Api } from "@mirrormanager/domain/api/Api"
import { Layer } from "effect"
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
