// Liveness and readiness of a node (no authentication).
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiError, HttpApiGroup, OpenApi } from "effect/http-api"
import { ReadinessReport } from "../health/index.ts"

export class NotReady extends HttpApiError.Problem<NotReady>()(
  "NotReady",
  { type: "about:blank", status: 503, title: "Service Unavailable" },
  { checks: Schema.Record(Schema.String, Schema.String) }
) {}

export class HealthApi extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("live", "/healthz/live", {
      success: Schema.Struct({ status: Schema.Literal("live") })
    }).annotateMerge(OpenApi.annotations({ summary: "Liveness", description: "200 while the process runs." })),
    HttpApiEndpoint.get("ready", "/healthz/ready", { success: ReadinessReport, error: NotReady }).annotateMerge(
      OpenApi.annotations({
        summary: "Readiness",
        description:
          "200 with `ready` while the node follows the database; 200 with `degraded` while it answers mirrorlists from its last index (or the snapshot on disk) because the database is unreachable: it stays in rotation, and its admin API answers 503 meanwhile; 503 with `starting` until it has an index to answer from. `checks` says how the index and the database are."
      })
    )
  )
  .annotateMerge(
    OpenApi.annotations({
      title: "Health",
      description: "Answered by every node directly, also while the database is down. No authentication."
    })
  ) {}
