// Host events: what the crawler tells a host's admins (a host switched off after consecutive failed crawls, repodata
// that was up to date gone stale, an https certificate about to expire), and the query of their feed.
import { Schema } from "effect"
import { EpochSeconds, HostId, SiteId } from "../registry/index.ts"

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

/** Which events of the feed: of a kind, of a host, after a cursor, how many. */
export const HostEventFeedQuery = Schema.Struct({
  kind: Schema.optionalKey(HostEventKind),
  hostId: Schema.optionalKey(HostId),
  /** Only events after this one, oldest first (a feed reader's cursor: the last id it has seen). */
  after: Schema.optionalKey(Schema.Int),
  limit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })))
})
export type HostEventFeedQuery = typeof HostEventFeedQuery.Type
