// A report_mirror check-in at any node (docs/checkin.md#server-rules): failed logins limited, the site's password
// verified, the host found; then the host's entity applies it (HostStore.applyCheckin), one after another for one
// host wherever they arrive, and the change stream carries what it changed to every redirector.
import { CheckinReplies, type NumberedCheckin } from "@mirrormanager/domain/checkin"
import { HostEntity } from "@mirrormanager/domain/host"
import type { HostId, SiteId } from "@mirrormanager/domain/registry"
import { Context, Data, Effect, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { within } from "../db/index.ts"
import { verifyPassword } from "../registry/index.ts"

/**
 * Each database step of a check-in not done by then (the failed-login count, the site and host look-ups, the host
 * entity's write: a pool whose connections are all taken, a slow statement, a busy entity) answers it as failed and
 * withdraws it, which rolls its write back; the client tries again after its next rsync. Verifying the password
 * (scrypt, CPU on the thread pool) is not counted: a burst of check-ins queues there, and that queue is no database
 * wait.
 */
const CHECKIN_TIMEOUT = "30 seconds"

/** A database step of a check-in that did not end within CHECKIN_TIMEOUT. */
class CheckinTimedOut extends Data.TaggedError("CheckinTimedOut")<{}> {}

/** Where a check-in came from (for the rate limit and the log). */
export interface CheckinSource {
  readonly address: string | undefined
}

export interface FailedLoginLimits {
  /** Failed logins per site name, and per source address, within `failureWindowSeconds`, before refusing. */
  readonly failuresAllowed: number
  readonly failureWindowSeconds: number
}

export const FAILED_LOGIN_LIMITS: FailedLoginLimits = { failuresAllowed: 10, failureWindowSeconds: 15 * 60 }

/** A password hash to verify against when the site does not exist, so both cases take as long. */
const NO_SITE_HASH = `scrypt$16384$8$1$${Buffer.alloc(16).toString("base64")}$${Buffer.alloc(32).toString("base64")}`

export class Checkins extends Context.Service<
  Checkins,
  {
    /** Applies a check-in; the reply is the text the client prints (docs/checkin.md#payload), never a failure. */
    readonly checkIn: (report: NumberedCheckin, source: CheckinSource) => Effect.Effect<string>
  }
>()("actors/Checkins") {
  static readonly layer = (limits: FailedLoginLimits = FAILED_LOGIN_LIMITS) =>
    Layer.effect(
      Checkins,
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const window = `${limits.failureWindowSeconds} seconds`

        const scopes = (report: NumberedCheckin, source: CheckinSource) => [
          `site:${report.siteName}`,
          ...(source.address === undefined ? [] : [`address:${source.address}`])
        ]

        const recentFailures = (keys: ReadonlyArray<string>) =>
          sql<{ readonly count: number }>`SELECT count(*)::int AS count FROM checkin_failures
            WHERE at > now() - ${window}::interval
              AND scope IN (SELECT value FROM jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb))
            GROUP BY scope ORDER BY count DESC LIMIT 1`.pipe(Effect.map((rows) => rows[0]?.count ?? 0))

        const recordFailure = (keys: ReadonlyArray<string>) =>
          Effect.gen(function* () {
            yield* sql`DELETE FROM checkin_failures WHERE at < now() - ${window}::interval`
            yield* sql`INSERT INTO checkin_failures (scope)
              SELECT value FROM jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb)`
          })

        /** One database step of a check-in, within CHECKIN_TIMEOUT. */
        const bounded = <A, E, R>(step: Effect.Effect<A, E, R>) =>
          step.pipe(
            within(CHECKIN_TIMEOUT),
            Effect.flatMap(
              Option.match({
                onSome: Effect.succeed,
                onNone: () => Effect.fail(new CheckinTimedOut())
              })
            )
          )

        /** Site id when the name and password match, else undefined (after a scrypt either way). */
        const authenticate = (report: NumberedCheckin) =>
          Effect.gen(function* () {
            const rows = yield* bounded(sql<{ readonly id: SiteId; readonly passwordHash: string }>`
              SELECT id, password_hash AS "passwordHash" FROM sites WHERE name = ${report.siteName}`)
            const site = rows[0]
            const matches = yield* verifyPassword(
              Redacted.value(report.sitePassword),
              site?.passwordHash ?? NO_SITE_HASH
            )
            return site !== undefined && matches ? site.id : undefined
          })

        const hosts = yield* HostEntity.client

        const checkIn = Effect.fn("Checkins.checkIn")(function* (report: NumberedCheckin, source: CheckinSource) {
          const keys = scopes(report, source)
          if ((yield* bounded(recentFailures(keys))) >= limits.failuresAllowed) {
            yield* Effect.logWarning("check-in refused: too many failed logins").pipe(
              Effect.annotateLogs({ site: report.siteName, address: source.address })
            )
            return CheckinReplies.badCredentials
          }
          const siteId = yield* authenticate(report)
          if (siteId === undefined) {
            yield* bounded(recordFailure(keys))
            yield* Effect.logWarning("check-in with a wrong site name or password").pipe(
              Effect.annotateLogs({ site: report.siteName, address: source.address })
            )
            return CheckinReplies.badCredentials
          }
          const found = yield* bounded(sql<{ readonly id: HostId }>`
            SELECT id FROM hosts WHERE site_id = ${siteId} AND name = ${report.hostName}`)
          const hostId = found[0]?.id
          if (hostId === undefined) return CheckinReplies.unknownHost
          // The host's entity applies it, on whichever node holds it, after the host's earlier messages.
          const applied = yield* bounded(
            hosts(String(hostId)).Checkin({
              checkin: { userActive: report.userActive, sections: report.sections }
            })
          )
          yield* Effect.logInfo("check-in").pipe(
            Effect.annotateLogs({ site: report.siteName, host: report.hostName, hostId })
          )
          return `${applied}${CheckinReplies.success}`
        })

        return Checkins.of({
          // An unexpected failure (the host deleted meanwhile, its node unreachable, the database) changed nothing
          // (the entity's transaction is rolled back): the client is told so.
          checkIn: (report, source) =>
            checkIn(report, source).pipe(
              Effect.catchTag("CheckinTimedOut", () =>
                Effect.as(
                  Effect.logError(`check-in failed: the database did not answer within ${CHECKIN_TIMEOUT}`).pipe(
                    Effect.annotateLogs({ site: report.siteName, host: report.hostName })
                  ),
                  CheckinReplies.failure
                )
              ),
              Effect.catchCause((cause) =>
                Effect.as(
                  Effect.logError("check-in failed", cause).pipe(
                    Effect.annotateLogs({ site: report.siteName, host: report.hostName })
                  ),
                  CheckinReplies.failure
                )
              )
            )
        })
      })
    )
}
