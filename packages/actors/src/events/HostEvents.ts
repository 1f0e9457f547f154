// Host events (SPEC 7.4): written in the transaction that caused them (so an event is never lost nor told of a change
// that did not happen), logged, and read by admins as a feed: site admins their sites' events, global admins all.

import type { HostEvent, HostEventKind } from "@mirrormanager/domain/api"
import type { Principal } from "@mirrormanager/domain/registry"
import { Effect } from "effect"
import type { SqlClient } from "effect/sql"

/** Events kept per site, and for how long. */
const EVENTS_KEPT_DAYS = 90

export interface NewHostEvent {
  readonly kind: HostEventKind
  readonly siteId: number
  readonly hostId: number
  readonly details: Readonly<Record<string, unknown>>
}

/** Held by a transaction that writes an event, to its end: ids are then taken in the order events commit. */
const EVENTS_LOCK = 0x6d6d_6576

/**
 * Records an event within the caller's transaction, and logs it. Event writers take turns (a transaction-level
 * lock), so a feed reader or the webhook that has seen id N never later meets a smaller id committed after it.
 */
export const recordHostEvent = (sql: SqlClient.SqlClient, event: NewHostEvent) =>
  Effect.gen(function* () {
    yield* sql`SELECT pg_advisory_xact_lock(${EVENTS_LOCK})`
    yield* sql`INSERT INTO host_events (kind, site_id, host_id, details)
      VALUES (${event.kind}, ${event.siteId}, ${event.hostId}, ${JSON.stringify(event.details)}::jsonb)`
    yield* sql`DELETE FROM host_events WHERE at < now() - make_interval(days => ${EVENTS_KEPT_DAYS})`
    yield* Effect.logWarning(event.kind).pipe(
      Effect.annotateLogs({ siteId: event.siteId, hostId: event.hostId, ...event.details })
    )
  })

export interface EventsQuery {
  readonly kind?: HostEventKind
  readonly hostId?: number
  readonly after?: number
  readonly limit?: number
}

/** The events the caller may see: newest first, or with `after` the ones after it, oldest first (a feed reader's
 * next page). */
export const listHostEvents = (sql: SqlClient.SqlClient, principal: Principal, query: EventsQuery) =>
  sql<HostEvent>`
    SELECT id::int AS id, kind, extract(epoch FROM at)::int AS at, site_id AS "siteId", host_id AS "hostId", details
    FROM host_events
    WHERE (${principal.admin} OR site_id IN (SELECT value::int FROM jsonb_array_elements_text(${JSON.stringify([...principal.siteIds])}::jsonb)))
      AND (${query.kind === undefined} OR kind = ${query.kind ?? ""})
      AND (${query.hostId === undefined} OR host_id = ${query.hostId ?? 0})
      AND id > ${query.after ?? 0}
    ORDER BY ${query.after === undefined ? sql`id DESC` : sql`id ASC`}
    LIMIT ${query.limit ?? 100}`.pipe(Effect.catchTag("SqlError", (error) => Effect.die(error)))
