// Handler of /api/propagation: the crawler's propagation statistics, for any signed-in user.
import { listPropagation } from "@mirrormanager/actors/crawler"
import { Api } from "@mirrormanager/domain/api"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { SqlClient } from "effect/sql"

export const PropagationHandlers = HttpApiBuilder.group(
  Api,
  "propagation",
  Effect.fn(function* (handlers) {
    const sql = yield* SqlClient.SqlClient
    return handlers.handle("listPropagation", ({ query }) => listPropagation(sql, query.repositoryId))
  })
)
