// Handler of /api/events: the admin feed of host events, as far as the caller may see it.
import { HostEvents } from "@mirrormanager/actors/events"
import { Api } from "@mirrormanager/domain/api"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { asCaller } from "./Principal.ts"

export const EventsHandlers = HttpApiBuilder.group(
  Api,
  "events",
  Effect.fn(function* (handlers) {
    const events = yield* HostEvents
    return handlers.handle("listEvents", ({ query }) => asCaller((p) => events.feed(p, query)))
  })
)
