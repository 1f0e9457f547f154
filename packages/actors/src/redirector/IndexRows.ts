// The rows of the Redirector's index as the registry database holds them: everything at once (a full build), or
// just the hosts and directories a change names, the repositories and the overrides (the change follower).
import * as dns from "node:dns/promises"
import type { MirrorUrlScheme } from "@mirrormanager/domain/registry"
import { parseNetblock } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { NO_BITS, sliced, trimmed, type UpToDateBits, withoutTransactionTimeouts } from "../db/index.ts"
import {
  type CategorySource,
  type DirectoryCategory,
  type DirectorySource,
  type FamilySupport,
  type FileDetailSource,
  type HostSource,
  type HostUrlSource,
  inSchemeOrder,
  type LoadedIndex,
  type OverridesSource,
  type RedirectSource,
  type RepositorySource,
  SCHEME_RANK
} from "./IndexSource.ts"

const schemeOf = (url: string): MirrorUrlScheme | undefined => {
  const scheme = url.slice(0, url.indexOf(":")).toLowerCase()
  return scheme in SCHEME_RANK ? (scheme as MirrorUrlScheme) : undefined
}

const byHost = <R extends { readonly hostId: number }>(rows: ReadonlyArray<R>) => {
  const map = new Map<number, Array<R>>()
  for (const row of rows) {
    const list = map.get(row.hostId)
    if (list === undefined) map.set(row.hostId, [row])
    else list.push(row)
  }
  return map
}

/**
 * A netblock given as a DNS name stands for the addresses it resolves to when the index is built
 * (docs/registry.md#data-model), as /32 and /128 networks; a name that does not resolve (within 2 s) matches nothing
 * until the next build.
 */
const resolveNetblocks = (texts: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    // A network (with "/") or an IPv6 address is no name: only the rest is parsed (20,000 netblocks parsed here
    // held the event loop for 100 ms and more).
    const isName = (text: string) => {
      if (text.includes("/") || text.includes(":")) return false
      const parsed = parseNetblock(text)
      return parsed.ok && parsed.value.kind === "dns"
    }
    const names = [...new Set(texts.filter(isName))]
    const resolved = new Map<string, ReadonlyArray<string>>()
    yield* Effect.forEach(
      names,
      (name) =>
        Effect.promise(() =>
          dns.lookup(name, { all: true, verbatim: true }).then(
            (addresses) => addresses.map((a) => `${a.address}/${a.family === 6 ? 128 : 32}`),
            () => []
          )
        ).pipe(
          Effect.timeoutOption("2 seconds"),
          Effect.map((found) => resolved.set(name, found._tag === "Some" ? found.value : []))
        ),
      { concurrency: 16, discard: true }
    )
    return (text: string): ReadonlyArray<string> => resolved.get(text) ?? [text]
  })

/**
 * `column` is one of `ids` (or anything, for a full build), as `column = ANY('{…}'::int[])`: a form the planner sizes
 * from the literal, so that reloading a few hosts or directories reads them through their indexes, never a scan of
 * the table (test/redirector/ChangeQueries.test.ts holds it to that).
 */
const oneOf = (sql: SqlClient.SqlClient, column: string, ids: ReadonlyArray<number> | undefined) =>
  ids === undefined
    ? sql`true`
    : sql`${sql.literal(column)} = ANY(${`{${ids.map((id) => Math.trunc(id)).join(",")}}`}::int[])`

/** The statements that read hosts (all, or those in `ids`), in the order `loadHosts` runs them. */
export const hostStatements = (sql: SqlClient.SqlClient, ids?: ReadonlyArray<number>) => ({
  hosts: sql<{
    id: number
    siteId: number
    name: string
    country: string
    bandwidth: number
    private: boolean
    asn: string | null
    asnClients: boolean
    internet2: boolean
    internet2Clients: boolean
    ipv4: FamilySupport
    ipv6: FamilySupport
  }>`SELECT h.id, h.site_id AS "siteId", h.name, h.country, h.bandwidth, (h.private OR s.private) AS private,
      h.asn::text AS asn, h.asn_clients AS "asnClients", h.internet2, h.internet2_clients AS "internet2Clients",
      h.ipv4, h.ipv6
    FROM hosts h JOIN sites s ON s.id = h.site_id
    WHERE h.admin_active AND h.user_active AND s.admin_active AND s.user_active AND ${oneOf(sql, "h.id", ids)}
    ORDER BY h.id`,
  peerAsns: sql<{ hostId: number; asn: string }>`SELECT host_id AS "hostId", asn::text AS asn
    FROM host_peer_asns WHERE ${oneOf(sql, "host_id", ids)} ORDER BY asn`,
  countriesAllowed: sql<{ hostId: number; country: string }>`SELECT host_id AS "hostId", country
    FROM host_countries_allowed WHERE ${oneOf(sql, "host_id", ids)} ORDER BY country`,
  netblocks: sql<{ hostId: number; netblock: string }>`SELECT host_id AS "hostId", netblock
    FROM host_netblocks WHERE ${oneOf(sql, "host_id", ids)} ORDER BY id`,
  categories: sql<{ hostId: number; id: number; categoryId: number; alwaysUp2date: boolean }>`SELECT
      host_id AS "hostId", id, category_id AS "categoryId", always_up2date AS "alwaysUp2date"
    FROM host_categories WHERE ${oneOf(sql, "host_id", ids)} ORDER BY id`,
  urls: sql<{ hostCategoryId: number; url: string }>`SELECT u.host_category_id AS "hostCategoryId", u.url
    FROM host_category_urls u JOIN host_categories hc ON hc.id = u.host_category_id
    WHERE NOT u.private AND u.reachable IS NOT FALSE AND u.tls_valid IS NOT FALSE AND ${oneOf(sql, "hc.host_id", ids)}
    ORDER BY u.id`,
  upToDate: sql<{ hostCategoryId: number; bits: Uint8Array }>`SELECT b.host_category_id AS "hostCategoryId", b.bits
    FROM host_category_up2date b JOIN host_categories hc ON hc.id = b.host_category_id
    WHERE ${oneOf(sql, "hc.host_id", ids)}`
})

/** Hosts, all of them or those in `ids` (a host missing from the answer is gone or inactive). */
const loadHosts = (ids?: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    if (ids !== undefined && ids.length === 0) return []
    const statements = hostStatements(sql, ids)
    const hosts = yield* statements.hosts
    if (hosts.length === 0) return []
    const peerAsns = byHost(yield* statements.peerAsns)
    const allowed = byHost(yield* statements.countriesAllowed)
    const netblockRows = yield* statements.netblocks
    const netblocks = byHost(netblockRows)
    const expand = yield* resolveNetblocks(netblockRows.map((row) => row.netblock))
    const categories = byHost(yield* statements.categories)
    const urls = new Map<number, Array<HostUrlSource>>()
    for (const row of yield* statements.urls) {
      const scheme = schemeOf(row.url)
      if (scheme === undefined) continue
      const list = urls.get(row.hostCategoryId)
      if (list === undefined) urls.set(row.hostCategoryId, [{ url: row.url, scheme }])
      else list.push({ url: row.url, scheme })
    }
    const upToDate = new Map<number, UpToDateBits>()
    for (const row of yield* statements.upToDate) upToDate.set(row.hostCategoryId, trimmed(new Uint8Array(row.bits)))
    return hosts.map(
      (h): HostSource => ({
        ...h,
        asn: h.asn === null ? null : Number(h.asn),
        peerAsns: (peerAsns.get(h.id) ?? []).map((row) => Number(row.asn)),
        countriesAllowed: (allowed.get(h.id) ?? []).map((row) => row.country),
        netblocks: (netblocks.get(h.id) ?? []).flatMap((row) => expand(row.netblock)),
        categories: (categories.get(h.id) ?? []).map((hc) => ({
          id: hc.id,
          categoryId: hc.categoryId,
          alwaysUp2date: hc.alwaysUp2date,
          urls: inSchemeOrder(urls.get(hc.id) ?? []),
          upToDate: upToDate.get(hc.id) ?? NO_BITS
        }))
      })
    )
  })

const loadCategories = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<CategorySource>`SELECT c.id, c.name, d.name AS topdir
    FROM categories c JOIN directories d ON d.id = c.topdir_id ORDER BY c.id`
})

/** The statements that read directories (all, or those in `ids`). */
export const directoryStatements = (sql: SqlClient.SqlClient, ids?: ReadonlyArray<number>) => ({
  directories: sql<{ id: number; name: string }>`SELECT d.id, d.name FROM directories d
    WHERE ${oneOf(sql, "d.id", ids)}`,
  categories: sql<{ directoryId: number; categoryId: number; ordinal: number }>`SELECT directory_id AS "directoryId",
      category_id AS "categoryId", ordinal
    FROM category_directories WHERE ${oneOf(sql, "directory_id", ids)}`,
  fileDetails: sql<{
    directoryId: number
    filename: string
    timestamp: string
    size: string
    md5: string | null
    sha1: string | null
    sha256: string | null
    sha512: string | null
  }>`SELECT directory_id AS "directoryId", filename, timestamp::text AS timestamp, size::text AS size,
      md5, sha1, sha256, sha512
    FROM file_details WHERE ${oneOf(sql, "directory_id", ids)} ORDER BY directory_id, filename, timestamp DESC, id DESC`
})

/** Directories with their categories and file details, all of them or those in `ids`. */
const loadDirectories = (ids?: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    if (ids !== undefined && ids.length === 0) return []
    const statements = directoryStatements(sql, ids)
    const directories = yield* statements.directories
    const categoryRows = yield* statements.categories
    const detailRows = yield* statements.fileDetails
    // Put together in slices: at Fedora's size these are 150,000 rows and more of each.
    return yield* sliced(
      (function* () {
        let step = 0
        const categories = new Map<number, Array<DirectoryCategory>>()
        for (const row of categoryRows) {
          const link = { categoryId: row.categoryId, ordinal: row.ordinal }
          const list = categories.get(row.directoryId)
          if (list === undefined) categories.set(row.directoryId, [link])
          else list.push(link)
          if ((++step & 1023) === 0) yield
        }
        const details = new Map<number, Array<FileDetailSource>>()
        for (const row of detailRows) {
          const detail: FileDetailSource = {
            filename: row.filename,
            timestamp: Number(row.timestamp),
            size: Number(row.size),
            md5: row.md5,
            sha1: row.sha1,
            sha256: row.sha256,
            sha512: row.sha512
          }
          const list = details.get(row.directoryId)
          if (list === undefined) details.set(row.directoryId, [detail])
          else list.push(detail)
          if ((++step & 1023) === 0) yield
        }
        const sources: Array<DirectorySource> = []
        for (const d of directories) {
          sources.push({
            id: d.id,
            name: d.name,
            categories: categories.get(d.id) ?? [],
            fileDetails: details.get(d.id) ?? []
          })
          if ((++step & 1023) === 0) yield
        }
        return sources
      })()
    )
  })

const loadRepositories = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const repositories = yield* sql<RepositorySource>`SELECT r.prefix, a.name AS arch, r.directory_id AS
      "directoryId", r.disabled
    FROM repositories r JOIN arches a ON a.id = r.arch_id WHERE r.prefix IS NOT NULL ORDER BY r.prefix, a.name`
  const redirects = yield* sql<RedirectSource>`SELECT from_repo AS "from", to_repo AS "to"
    FROM repository_redirects ORDER BY from_repo`
  return { repositories, redirects }
})

const loadOverrides = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const netblockCountries = yield* sql<{ netblock: string; country: string }>`SELECT netblock, country
    FROM netblock_countries ORDER BY id`
  const continentRedirects = yield* sql<{ country: string; continent: string }>`SELECT country, continent
    FROM country_continent_redirects ORDER BY id`
  return { netblockCountries, continentRedirects } satisfies OverridesSource
})

/**
 * Everything, read in one REPEATABLE READ transaction so the rows and the snapshot agree; unbounded (what is up to
 * date is one bitset per host category: a few thousand rows at Fedora's scale, besides its directories).
 */
const loadIndex: Effect.Effect<LoadedIndex, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return yield* sql.withTransaction(
    Effect.gen(function* () {
      yield* sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`
      yield* withoutTransactionTimeouts(sql)
      const [row] = yield* sql<{ snapshot: string }>`SELECT pg_current_snapshot()::text AS snapshot`
      const [hosts, categories, directories, repos, overrides] = yield* Effect.all(
        [loadHosts(), loadCategories, loadDirectories(), loadRepositories, loadOverrides],
        { concurrency: 1 }
      )
      return {
        snapshot: row!.snapshot,
        source: { hosts, categories, directories, ...repos, overrides }
      }
    })
  )
})

export class IndexRows extends Context.Service<
  IndexRows,
  {
    /** Every row, read in one transaction, and the database snapshot they were read in. */
    readonly all: Effect.Effect<LoadedIndex, SqlError.SqlError>
    /** The hosts in `ids` that are active (a host missing from the answer is gone or inactive). */
    readonly hosts: (ids: ReadonlyArray<number>) => Effect.Effect<ReadonlyArray<HostSource>, SqlError.SqlError>
    /** The directories in `ids` with their categories and file details (one missing is gone). */
    readonly directories: (
      ids: ReadonlyArray<number>
    ) => Effect.Effect<ReadonlyArray<DirectorySource>, SqlError.SqlError>
    /** Every addressable repository and repository redirect. */
    readonly repositories: Effect.Effect<
      { readonly repositories: ReadonlyArray<RepositorySource>; readonly redirects: ReadonlyArray<RedirectSource> },
      SqlError.SqlError
    >
    /** The NetblockCountry overrides and continent redirects. */
    readonly overrides: Effect.Effect<OverridesSource, SqlError.SqlError>
  }
>()("actors/IndexRows") {
  static readonly layer = Layer.effect(
    IndexRows,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const withSql = Effect.provideService(SqlClient.SqlClient, sql)
      return IndexRows.of({
        all: loadIndex.pipe(withSql, Effect.withSpan("IndexRows.all")),
        hosts: Effect.fn("IndexRows.hosts")(function* (ids: ReadonlyArray<number>) {
          return yield* loadHosts(ids).pipe(withSql)
        }),
        directories: Effect.fn("IndexRows.directories")(function* (ids: ReadonlyArray<number>) {
          return yield* loadDirectories(ids).pipe(withSql)
        }),
        repositories: loadRepositories.pipe(withSql, Effect.withSpan("IndexRows.repositories")),
        overrides: loadOverrides.pipe(withSql, Effect.withSpan("IndexRows.overrides"))
      })
    })
  )
}
