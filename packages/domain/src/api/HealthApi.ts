// Liveness and readiness of a node (no authentication).
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiError, HttpApiGroup, OpenApi } from "effect/http-api"

export const Readiness = Schema.Struct({
  status: Schema.Literals(["ready", "degraded", "starting"]),
  checks: Schema.Record(Schema.String, Schema.String)
}).annotate({ identifier: "Readiness" })
export type Readiness = typeof Readiness.Type

export class NotReady extends HttpApiError.Problem<NotReady>()(
  "NotReady",
  { type: "about:blank", status: 503, title: "Service Unavailable" },
  { checks: Schema.Record(Schema.String, Schema.String) }
) {}

export class HealthApi extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("live", "/healthz/live", { success: Schema.Struct({ status: Schema.Literal("live") }) }),
    HttpApiEndpoint.get("ready", "/healthz/ready", { success: Readiness, error: NotReady })
  )
  .annotateMerge(OpenApi.annotations({ title: "Health" })) {}
