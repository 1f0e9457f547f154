// The admin feed (docs/crawler.md#events-and-webhook): what the crawler tells a host's admins — a host switched off
// after consecutive failed crawls, repodata that was up to date gone stale, an https certificate about to expire. Site
// admins see their sites' events, global admins all.
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { HostEvent, HostEventFeedQuery } from "../events/index.ts"
import { Authentication } from "./Authentication.ts"

export class EventsApi extends HttpApiGroup.make("events")
  .add(
    HttpApiEndpoint.get("listEvents", "/api/events", {
      query: HostEventFeedQuery.fields,
      success: Schema.Array(HostEvent)
    })
  )
  .middleware(Authentication)
  .annotateMerge(
    OpenApi.annotations({
      title: "Events",
      description: "Newest first; with `after`, the ones after it, oldest first."
    })
  ) {}
