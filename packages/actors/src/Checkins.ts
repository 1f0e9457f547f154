// Applying a report_mirror check-in (SPEC 6.2 rules 4-12): the site's password, the host, its categories and the
// directories it carries. A private host's check-in is authoritative; a public host's is kept as a claim for a
// crawl to verify. One check-in is one transaction that holds its host's row, so check-ins of one host, sent to any
// node, apply one after the other; the change stream carries what they change to every redirector.
import { CheckinReplies, type CheckinReport } from "@mirrormanager/domain/Checkin"
import { Context, Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { verifyPassword } from "./Secrets.ts"

/** Where a check-in came from (for the rate limit and the log). */
export interface CheckinSource {
  readonly address: string | undefined
}

export interface CheckinLimits {
  /** Failed logins per site name, and per source address, within `failureWindowSeconds`, before refusing. */
  readonly failuresAllowed: number
  readonly failureWindowSeconds: number
}

export const CHECKIN_FAILURE_LIMITS: CheckinLimits = { failuresAllowed: 10, failureWindowSeconds: 15 * 60 }

/** A password hash to verify against when the site does not exist, so both cases take as long. */
const NO_SITE_HASH = `scrypt$16384$8$1$${Buffer.alloc(16).toString("base64")}$${Buffer.alloc(32).toString("base64")}`

interface HostRow {
  readonly id: number
  readonly private: boolean
  readonly userActive: boolean
  readonly disabledBy: string
}

interface HostCategoryRow {
  readonly hostCategoryId: number
  readonly categoryId: number
  readonly name: string
  readonly topdir: string
}

export class Checkins extends Context.Service<
  Checkins,
  {
    /** Applies a check-in; the reply is the text the client prints (SPEC 6.1), never a failure. */
    readonly checkIn: (report: CheckinReport, source: CheckinSource) => Effect.Effect<string>
  }
>()("actors/Checkins") {
  static readonly layer = (limits: CheckinLimits = CHECKIN_FAILURE_LIMITS) =>
    Layer.effect(
      Checkins,
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const window = `${limits.failureWindowSeconds} seconds`

        const scopes = (report: CheckinReport, source: CheckinSource) => [
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

        /** Site id when the name and password match, else undefined (after a scrypt either way). */
        const authenticate = (report: CheckinReport) =>
          Effect.gen(function* () {
            const rows = yield* sql<{ readonly id: number; readonly passwordHash: string }>`
              SELECT id, password_hash AS "passwordHash" FROM sites WHERE name = ${report.siteName}`
            const site = rows[0]
            const matches = yield* verifyPassword(
              Redacted.value(report.sitePassword),
              site?.passwordHash ?? NO_SITE_HASH
            )
            return site !== undefined && matches ? site.id : undefined
          })

        /** The check-in proper, in one transaction; the lines of the reply so far go to `lines`. */
        const apply = (report: CheckinReport, siteId: number, lines: Array<string>) =>
          Effect.gen(function* () {
            const hosts = yield* sql<HostRow>`
              SELECT id, private, user_active AS "userActive", disabled_by AS "disabledBy" FROM hosts
              WHERE site_id = ${siteId} AND name = ${report.hostName} FOR UPDATE`
            const host = hosts[0]
            if (host === undefined) return CheckinReplies.unknownHost

            if (report.userActive === false && (host.userActive || host.disabledBy !== "user")) {
              yield* sql`UPDATE hosts SET user_active = false, disabled_by = 'user',
                disable_reason = 'disabled by report_mirror (user_active)' WHERE id = ${host.id}`
            } else if (
              report.userActive === true &&
              !host.userActive &&
              (host.disabledBy === "user" || (host.disabledBy === "crawler" && host.private))
            ) {
              // A crawler's disable of a public host is lifted by a successful crawl only.
              yield* sql`UPDATE hosts SET user_active = true, disabled_by = 'none', disable_reason = NULL
                WHERE id = ${host.id}`
            }

            const categories = yield* sql<HostCategoryRow>`
              SELECT hc.id AS "hostCategoryId", c.id AS "categoryId", c.name, d.name AS topdir
              FROM host_categories hc JOIN categories c ON c.id = hc.category_id JOIN directories d ON d.id = c.topdir_id
              WHERE hc.host_id = ${host.id}`
            const byKey = new Map(categories.map((c) => [c.name.toLowerCase(), c]))

            for (const reported of report.categories) {
              if (!reported.enabled) continue
              const category = byKey.get(reported.key.toLowerCase())
              if (category === undefined) {
                lines.push(`Category ${reported.key} not configured for this host, skipped\n`)
                continue
              }
              const names = reported.directories.map((path) =>
                path === "" ? category.topdir : `${category.topdir}/${path}`
              )
              // The reported paths that are directories of the category, as paths below its top.
              const known = yield* sql<{ readonly directoryId: number; readonly path: string }>`
                SELECT d.id AS "directoryId",
                       CASE WHEN d.name = ${category.topdir} THEN '' ELSE substr(d.name, length(${category.topdir}) + 2) END AS path
                FROM directories d
                JOIN category_directories cd ON cd.directory_id = d.id AND cd.category_id = ${category.categoryId}
                WHERE d.name IN (SELECT value FROM jsonb_array_elements_text(${JSON.stringify(names)}::jsonb))`
              const rows = JSON.stringify(known)

              if (!host.private) {
                // Trust, then verify: the claim waits for a crawl of these directories (SPEC 6.2 rule 10).
                yield* sql`INSERT INTO host_category_claims (host_category_id, paths, reported_at, verification_due)
                  VALUES (${category.hostCategoryId}, ${JSON.stringify(known.map((k) => k.path))}::jsonb, now(), true)
                  ON CONFLICT (host_category_id) DO UPDATE
                  SET paths = EXCLUDED.paths, reported_at = EXCLUDED.reported_at, verification_due = true`
                lines.push(`Category ${category.name} directories reported: ${known.length}  verification scheduled\n`)
                continue
              }
              // Authoritative: what was reported is up to date, what was not is gone (SPEC 6.2 rule 9).
              const written = yield* sql<{ readonly inserted: boolean }>`
                INSERT INTO host_category_dirs (host_category_id, directory_id, path, up2date, verified_by, verified_at)
                SELECT ${category.hostCategoryId}, r."directoryId", r.path, true, 'checkin', now()
                FROM jsonb_to_recordset(${rows}::jsonb) AS r("directoryId" integer, path text)
                ON CONFLICT (host_category_id, path) DO UPDATE
                SET directory_id = EXCLUDED.directory_id, up2date = true, verified_by = 'checkin', verified_at = now()
                RETURNING (xmax = 0) AS inserted`
              const deleted = yield* sql<{ readonly count: number }>`
                WITH gone AS (
                  DELETE FROM host_category_dirs WHERE host_category_id = ${category.hostCategoryId}
                    AND path NOT IN (SELECT r.path FROM jsonb_to_recordset(${rows}::jsonb) AS r(path text))
                  RETURNING 1)
                SELECT count(*)::int AS count FROM gone`
              const added = written.filter((w) => w.inserted).length
              lines.push(
                `Category ${category.name} directories updated: ${written.length - added}  added: ${added}  deleted ${deleted[0]?.count ?? 0}\n`
              )
            }
            yield* sql`UPDATE hosts SET last_checked_in = now() WHERE id = ${host.id}`
            return `${lines.join("")}${CheckinReplies.success}`
          })

        const checkIn = Effect.fn("Checkins.checkIn")(function* (
          report: CheckinReport,
          source: CheckinSource,
          lines: Array<string>
        ) {
          const keys = scopes(report, source)
          if ((yield* recentFailures(keys)) >= limits.failuresAllowed) {
            yield* Effect.logWarning("check-in refused: too many failed logins").pipe(
              Effect.annotateLogs({ site: report.siteName, address: source.address })
            )
            return CheckinReplies.badCredentials
          }
          const siteId = yield* authenticate(report)
          if (siteId === undefined) {
            yield* recordFailure(keys)
            yield* Effect.logWarning("check-in with a wrong site name or password").pipe(
              Effect.annotateLogs({ site: report.siteName, address: source.address })
            )
            return CheckinReplies.badCredentials
          }
          return yield* sql
            .withTransaction(apply(report, siteId, lines))
            .pipe(
              Effect.tap((reply) =>
                Effect.logInfo("check-in").pipe(
                  Effect.annotateLogs({ site: report.siteName, host: report.hostName, reply: reply.split("\n").at(-1) })
                )
              )
            )
        })

        return Checkins.of({
          // An unexpected failure after validation changed nothing (the transaction is rolled back): the client is
          // told so after the lines so far.
          checkIn: (report, source) => {
            const lines: Array<string> = []
            return checkIn(report, source, lines).pipe(
              Effect.catchCause((cause) =>
                Effect.as(
                  Effect.logError("check-in failed", cause).pipe(
                    Effect.annotateLogs({ site: report.siteName, host: report.hostName })
                  ),
                  `${lines.join("")}${CheckinReplies.failure}`
                )
              )
            )
          }
        })
      })
    )
}
