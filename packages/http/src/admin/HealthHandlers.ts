// /healthz/live answers while the process runs; /healthz/ready only when the node can serve its API.
import { Readiness } from "@mirrormanager/actors/health"
import { Api, NotReady } from "@mirrormanager/domain/api"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"

export const HealthHandlers = HttpApiBuilder.group(
  Api,
  "health",
  Effect.fn(function* (handlers) {
    const readiness = yield* Readiness
    return handlers
      .handle("live", () => Effect.succeed({ status: "live" } as const))
      .handle("ready", () =>
        Effect.flatMap(readiness.check, (report) =>
          report.status === "ready"
            ? Effect.succeed(report)
            : Effect.fail(new NotReady({ detail: "the node is not ready", checks: report.checks }))
        )
      )
  })
)
