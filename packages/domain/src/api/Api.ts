// The admin HTTP API of a node: one contract for the server, typed clients and the OpenAPI document.
import { HttpApi, HttpApiMiddleware, OpenApi } from "effect/http-api"
import { AccountsApi } from "./AccountsApi.ts"
import { ContentApi } from "./ContentApi.ts"
import { EventsApi } from "./EventsApi.ts"
import { completeDocument } from "./FrontEndpoints.ts"
import { HealthApi } from "./HealthApi.ts"
import { HostsApi } from "./HostsApi.ts"
import { MasterTreeApi } from "./MasterTreeApi.ts"
import { OverridesApi } from "./OverridesApi.ts"
import { PropagationApi } from "./PropagationApi.ts"
import { SitesApi } from "./SitesApi.ts"

export class Api extends HttpApi.make("mirrormanager")
  .add(HealthApi, AccountsApi, SitesApi, HostsApi, ContentApi, MasterTreeApi, OverridesApi, EventsApi, PropagationApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
  // Unknown fields in a request body are an error, not silently dropped.
  .annotate(HttpApi.PayloadParseOptions, { onExcessProperty: "error", errors: "all" })
  .annotateMerge(
    OpenApi.annotations({
      title: "MirrorManager admin API",
      version: "0.1.0",
      description:
        "Registry of mirror sites, hosts, categories, URLs and networks under `/api/`: authenticate with `Authorization: Bearer <token>`; bodies are JSON, errors RFC 9457 problem documents. Besides, every node answers dnf and yum (`/metalink`, `/mirrorlist`, `/download/…`), mirror check-ins (`/xmlrpc`), health probes and Prometheus (`/metrics`) without a token.",
      // The endpoints answered outside this HttpApi (the front server's, the XML-RPC check-in) are added here.
      transform: completeDocument
    })
  ) {}
