// Handler of /api/events: the admin feed of host events, as far as the caller may see it.
import { listHostEvents } from "@mirrormanager/actors/events"
import { Api } from "@mirrormanager/domain/api"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { SqlClient } from "effect/sql"
import { asCaller } from "./Principal.ts"

export const EventsHandlers = HttpApiBuilder.group(
  Api,
  "events",
  Effect.fn(function* (handlers) {
    const sql = yield* SqlClient.SqlClient
    return handlers.handle("listEvents", ({ query }) => asCaller((p) => listHostEvents(sql, p, query)))
  })
)
