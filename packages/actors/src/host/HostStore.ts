// What the Host entity writes and reads (docs/checkin.md#server-rules, docs/crawler.md#results): a check-in's and a
// crawl's effect on the host's directories, each in one transaction that holds the host's row, and the host's status.
// Every write reaches the redirectors through the change stream (table triggers).
import {
  type CrawlLog,
  type CrawlMode,
  type CrawlReport,
  type HostCheckin,
  HostGone,
  type HostStatus
} from "@mirrormanager/domain/host"
import type { CategoryId, DirectoryId, HostCategoryId, HostId, SiteId } from "@mirrormanager/domain/registry"
import { Context, Duration, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import {
  type CrawlCategory,
  type CrawlOutcome,
  type CrawlTarget,
  crawlStanding,
  fullSweep,
  isRepodata,
  logKept,
  resumePoint
} from "../crawler/index.ts"
import {
  countBits,
  forEachDifference,
  hasBit,
  NO_BITS,
  sameBits,
  setBit,
  trimmed,
  type UpToDateBits,
  widened,
  withoutStatementTimeout
} from "../db/index.ts"
import { HostEvents, type NewHostEvent } from "../events/index.ts"

/** Consecutive failed crawls after which a host is switched off (docs/crawler.md#results). */
export const CRAWL_FAILURES_TO_DISABLE = 4

/**
 * Crawl log entries kept per crawl; the runs kept per host; how long they are kept
 * (docs/crawler.md#limits-and-politeness).
 */
const CRAWL_LOG_ENTRIES = 500
const CRAWL_LOG_RUNS = 10
const CRAWL_LOG_DAYS = 14

interface LockedHost {
  readonly id: HostId
  readonly name: string
  readonly siteId: SiteId
  readonly siteName: string
  readonly private: boolean
  readonly userActive: boolean
  readonly disabledBy: string
  readonly crawlFailures: number
}

/** What a crawl checks of a host: its mode and what narrows it. */
export interface CrawlSelection {
  readonly mode: CrawlMode
  /** Only these categories (names, any case); all when absent. */
  readonly only?: ReadonlyArray<string> | undefined
  /**
   * The load budget of a full crawl (docs/crawler.md#limits-and-politeness): a directory a crawl found up to date
   * within this time, unchanged on the master since, is kept as it is rather than asked again (repodata directories
   * are always asked). None: every directory asked.
   */
  readonly recheckAfter?: Duration.Duration | undefined
  /** A targeted crawl: the directories to check (paths below the top) per host category; others have none. */
  readonly targets?: ReadonlyMap<number, ReadonlySet<string>> | undefined
}

export class HostStore extends Context.Service<
  HostStore,
  {
    /**
     * A check-in of the host: `user_active`, and per category the reported directories (docs/checkin.md#server-rules).
     * Returns the reply's lines.
     */
    readonly applyCheckin: (hostId: HostId, checkin: HostCheckin) => Effect.Effect<string, HostGone | SqlError.SqlError>
    /**
     * A crawl of the host (docs/crawler.md#how-a-host-is-crawled, docs/crawler.md#results); says whether it switched
     * the host off.
     */
    readonly applyCrawl: (
      hostId: HostId,
      report: CrawlReport
    ) => Effect.Effect<{ readonly switchedOff: boolean }, HostGone | SqlError.SqlError>
    /** A crawl of the host and its crawl log, in one transaction: both or neither. */
    readonly applyCrawlWithLog: (
      hostId: HostId,
      startedAt: number,
      outcome: CrawlOutcome
    ) => Effect.Effect<{ readonly switchedOff: boolean }, HostGone | SqlError.SqlError>
    /** The host's status as its entity reports it. */
    readonly status: (hostId: HostId) => Effect.Effect<HostStatus, HostGone | SqlError.SqlError>
    /**
     * What a crawl of the host checks (docs/crawler.md#modes): its categories' base URLs, and the readable directories
     * its mode checks (none for a canary crawl), with files.
     */
    readonly crawlTarget: (hostId: HostId, select: CrawlSelection) => Effect.Effect<CrawlTarget, SqlError.SqlError>
    /** The host's crawl log, newest first. */
    readonly crawlLog: (hostId: HostId) => Effect.Effect<ReadonlyArray<CrawlLog>>
  }
>()("actors/HostStore") {
  static readonly layer = Layer.effect(
    HostStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const events = yield* HostEvents

      const lockHost = (hostId: HostId) =>
        Effect.gen(function* () {
          const rows = yield* sql<LockedHost>`
            SELECT h.id, h.name, h.site_id AS "siteId", s.name AS "siteName", h.private, h.user_active AS "userActive",
                   h.disabled_by AS "disabledBy", h.crawl_failures AS "crawlFailures"
            FROM hosts h JOIN sites s ON s.id = h.site_id WHERE h.id = ${hostId} FOR UPDATE OF h`
          const host = rows[0]
          if (host === undefined) return yield* Effect.fail(new HostGone({ hostId }))
          return host
        })

      /**
       * Runs `effect` in a transaction. Its statements are not bounded by the pool's statement timeout: a whole
       * tree's check-in or crawl result writes as many rows as the host has directories (a check-in's client waits
       * only so long, and withdrawing it cancels the write).
       */
      const inTransaction = <A, E>(effect: Effect.Effect<A, E | SqlError.SqlError>) =>
        sql.withTransaction(Effect.andThen(withoutStatementTimeout(sql), effect))

      /** What a host category is up to date on (nothing without a row). */
      const upToDateOf = (hostCategoryId: HostCategoryId) =>
        Effect.map(
          sql<{ readonly bits: Uint8Array }>`SELECT bits FROM host_category_up2date
            WHERE host_category_id = ${hostCategoryId}`,
          (rows) => (rows[0] === undefined ? NO_BITS : trimmed(new Uint8Array(rows[0].bits)))
        )
      /** Stores what a host category is up to date on (the caller knows it changed). */
      const writeUpToDate = (hostCategoryId: HostCategoryId, bits: UpToDateBits) =>
        sql`INSERT INTO host_category_up2date (host_category_id, bits, changed_at)
          VALUES (${hostCategoryId}, ${Buffer.from(trimmed(bits))}, now())
          ON CONFLICT (host_category_id) DO UPDATE SET bits = EXCLUDED.bits, changed_at = EXCLUDED.changed_at
          WHERE host_category_up2date.bits IS DISTINCT FROM EXCLUDED.bits`

      /**
       * A check-in of the host: `user_active`, and per category the reported directories
       * (docs/checkin.md#server-rules). Returns the reply's lines.
       */
      const applyCheckin = Effect.fn("HostStore.applyCheckin")((hostId: HostId, checkin: HostCheckin) =>
        inTransaction(
          Effect.gen(function* () {
            const host = yield* lockHost(hostId)
            if (checkin.userActive === false && (host.userActive || host.disabledBy !== "user")) {
              yield* sql`UPDATE hosts SET user_active = false, disabled_by = 'user',
                disable_reason = 'disabled by report_mirror (user_active)' WHERE id = ${host.id}`
            } else if (
              checkin.userActive === true &&
              !host.userActive &&
              (host.disabledBy === "user" || (host.disabledBy === "crawler" && host.private))
            ) {
              // A crawler's disable of a public host is lifted by a successful crawl only.
              yield* sql`UPDATE hosts SET user_active = true, disabled_by = 'none', disable_reason = NULL WHERE id = ${host.id}`
            }

            const categories = yield* sql<{
              readonly hostCategoryId: HostCategoryId
              readonly categoryId: CategoryId
              readonly name: string
              readonly topdir: string
            }>`
              SELECT hc.id AS "hostCategoryId", c.id AS "categoryId", c.name, d.name AS topdir
              FROM host_categories hc JOIN categories c ON c.id = hc.category_id JOIN directories d ON d.id = c.topdir_id
              WHERE hc.host_id = ${host.id}`
            const byId = new Map(categories.map((c) => [c.categoryId, c]))

            const lines: Array<string> = []
            for (const section of checkin.sections) {
              if (!section.enabled) continue
              const category = section.category === null ? undefined : byId.get(section.category.categoryId)
              if (section.category === null || category === undefined) {
                lines.push(`Category ${section.key} not configured for this host, skipped\n`)
                continue
              }
              // The reported directories, as bits of their numbers (looked up where the check-in was read: numbers
              // are never reused, so a directory added since is all that can be missing, until the next check-in).
              const reported = trimmed(section.category.directories)
              if (!host.private) {
                // Trust, then verify: the claim waits for a crawl of these directories (docs/checkin.md#server-rules).
                const [claim] = yield* sql<{ readonly count: number }>`
                  WITH reported AS (SELECT ${Buffer.from(reported)}::bytea AS bits)
                  INSERT INTO host_category_claims (host_category_id, paths, reported_at, verification_due)
                  SELECT ${category.hostCategoryId},
                    coalesce(jsonb_agg(CASE WHEN d.name = ${category.topdir} THEN ''
                      ELSE substr(d.name, length(${category.topdir}) + 2) END ORDER BY d.name), '[]'::jsonb),
                    now(), true
                  FROM reported r, category_directories cd JOIN directories d ON d.id = cd.directory_id
                  WHERE cd.category_id = ${category.categoryId}
                    AND CASE WHEN cd.ordinal < length(r.bits) * 8 THEN get_bit(r.bits, cd.ordinal) = 1 ELSE false END
                  ON CONFLICT (host_category_id) DO UPDATE
                  SET paths = EXCLUDED.paths, reported_at = EXCLUDED.reported_at, verification_due = true
                  RETURNING jsonb_array_length(paths) AS count`
                lines.push(
                  `Category ${category.name} directories reported: ${claim?.count ?? 0}  verification scheduled\n`
                )
                continue
              }
              // Authoritative: what was reported is up to date, what was not is not (docs/checkin.md#server-rules):
              // the host category's bitset, written only when it changed.
              const before = yield* upToDateOf(category.hostCategoryId)
              const after = reported
              let added = 0
              let deleted = 0
              forEachDifference(before, after, (ordinal) => {
                if (hasBit(after, ordinal)) added++
                else deleted++
              })
              if (added + deleted > 0) yield* writeUpToDate(category.hostCategoryId, after)
              lines.push(
                `Category ${category.name} directories updated: ${countBits(after) - added}  added: ${added}  deleted ${deleted}\n`
              )
            }
            yield* sql`UPDATE hosts SET last_checked_in = now() WHERE id = ${host.id}`
            return lines.join("")
          })
        )
      )
      /**
       * Where the host category's next full crawl starts (docs/crawler.md#time-limit-and-resuming): after the path
       * given, or (null) from the first, a pass having just covered them all.
       */
      const saveResumePoint = (hc: HostCategoryId, point: { readonly resumeAfter: string | null } | undefined) =>
        point === undefined
          ? Effect.void
          : sql`INSERT INTO host_category_crawl_resume (host_category_id, resume_after, passed_at, updated_at)
              VALUES (${hc}, ${point.resumeAfter}, CASE WHEN ${point.resumeAfter === null} THEN now() END, now())
              ON CONFLICT (host_category_id) DO UPDATE SET resume_after = EXCLUDED.resume_after,
                passed_at = coalesce(EXCLUDED.passed_at, host_category_crawl_resume.passed_at), updated_at = now()`
      /**
       * A crawl of the host (docs/crawler.md#how-a-host-is-crawled, docs/crawler.md#results); says whether it switched
       * the host off.
       */
      const applyCrawl = Effect.fn("HostStore.applyCrawl")((hostId: HostId, report: CrawlReport) =>
        inTransaction(
          Effect.gen(function* () {
            const host = yield* lockHost(hostId)
            /** An event of this host, told to its admins (docs/crawler.md#results). */
            const tell = (kind: NewHostEvent["kind"], details: Readonly<Record<string, unknown>>) =>
              events.record({
                kind,
                siteId: host.siteId,
                hostId: host.id,
                details: { siteName: host.siteName, hostName: host.name, ...details }
              })
            const own = new Set<number>(
              (yield* sql<{
                readonly id: HostCategoryId
              }>`SELECT id FROM host_categories WHERE host_id = ${host.id}`).map((r) => r.id)
            )
            for (const category of report.categories) {
              // Only the host's own categories; an inaccessible one keeps its directories as they were.
              if (!own.has(category.hostCategoryId)) continue
              if (!category.accessible) {
                // A claim whose mirror does not answer is not asked again every minute: the regular crawls will see to
                // it.
                if (report.mode === "targeted") {
                  yield* sql`UPDATE host_category_claims SET verification_due = false
                    WHERE host_category_id = ${category.hostCategoryId}`
                }
                continue
              }
              const hc = category.hostCategoryId
              const upToDate = category.directories.filter((d) => d.result === "upToDate")
              // Kept as they were (the load budget): confirmed for the sweep below, but their verification not renewed.
              const verified = upToDate.filter((d) => d.kept !== true)
              const stale = category.directories.filter((d) => d.result === "stale").map((d) => d.path)
              yield* sql`
                INSERT INTO host_category_dirs (host_category_id, directory_id, path, up2date, verified_by, verified_at, matched,
                  matched_timestamp, verified_files)
                SELECT ${hc}, r."directoryId", r.path, true, 'crawl', now(), r.matched, r."matchedTimestamp", r."filesDigest"
                FROM jsonb_to_recordset(${JSON.stringify(verified)}::jsonb)
                  AS r("directoryId" integer, path text, matched text, "matchedTimestamp" bigint, "filesDigest" text)
                ON CONFLICT (host_category_id, path) DO UPDATE
                SET directory_id = EXCLUDED.directory_id, up2date = true, verified_by = 'crawl', verified_at = now(),
                    matched = EXCLUDED.matched, matched_timestamp = EXCLUDED.matched_timestamp,
                    verified_files = EXCLUDED.verified_files`
              const turned = yield* sql<{ readonly path: string; readonly wasUpToDate: boolean }>`
                UPDATE host_category_dirs d SET up2date = false, verified_by = 'crawl', verified_at = now(), matched = NULL,
                  matched_timestamp = NULL
                FROM host_category_dirs before
                WHERE before.id = d.id AND d.host_category_id = ${hc}
                  AND d.path IN (SELECT value FROM jsonb_array_elements_text(${JSON.stringify(stale)}::jsonb))
                RETURNING d.path, before.up2date AS "wasUpToDate"`
              // Repodata that was up to date and is not any more: the host's admins are told (docs/crawler.md#results).
              const staleRepodata = turned
                .filter((t) => t.wasUpToDate && isRepodata(t.path))
                .map((t) => t.path)
                .sort()
              if (staleRepodata.length > 0) {
                const [category] = yield* sql<{ readonly name: string }>`
                  SELECT c.name FROM host_categories hc JOIN categories c ON c.id = hc.category_id WHERE hc.id = ${hc}`
                yield* tell("HostNotUpToDate", { category: category?.name ?? null, directories: staleRepodata })
              }
              if (report.mode === "full") {
                // After a full crawl, what was not confirmed is not up to date: in the whole category once a pass
                // covered it all, else only in what this crawl covered (docs/crawler.md#time-limit-and-resuming).
                const sweep = fullSweep(category)
                if (sweep.range === "all") {
                  yield* sql`UPDATE host_category_dirs SET up2date = false, matched = NULL, matched_timestamp = NULL
                    WHERE host_category_id = ${hc} AND up2date
                      AND path NOT IN (SELECT value FROM jsonb_array_elements_text(${JSON.stringify(sweep.confirmed.map((d) => d.path))}::jsonb))`
                } else if (sweep.unconfirmed.length > 0) {
                  yield* sql`UPDATE host_category_dirs SET up2date = false, matched = NULL, matched_timestamp = NULL
                    WHERE host_category_id = ${hc} AND up2date
                      AND path IN (SELECT value FROM jsonb_array_elements_text(${JSON.stringify(sweep.unconfirmed.map((d) => d.path))}::jsonb))`
                }
                yield* saveResumePoint(hc, resumePoint(category))
              }
              // What selection reads: the host category's bitset, from the same results.
              const ordinals = new Map(
                (yield* sql<{ readonly directoryId: number; readonly ordinal: number }>`
                  SELECT cd.directory_id AS "directoryId", cd.ordinal FROM category_directories cd
                  WHERE cd.category_id = (SELECT category_id FROM host_categories WHERE id = ${hc})
                    AND cd.directory_id = ANY(${`{${category.directories.map((d) => Math.trunc(d.directoryId)).join(",")}}`}::int[])`).map(
                  (row) => [row.directoryId, row.ordinal] as const
                )
              )
              const on: Array<number> = []
              const off: Array<number> = []
              for (const directory of category.directories) {
                const ordinal = ordinals.get(directory.directoryId)
                if (ordinal === undefined) continue
                if (directory.result === "upToDate") on.push(ordinal)
                else if (directory.result === "stale") off.push(ordinal)
              }
              // A full pass over the whole tree: its confirmations are all there is; a pass cut short at the time
              // limit: what it covered and did not confirm is not up to date; another crawl changes what it checked.
              const sweep = report.mode === "full" ? fullSweep(category) : undefined
              if (sweep?.range === "covered") {
                for (const directory of sweep.unconfirmed) {
                  const ordinal = ordinals.get(directory.directoryId)
                  if (ordinal !== undefined) off.push(ordinal)
                }
              }
              const before = yield* upToDateOf(hc)
              const length = on.reduce((most, ordinal) => Math.max(most, (ordinal >>> 3) + 1), before.length)
              const after = sweep?.range === "all" ? new Uint8Array(length) : widened(before, length)
              for (const ordinal of on) setBit(after, ordinal, true)
              for (const ordinal of off) setBit(after, ordinal, false)
              if (!sameBits(before, after)) yield* writeUpToDate(hc, after)
              yield* sql`UPDATE host_category_claims SET verification_due = false WHERE host_category_id = ${hc}`
            }
            // What the base checks learned of each URL; the host serves a family if any usable URL does
            // (docs/crawler.md#address-families-and-tls).
            const urls = report.urls.filter((u) => own.has(u.hostCategoryId))
            if (urls.length > 0) {
              yield* sql`UPDATE host_category_urls u SET
                  reachable = coalesce(r.reachable, u.reachable), ipv4 = coalesce(r.ipv4, u.ipv4),
                  ipv6 = coalesce(r.ipv6, u.ipv6), tls_valid = coalesce(r."tlsValid", u.tls_valid),
                  tls_expires_at = coalesce(to_timestamp(r."tlsExpiresAt"), u.tls_expires_at), checked_at = now()
                FROM jsonb_to_recordset(${JSON.stringify(urls)}::jsonb)
                  AS r("hostCategoryId" integer, url text, reachable boolean, ipv4 boolean, ipv6 boolean, "tlsValid" boolean,
                       "tlsExpiresAt" double precision)
                WHERE u.host_category_id = r."hostCategoryId" AND u.url = r.url`
              yield* sql`UPDATE hosts h SET
                  ipv4 = CASE WHEN bool_or_4 THEN 'yes' WHEN all_known_4 THEN 'no' ELSE h.ipv4 END,
                  ipv6 = CASE WHEN bool_or_6 THEN 'yes' WHEN all_known_6 THEN 'no' ELSE h.ipv6 END
                FROM (SELECT bool_or(u.ipv4) AS bool_or_4, bool_and(u.ipv4 IS NOT NULL) AND NOT bool_or(u.ipv4) AS all_known_4,
                             bool_or(u.ipv6) AS bool_or_6, bool_and(u.ipv6 IS NOT NULL) AND NOT bool_or(u.ipv6) AS all_known_6
                      FROM host_category_urls u JOIN host_categories hc ON hc.id = u.host_category_id
                      WHERE hc.host_id = ${host.id} AND NOT u.private AND u.reachable IS NOT FALSE
                        AND u.tls_valid IS NOT FALSE) f
                WHERE h.id = ${host.id} AND (f.bool_or_4 IS NOT NULL OR f.bool_or_6 IS NOT NULL)`
            }
            // A certificate about to expire: its admins are told once per certificate
            // (docs/crawler.md#address-families-and-tls).
            const expiring = urls.filter((u) => u.tlsExpiresSoon === true && u.tlsExpiresAt !== null)
            if (expiring.length > 0) {
              const warned = yield* sql<{ readonly url: string; readonly expiresAt: number }>`
                UPDATE host_category_urls u SET tls_expiry_warned = to_timestamp(r."tlsExpiresAt")
                FROM jsonb_to_recordset(${JSON.stringify(expiring)}::jsonb)
                  AS r("hostCategoryId" integer, url text, "tlsExpiresAt" double precision)
                WHERE u.host_category_id = r."hostCategoryId" AND u.url = r.url
                  AND u.tls_expiry_warned IS DISTINCT FROM to_timestamp(r."tlsExpiresAt")
                RETURNING u.url, r."tlsExpiresAt" AS "expiresAt"`
              if (warned.length > 0) {
                yield* tell("TlsCertificateExpiring", { urls: warned })
              }
            }
            // Full crawls decide a host's standing (docs/crawler.md#results): four failed ones in a row switch it off,
            // a good one resets the count and switches it on again. Canary, repodata and targeted crawls, run far more
            // often, record what they find of the URLs and directories but count for neither, so an hour's outage does
            // not switch a mirror off, nor does a mirror that answers its front page but not its tree escape the count.
            // A full crawl stopped by its time limit fails nothing (docs/crawler.md#time-limit-and-resuming).
            const standing = crawlStanding(report)
            let switchedOff = false
            if (standing === "good") {
              yield* sql`UPDATE hosts SET crawl_failures = 0 WHERE id = ${host.id}`
              if (host.disabledBy === "crawler") {
                yield* sql`UPDATE hosts SET user_active = true, disabled_by = 'none', disable_reason = NULL WHERE id = ${host.id}`
              }
            } else if (standing === "failed") {
              // A crawl stopped by its time limit is no failure: it kept what it covered and the next one resumes
              // there (docs/crawler.md#time-limit-and-resuming).
              const reason = report.reason ?? "crawl failed"
              // A failed full crawl takes the host's directories out of date (docs/crawler.md#results). (After a failed
              // canary or repodata crawl its URLs, recorded as not answering, keep it out of the lists until they
              // answer again.)
              yield* sql`UPDATE host_category_dirs SET up2date = false, matched = NULL, matched_timestamp = NULL
                WHERE up2date AND host_category_id IN (SELECT id FROM host_categories WHERE host_id = ${host.id})`
              yield* sql`UPDATE host_category_up2date SET bits = '\\x', changed_at = now()
                WHERE bits <> '\\x' AND host_category_id IN (SELECT id FROM host_categories WHERE host_id = ${host.id})`
              const failures = host.crawlFailures + 1
              yield* sql`UPDATE hosts SET crawl_failures = ${failures} WHERE id = ${host.id}`
              if (failures >= CRAWL_FAILURES_TO_DISABLE && host.userActive) {
                switchedOff = true
                const disableReason = `disabled after ${failures} consecutive crawl failures: ${reason}`
                yield* sql`UPDATE hosts SET user_active = false, disabled_by = 'crawler', disable_reason = ${disableReason}
                  WHERE id = ${host.id}`
                yield* tell("HostAutoDisabled", {
                  crawledAt: Math.floor(Date.now() / 1000),
                  reason: disableReason,
                  crawlLogUrl: `/api/hosts/${host.id}/crawl-log`
                })
              }
            }
            const measured = report.mode === "full" && report.status !== "unknown"
            yield* sql`UPDATE hosts SET last_crawled = now(),
              last_crawl_duration = CASE WHEN ${measured} THEN ${report.durationMs / 1000} ELSE last_crawl_duration END
              WHERE id = ${host.id}`
            return { switchedOff }
          })
        )
      )
      /** The host's status as its entity reports it. */
      const status = Effect.fn("HostStore.status")(function* (hostId: HostId) {
        const rows = yield* sql<HostStatus>`
            SELECT h.id AS "hostId", h.user_active AS "userActive", h.disabled_by AS "disabledBy",
                   extract(epoch FROM h.last_checked_in)::float8 AS "lastCheckedIn",
                   extract(epoch FROM h.last_crawled)::float8 AS "lastCrawled",
                   h.crawl_failures AS "crawlFailures",
                   (SELECT coalesce(sum(bit_count(b.bits)), 0)::int FROM host_category_up2date b
                     JOIN host_categories hc ON hc.id = b.host_category_id WHERE hc.host_id = h.id) AS "directoriesUpToDate",
                   (SELECT count(*)::int FROM host_category_claims c JOIN host_categories hc ON hc.id = c.host_category_id
                     WHERE hc.host_id = h.id AND c.verification_due) AS "claimsAwaitingCrawl"
            FROM hosts h WHERE h.id = ${hostId}`
        const status = rows[0]
        if (status === undefined) return yield* Effect.fail(new HostGone({ hostId }))
        return status
      })
      /**
       * What a crawl of the host checks (docs/crawler.md#modes): its categories' base URLs, and the readable
       * directories its mode checks, with files: none for a canary crawl (nor for an always-up-to-date category),
       * `…/repodata` ones (with their repomd.xml details) for a repodata crawl, the claimed ones for a targeted crawl,
       * all of them for a full crawl, with where the last one stopped (categories whose pass is under way first).
       */
      const crawlTarget = Effect.fn("HostStore.crawlTarget")(function* (hostId: HostId, select: CrawlSelection) {
        const { mode, only, recheckAfter } = select
        const categories = yield* sql<{
          readonly hostCategoryId: HostCategoryId
          readonly alwaysUpToDate: boolean
          readonly categoryId: CategoryId
          readonly topdir: string
          readonly urls: ReadonlyArray<string>
          readonly resumeAfter: string | null
        }>`
            SELECT hc.id AS "hostCategoryId", hc.always_up2date AS "alwaysUpToDate", c.id AS "categoryId", d.name AS topdir,
                   coalesce((SELECT jsonb_agg(u.url ORDER BY (u.url LIKE 'https:%') DESC, u.id) FROM host_category_urls u
                             WHERE u.host_category_id = hc.id AND NOT u.private
                               AND (u.url LIKE 'https://%' OR u.url LIKE 'http://%')), '[]'::jsonb) AS urls,
                   r.resume_after AS "resumeAfter"
            FROM host_categories hc JOIN categories c ON c.id = hc.category_id JOIN directories d ON d.id = c.topdir_id
            LEFT JOIN host_category_crawl_resume r ON r.host_category_id = hc.id
            WHERE hc.host_id = ${hostId}
              AND (${only === undefined} OR lower(c.name) IN (SELECT lower(value) FROM jsonb_array_elements_text(${JSON.stringify(only ?? [])}::jsonb)))
            ORDER BY CASE WHEN ${mode === "full"} THEN r.resume_after IS NULL END,
                     CASE WHEN ${mode === "full"} THEN r.passed_at END NULLS FIRST, hc.id`
        const target: Array<CrawlCategory> = []
        for (const category of categories) {
          const wanted = mode === "targeted" ? [...(select.targets?.get(category.hostCategoryId) ?? [])] : []
          const none = category.alwaysUpToDate || mode === "canary" || (mode === "targeted" && wanted.length === 0)
          // Which of the category's directories (by name) the mode checks.
          const which =
            mode === "repodata"
              ? sql`d.name LIKE '%/repodata' AND d.name <> ${category.topdir}`
              : mode === "targeted"
                ? sql`d.name IN (SELECT value FROM jsonb_array_elements_text(${JSON.stringify(
                    wanted.map((path) => (path === "" ? category.topdir : `${category.topdir}/${path}`))
                  )}::jsonb))`
                : sql`true`
          const budget = mode === "full" && recheckAfter !== undefined
          const directories = none
            ? []
            : yield* sql<{
                readonly directoryId: DirectoryId
                readonly name: string
                readonly files: ReadonlyArray<{ readonly name: string; readonly size: number }> | null
                readonly repomd: ReadonlyArray<{ readonly sha256: string; readonly timestamp: number }> | null
                readonly kept: boolean
                readonly matched: "newest" | "alternate" | null
                readonly matchedTimestamp: number | null
                readonly filesDigest: string
              }>`
              SELECT d.id AS "directoryId", d.name, d.files,
                     (SELECT jsonb_agg(jsonb_build_object('sha256', f.sha256, 'timestamp', f.timestamp)
                                       ORDER BY f.timestamp DESC) FROM file_details f
                      WHERE f.directory_id = d.id AND f.filename = 'repomd.xml') AS repomd,
                     coalesce(${budget} AND hcd.up2date AND hcd.verified_by = 'crawl'
                       AND hcd.verified_at > now() - make_interval(secs => ${recheckAfter === undefined ? 0 : Duration.toSeconds(recheckAfter)})
                       AND hcd.verified_files = md5(d.files::text) AND d.name NOT LIKE '%/repodata', false) AS kept,
                     hcd.matched, hcd.matched_timestamp::float8 AS "matchedTimestamp", md5(d.files::text) AS "filesDigest"
              FROM category_directories cd JOIN directories d ON d.id = cd.directory_id
              LEFT JOIN host_category_dirs hcd ON hcd.host_category_id = ${category.hostCategoryId}
                AND hcd.path = CASE WHEN d.name = ${category.topdir} THEN '' ELSE substr(d.name, length(${category.topdir}) + 2) END
              WHERE cd.category_id = ${category.categoryId} AND d.readable AND ${which}`
          target.push({
            hostCategoryId: category.hostCategoryId,
            alwaysUpToDate: category.alwaysUpToDate,
            urls: category.urls,
            directories: directories.map((d) => ({
              directoryId: d.directoryId,
              path: d.name === category.topdir ? "" : d.name.slice(category.topdir.length + 1),
              files: (d.files ?? []).map((f) => ({ name: f.name, size: Number(f.size) })),
              repomd:
                d.repomd === null || d.repomd.length === 0
                  ? undefined
                  : { newest: d.repomd[0]!, alternates: d.repomd.slice(1) },
              kept: d.kept ? { matched: d.matched, matchedTimestamp: d.matchedTimestamp } : undefined,
              filesDigest: d.filesDigest
            })),
            ...(mode === "full" ? { resumeAfter: category.resumeAfter } : {})
          })
        }
        return { hostId, categories: target }
      })
      /**
       * Keeps a crawl in the host's crawl log, dropping runs past the last ten of its mode and older than two weeks.
       */
      const recordCrawlLog = (hostId: HostId, startedAt: number, outcome: CrawlOutcome) =>
        Effect.gen(function* () {
          const { report } = outcome
          yield* sql`INSERT INTO host_crawl_logs (host_id, started_at, mode, status, reason, duration_ms, requests, entries,
              entries_total)
            VALUES (${hostId}, to_timestamp(${startedAt / 1000}), ${report.mode}, ${report.status}, ${report.reason},
              ${report.durationMs}, ${outcome.requests}, ${JSON.stringify(logKept(outcome.log, report.status, CRAWL_LOG_ENTRIES))}::jsonb,
              ${outcome.log.length})`
          // Per mode, so that hourly canary checks do not push the last full crawl out of the log.
          yield* sql`DELETE FROM host_crawl_logs WHERE host_id = ${hostId} AND (
              started_at < now() - make_interval(days => ${CRAWL_LOG_DAYS})
              OR (mode = ${report.mode} AND id NOT IN (
                SELECT id FROM host_crawl_logs WHERE host_id = ${hostId} AND mode = ${report.mode}
                ORDER BY started_at DESC, id DESC LIMIT ${CRAWL_LOG_RUNS})))`
        })
      /** The host's crawl log, newest first. */
      const crawlLog = Effect.fn("HostStore.crawlLog")(function* (hostId: HostId) {
        return yield* sql<CrawlLog>`
          SELECT extract(epoch FROM started_at)::float8 AS "startedAt", mode, status, reason, duration_ms AS "durationMs",
                 requests, entries, entries_total AS "entriesTotal"
          FROM host_crawl_logs WHERE host_id = ${hostId} ORDER BY started_at DESC, id DESC`.pipe(Effect.orDie)
      })

      return HostStore.of({
        applyCheckin,
        applyCrawl,
        applyCrawlWithLog: Effect.fn("HostStore.applyCrawlWithLog")(function* (hostId, startedAt, outcome) {
          return yield* sql.withTransaction(
            applyCrawl(hostId, outcome.report).pipe(Effect.tap(() => recordCrawlLog(hostId, startedAt, outcome)))
          )
        }),
        status,
        crawlTarget,
        crawlLog
      })
    })
  ).pipe(Layer.provide(HostEvents.layer))
}
