// A host's status (SPEC 9.4): per category how many directories it is up to date on (the bitset's count, so it costs
// one row per category whatever the category's size), its last crawl, address families and certificate expiry; and
// for its admins, check-in, crawl failures, why it is disabled and its last crawl runs. The public part is shown only
// for hosts that are not private.
import type { CategoryStatus, CrawlRun, HostStatus } from "@mirrormanager/domain/publiclist"
import type { HostId } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

/** Crawl runs shown to a host's admins. */
const CRAWL_RUNS = 10

export class HostStatuses extends Context.Service<
  HostStatuses,
  {
    /**
     * The host's status; undefined when there is no such host, or (`audience: "public"`) when it is private, on a
     * private site, or its site is not active. Who may see the admin part is the caller's to check.
     */
    readonly status: (
      hostId: HostId,
      audience: "public" | "admin"
    ) => Effect.Effect<HostStatus | undefined, SqlError.SqlError>
  }
>()("actors/HostStatuses") {
  static readonly layer = Layer.effect(
    HostStatuses,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const status = Effect.fn("HostStatuses.status")(function* (hostId: HostId, audience: "public" | "admin") {
        yield* Effect.annotateCurrentSpan("hostId", hostId)
        const [host] = yield* sql<{
          readonly id: HostId
          readonly name: string
          readonly site: string
          readonly country: string
          readonly hostPrivate: boolean
          readonly sitePrivate: boolean
          readonly adminActive: boolean
          readonly userActive: boolean
          readonly siteActive: boolean
          readonly ipv4: "yes" | "no" | "unknown"
          readonly ipv6: "yes" | "no" | "unknown"
          readonly lastCrawled: number | null
          readonly lastCrawlDuration: number | null
          readonly lastCheckedIn: number | null
          readonly crawlFailures: number
          readonly disabledBy: string
          readonly disableReason: string | null
        }>`
          SELECT h.id, h.name, s.name AS site, h.country, h.private AS "hostPrivate", s.private AS "sitePrivate",
                 h.admin_active AS "adminActive", h.user_active AS "userActive",
                 (s.admin_active AND s.user_active) AS "siteActive", h.ipv4, h.ipv6,
                 extract(epoch FROM h.last_crawled)::int AS "lastCrawled",
                 h.last_crawl_duration AS "lastCrawlDuration",
                 extract(epoch FROM h.last_checked_in)::int AS "lastCheckedIn",
                 h.crawl_failures AS "crawlFailures", h.disabled_by AS "disabledBy", h.disable_reason AS "disableReason"
          FROM hosts h JOIN sites s ON s.id = h.site_id WHERE h.id = ${hostId}`
        if (host === undefined) return undefined
        const admin = audience === "admin"
        if (!admin && (host.hostPrivate || host.sitePrivate || !host.siteActive)) return undefined
        const categories = yield* sql<{
          readonly category: string
          readonly upToDate: number
          readonly directories: number
          readonly alwaysUpToDate: boolean
          readonly matchedNewest: number | null
          readonly matchedAlternate: number | null
        }>`
          SELECT c.name AS category, bit_count(coalesce(u.bits, '\\x'::bytea))::int AS "upToDate",
                 (SELECT count(*) FROM category_directories cd WHERE cd.category_id = c.id)::int AS directories,
                 hc.always_up2date AS "alwaysUpToDate",
                 ${
                   admin
                     ? sql`(SELECT count(*) FROM host_category_dirs d WHERE d.host_category_id = hc.id
                              AND d.matched = 'newest')::int`
                     : sql`NULL::int`
                 } AS "matchedNewest",
                 ${
                   admin
                     ? sql`(SELECT count(*) FROM host_category_dirs d WHERE d.host_category_id = hc.id
                              AND d.matched = 'alternate')::int`
                     : sql`NULL::int`
                 } AS "matchedAlternate"
          FROM host_categories hc JOIN categories c ON c.id = hc.category_id
          LEFT JOIN host_category_up2date u ON u.host_category_id = hc.id
          WHERE hc.host_id = ${hostId} AND (${admin} OR (c.publiclist AND NOT c.admin_only))
          ORDER BY c.name`
        const [tls] = yield* sql<{ readonly expires: number | null }>`
          SELECT extract(epoch FROM min(u.tls_expires_at))::int AS expires
          FROM host_category_urls u JOIN host_categories hc ON hc.id = u.host_category_id
          WHERE hc.host_id = ${hostId} AND (${admin} OR NOT u.private)`
        const runs = yield* sql<{
          readonly startedAt: number
          readonly mode: string
          readonly status: string
          readonly reason: string | null
          readonly durationMs: number
          readonly requests: number
        }>`
          SELECT extract(epoch FROM started_at)::int AS "startedAt", mode, status, reason,
                 duration_ms AS "durationMs", requests
          FROM host_crawl_logs WHERE host_id = ${hostId}
          ORDER BY started_at DESC, id DESC LIMIT ${admin ? CRAWL_RUNS : 1}`
        const last = runs[0]
        const result: HostStatus = {
          id: host.id,
          name: host.name,
          site: host.site,
          country: host.country,
          active: host.adminActive && host.userActive && host.siteActive,
          ipv4: host.ipv4,
          ipv6: host.ipv6,
          lastCrawl:
            last !== undefined
              ? { at: last.startedAt, status: last.status, durationMs: last.durationMs }
              : host.lastCrawled === null
                ? null
                : { at: host.lastCrawled, status: "ok", durationMs: host.lastCrawlDuration },
          certificateExpires: tls?.expires ?? null,
          categories: categories.map(
            (c): CategoryStatus => ({
              category: c.category,
              upToDate: c.alwaysUpToDate ? c.directories : Math.min(c.upToDate, c.directories),
              directories: c.directories,
              alwaysUpToDate: c.alwaysUpToDate,
              ...(admin ? { matchedNewest: c.matchedNewest ?? 0, matchedAlternate: c.matchedAlternate ?? 0 } : {})
            })
          )
        }
        if (!admin) return result
        return {
          ...result,
          admin: {
            lastCheckedIn: host.lastCheckedIn,
            crawlFailures: host.crawlFailures,
            disabledBy: host.disabledBy,
            disableReason: host.disableReason,
            adminActive: host.adminActive,
            userActive: host.userActive,
            private: host.hostPrivate || host.sitePrivate,
            crawls: runs.map((run): CrawlRun => ({ ...run }))
          }
        }
      })
      return HostStatuses.of({ status })
    })
  )
}
