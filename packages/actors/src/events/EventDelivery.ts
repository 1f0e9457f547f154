// Host events delivered to a webhook (docs/crawler.md#results: "mail/webhook to site admins, the robot email and the
// admin feed"): host_events is the outbox. One node of the cluster (a singleton) posts each new event as JSON to the
// configured URL, in order and at least once (a receiver may see one twice, by its id), retrying with backoff while the
// receiver fails; an event still undelivered a day after it happened, or refused by the receiver (400, 413, 415, 422),
// is given up, and said so in the log. With a secret, each body is signed: `X-MirrorManager-Signature: sha256=<hex
// HMAC-SHA256 of the body>`.
import { createHmac } from "node:crypto"
import type { HostId, SiteId } from "@mirrormanager/domain/registry"
import { Duration, Effect, Layer, Redacted, Schedule } from "effect"
import { Singleton } from "effect/cluster"
import { SqlClient } from "effect/sql"

export interface EventDeliveryOptions {
  /** Where events are posted; none: not delivered (they stay in the feed). */
  readonly url: string | undefined
  readonly secret: Redacted.Redacted<string> | undefined
  /** How often undelivered events are looked for. */
  readonly pollEvery: Duration.Duration
  readonly timeout: Duration.Duration
  /** The wait after a first failed attempt; it doubles with each further one, up to ten minutes. */
  readonly firstRetry: Duration.Duration
}

export const defaultEventDeliveryOptions: Omit<EventDeliveryOptions, "url" | "secret"> = {
  pollEvery: Duration.seconds(2),
  timeout: Duration.seconds(10),
  firstRetry: Duration.seconds(5)
}

/** Answers that refuse the event itself (malformed, too large, not processable): not sent again. */
const PERMANENT_REFUSALS = new Set([400, 413, 415, 422])

/** How long an event is tried, and the longest wait between two attempts. */
const GIVE_UP_AFTER_SECONDS = 86_400
const MAX_BACKOFF_SECONDS = 600

interface PendingEvent {
  readonly id: number
  readonly kind: string
  readonly at: number
  readonly siteId: SiteId
  readonly hostId: HostId
  readonly details: unknown
  readonly attempts: number
  /** Its next attempt is due (not waiting out a backoff). */
  readonly due: boolean
}

export const signature = (secret: string, body: string) =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`

export const EventDeliveryLayer = (options: EventDeliveryOptions) =>
  options.url === undefined
    ? Layer.empty
    : Singleton.make(
        "mirrormanager/EventDelivery",
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const url = options.url!
          yield* Effect.logInfo(`host events are posted to ${new URL(url).origin}`)

          /** Posts one event: what went wrong (nothing when the receiver took it, 2xx), and whether it refused it. */
          const post = (event: PendingEvent) =>
            Effect.promise(async () => {
              const body = JSON.stringify({
                id: event.id,
                kind: event.kind,
                at: event.at,
                siteId: event.siteId,
                hostId: event.hostId,
                details: event.details
              })
              const headers: Record<string, string> = {
                "content-type": "application/json",
                "user-agent": "mirrormanager-events/0.1"
              }
              if (options.secret !== undefined) {
                headers["x-mirrormanager-signature"] = signature(Redacted.value(options.secret), body)
              }
              try {
                const response = await fetch(url, {
                  method: "POST",
                  headers,
                  body,
                  redirect: "error",
                  signal: AbortSignal.timeout(Duration.toMillis(options.timeout))
                })
                await response.body?.cancel()
                // What the receiver says of this event itself; 401/403/404 and the like are more often a receiver
                // being set up or redeployed, and are tried again.
                const refused = PERMANENT_REFUSALS.has(response.status)
                return response.ok
                  ? { failure: undefined, refused: false }
                  : { failure: `answered ${response.status}`, refused }
              } catch (error) {
                const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error
                return { failure: cause instanceof Error ? cause.message : String(cause), refused: false }
              }
            })

          /** Delivers what is due, oldest first; stops at the first failure so that events arrive in order. */
          const deliver = Effect.gen(function* () {
            // A day after it happened an event is given up, delivered or not, and said so.
            const aged = yield* sql<{ id: number }>`
              UPDATE host_events SET delivery_abandoned = true
              WHERE delivered_at IS NULL AND NOT delivery_abandoned
                AND at <= now() - make_interval(secs => ${GIVE_UP_AFTER_SECONDS})
              RETURNING id::int AS id`
            if (aged.length > 0) {
              yield* Effect.logError("host events not delivered within a day; given up").pipe(
                Effect.annotateLogs({ events: aged.length, firstId: Math.min(...aged.map((a) => a.id)) })
              )
            }
            const due = yield* sql<PendingEvent>`
              SELECT id::int AS id, kind, extract(epoch FROM at)::int AS at, site_id AS "siteId", host_id AS "hostId",
                     details, delivery_attempts AS attempts,
                     (next_attempt_at IS NULL OR next_attempt_at <= now()) AS due
              FROM host_events
              WHERE delivered_at IS NULL AND NOT delivery_abandoned
              ORDER BY id LIMIT 100`
            for (const event of due) {
              // The oldest waits out its backoff, and the later ones wait for it.
              if (!event.due) return
              const { failure, refused } = yield* post(event)
              if (failure === undefined) {
                yield* sql`UPDATE host_events SET delivered_at = now(), delivery_attempts = delivery_attempts + 1
                  WHERE id = ${event.id}`
                continue
              }
              if (refused) {
                // The receiver will not take this one (400, 413, 415, 422): trying again would not help, and
                // the later ones would wait behind it.
                yield* sql`UPDATE host_events SET delivery_abandoned = true, delivery_attempts = delivery_attempts + 1
                  WHERE id = ${event.id}`
                yield* Effect.logError("the webhook refused a host event; not sent again").pipe(
                  Effect.annotateLogs({ eventId: event.id, kind: event.kind, failure })
                )
                continue
              }
              const attempts = event.attempts + 1
              const wait = Math.min(MAX_BACKOFF_SECONDS, Duration.toSeconds(options.firstRetry) * 2 ** (attempts - 1))
              // Given up only by the sweep above, a day after the event happened.
              yield* sql`UPDATE host_events SET delivery_attempts = ${attempts},
                  next_attempt_at = now() + make_interval(secs => ${wait})
                WHERE id = ${event.id}`
              yield* Effect.logWarning("a host event could not be delivered; trying again").pipe(
                Effect.annotateLogs({ eventId: event.id, kind: event.kind, attempts, failure, retryInSeconds: wait })
              )
              // The later ones wait for this one.
              return
            }
          }).pipe(Effect.catchCause((cause) => Effect.logError("delivering host events failed", cause)))

          return yield* deliver.pipe(Effect.repeat(Schedule.spaced(options.pollEvery)), Effect.asVoid)
        })
      )
