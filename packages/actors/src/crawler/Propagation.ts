// Propagation statistics (docs/crawler.md#propagation) from what the crawler found: each crawled repodata directory
// keeps the timestamp of the repomd.xml file detail it matched, so a run's picture needs no requests of its own.
// Recorded after each crawl run; kept a week.
import type { PropagationStat } from "@mirrormanager/domain/crawler"
import type { Principal, RepositoryId } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

const KEPT_DAYS = 7
const DAY = 86_400

export class Propagation extends Context.Service<
  Propagation,
  {
    /**
     * Records, for every repository with a repodata/repomd.xml, how many active public hosts of its category carry the
     * newest repomd.xml or one at most a day older (sameDay), 1-2 days (oneDay), 2-3 days (twoDay), older, or none that
     * matches though the host's last full crawl succeeded (older), or are not known (noInfo: not crawled in full yet,
     * or its crawls fail). Returns the repositories recorded.
     */
    readonly record: () => Effect.Effect<number, SqlError.SqlError>
    /** Every repository's newest run, or one repository's runs newest first; for any signed-in user. */
    readonly list: (p: Principal, repositoryId?: RepositoryId) => Effect.Effect<ReadonlyArray<PropagationStat>>
    /** The same, for the public pages (the figures are public; the API asks for a login like all of /api). */
    readonly published: (repositoryId?: RepositoryId) => Effect.Effect<ReadonlyArray<PropagationStat>>
  }
>()("actors/Propagation") {
  static readonly layer = Layer.effect(
    Propagation,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const published = Effect.fn("Propagation.published")(function* (repositoryId?: RepositoryId) {
        return yield* sql<PropagationStat>`
          SELECT p.repository_id AS "repositoryId", coalesce(r.prefix, r.name) AS repository, a.name AS arch,
                 c.name AS category, extract(epoch FROM p.run_at)::int AS "runAt",
                 p.newest_timestamp::int AS "newestTimestamp", p.same_day AS "sameDay", p.one_day AS "oneDay",
                 p.two_day AS "twoDay", p.older, p.no_info AS "noInfo"
          FROM propagation_stats p JOIN repositories r ON r.id = p.repository_id JOIN arches a ON a.id = r.arch_id
          JOIN categories c ON c.id = r.category_id
          WHERE ${
            repositoryId === undefined
              ? sql`p.run_at = (SELECT max(q.run_at) FROM propagation_stats q WHERE q.repository_id = p.repository_id)`
              : sql`p.repository_id = ${repositoryId}`
          }
          ORDER BY ${repositoryId === undefined ? sql`c.name, repository, arch` : sql`p.run_at DESC, p.id DESC`}`.pipe(
          Effect.orDie
        )
      })
      return Propagation.of({
        record: Effect.fn("Propagation.record")(function* () {
          const rows = yield* sql<{ readonly count: number }>`
              WITH repos AS (
                SELECT r.id, r.category_id, rd.id AS repodata_id,
                       (SELECT max(f.timestamp) FROM file_details f
                        WHERE f.directory_id = rd.id AND f.filename = 'repomd.xml') AS newest
                FROM repositories r JOIN directories d ON d.id = r.directory_id
                JOIN directories rd ON rd.name = d.name || '/repodata'
                WHERE NOT r.disabled
              ), carriers AS (
                SELECT repos.id AS repository_id, h.crawl_failures = 0 AS known,
                       h.last_crawl_duration IS NOT NULL AS crawled_in_full,
                       coalesce(hcd.up2date, false) AS up2date, hcd.matched_timestamp,
                       repos.newest - hcd.matched_timestamp AS behind
                FROM repos
                JOIN host_categories hc ON hc.category_id = repos.category_id
                JOIN hosts h ON h.id = hc.host_id JOIN sites s ON s.id = h.site_id
                LEFT JOIN host_category_dirs hcd ON hcd.host_category_id = hc.id AND hcd.directory_id = repos.repodata_id
                WHERE h.admin_active AND h.user_active AND NOT h.private AND s.admin_active AND s.user_active AND NOT s.private
              ), counted AS (
                SELECT repos.id, repos.newest,
                  count(c.repository_id) FILTER (WHERE c.known AND c.up2date AND c.behind <= ${DAY}) AS same_day,
                  count(c.repository_id) FILTER (WHERE c.known AND c.up2date AND c.behind > ${DAY}
                    AND c.behind <= ${2 * DAY}) AS one_day,
                  count(c.repository_id) FILTER (WHERE c.known AND c.up2date AND c.behind > ${2 * DAY}
                    AND c.behind <= ${3 * DAY}) AS two_day,
                  count(c.repository_id) FILTER (WHERE c.known AND ((c.up2date AND c.behind > ${3 * DAY})
                    OR (NOT c.up2date AND c.crawled_in_full))) AS older,
                  count(c.repository_id) AS carriers
                FROM repos LEFT JOIN carriers c ON c.repository_id = repos.id
                WHERE repos.newest IS NOT NULL
                GROUP BY repos.id, repos.newest
              ), written AS (
                INSERT INTO propagation_stats (repository_id, run_at, newest_timestamp, same_day, one_day, two_day, older, no_info)
                SELECT id, now(), newest, same_day, one_day, two_day, older, carriers - same_day - one_day - two_day - older
                FROM counted
                RETURNING 1
              )
              SELECT count(*)::int AS count FROM written`
          yield* sql`DELETE FROM propagation_stats WHERE run_at < now() - make_interval(days => ${KEPT_DAYS})`
          return rows[0]?.count ?? 0
        }),
        list: (_p, repositoryId) => published(repositoryId),
        published
      })
    })
  )
}
