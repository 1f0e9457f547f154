// Host events (docs/crawler.md#results): written in the transaction that caused them (so an event is never lost nor
// told of a change that did not happen), logged, and read by admins as a feed: site admins their sites' events, global
// admins all.

import type { HostEvent, HostEventFeedQuery, HostEventKind } from "@mirrormanager/domain/events"
import type { HostId, Principal, SiteId } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

/** Events kept per site, and for how long. */
const EVENTS_KEPT_DAYS = 90

export interface NewHostEvent {
  readonly kind: HostEventKind
  readonly siteId: SiteId
  readonly hostId: HostId
  readonly details: Readonly<Record<string, unknown>>
}

/** Held by a transaction that writes an event, to its end: ids are then taken in the order events commit. */
const EVENTS_LOCK = 0x6d6d_6576

export class HostEvents extends Context.Service<
  HostEvents,
  {
    /**
     * Records an event within the caller's transaction, and logs it. Event writers take turns (a transaction-level
     * lock), so a feed reader or the webhook that has seen id N never later meets a smaller id committed after it.
     */
    readonly record: (event: NewHostEvent) => Effect.Effect<void, SqlError.SqlError>
    /**
     * The events the caller may see: newest first, or with `after` the ones after it, oldest first (a feed reader's
     * next page).
     */
    readonly feed: (p: Principal, query: HostEventFeedQuery) => Effect.Effect<ReadonlyArray<HostEvent>>
  }
>()("actors/HostEvents") {
  static readonly layer = Layer.effect(
    HostEvents,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      return HostEvents.of({
        record: Effect.fn("HostEvents.record")(function* (event) {
          yield* sql`SELECT pg_advisory_xact_lock(${EVENTS_LOCK})`
          yield* sql`INSERT INTO host_events (kind, site_id, host_id, details)
            VALUES (${event.kind}, ${event.siteId}, ${event.hostId}, ${JSON.stringify(event.details)}::jsonb)`
          yield* sql`DELETE FROM host_events WHERE at < now() - make_interval(days => ${EVENTS_KEPT_DAYS})`
          yield* Effect.logWarning(event.kind).pipe(
            Effect.annotateLogs({ siteId: event.siteId, hostId: event.hostId, ...event.details })
          )
        }),
        feed: Effect.fn("HostEvents.feed")(function* (p, query) {
          return yield* sql<HostEvent>`
            SELECT id::int AS id, kind, extract(epoch FROM at)::int AS at, site_id AS "siteId", host_id AS "hostId",
                   details
            FROM host_events
            WHERE (${p.admin} OR site_id IN (SELECT value::int FROM jsonb_array_elements_text(${JSON.stringify([...p.siteIds])}::jsonb)))
              AND (${query.kind === undefined} OR kind = ${query.kind ?? ""})
              AND (${query.hostId === undefined} OR host_id = ${query.hostId ?? 0})
              AND id > ${query.after ?? 0}
            ORDER BY ${query.after === undefined ? sql`id DESC` : sql`id ASC`}
            LIMIT ${query.limit ?? 100}`.pipe(Effect.orDie)
        })
      })
    })
  )
}
