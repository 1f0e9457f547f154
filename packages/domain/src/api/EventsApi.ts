// The admin feed (SPEC 7.4, 7.6): what the crawler tells a host's admins — a host switched off after consecutive
// failed crawls, repodata that was up to date gone stale, an https certificate about to expire. Site admins see their
// sites' events, global admins all.
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { EpochSeconds, HostId, SiteId } from "../registry/index.ts"
import { Authentication } from "./Authentication.ts"

export const HostEventKind = Schema.Literals(["HostAutoDisabled", "HostNotUpToDate", "TlsCertificateExpiring"])
export type HostEventKind = typeof HostEventKind.Type

export const HostEvent = Schema.Struct({
  id: Schema.Int,
  kind: HostEventKind,
  at: EpochSeconds,
  siteId: SiteId,
  hostId: HostId,
  /**
   * HostAutoDisabled: siteName, hostName, crawledAt, reason, crawlLogUrl. HostNotUpToDate: siteName, hostName,
   * category, directories. TlsCertificateExpiring: siteName, hostName, urls (each url and expiresAt).
   */
  details: Schema.Record(Schema.String, Schema.Unknown)
}).annotate({ identifier: "HostEvent" })
export type HostEvent = typeof HostEvent.Type

export const EventsQuery = {
  kind: Schema.optionalKey(HostEventKind),
  hostId: Schema.optionalKey(HostId),
  /** Only events after this one, oldest first (a feed reader's cursor: the last id it has seen). */
  after: Schema.optionalKey(Schema.Int),
  limit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })))
}

export class EventsApi extends HttpApiGroup.make("events")
  .add(
    HttpApiEndpoint.get("listEvents", "/api/events", {
      query: EventsQuery,
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
