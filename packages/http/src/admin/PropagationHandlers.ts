// Handler of /api/propagation: the crawler's propagation statistics, for any signed-in user.
import { Propagation } from "@mirrormanager/actors/crawler"
import { Api } from "@mirrormanager/domain/api"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { asCaller } from "./Principal.ts"

export const PropagationHandlers = HttpApiBuilder.group(
  Api,
  "propagation",
  Effect.fn(function* (handlers) {
    const propagation = yield* Propagation
    return handlers.handle("listPropagation", ({ query }) => asCaller((p) => propagation.list(p, query.repositoryId)))
  })
)
