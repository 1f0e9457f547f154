// The rows of the Redirector's index as the registry database holds them: everything at once (a full build), or
// just the hosts and directories a change names, the repositories and the overrides (the change follower).
import * as dns from "node:dns/promises"
import type { MirrorUrlScheme } from "@mirrormanager/domain/registry"
import { parseNetblock } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { withoutTransactionTimeouts } from "../db/index.ts"
import {
  type CategorySource,
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

/** Integers from a `string_agg(x::text, ',')` column (much cheaper to ship than millions of rows). */
const integers = (text: string | null): Array<number> => {
  if (text === null || text.length === 0) return []
  const out: Array<number> = []
  let value = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 44) {
      out.push(value)
      value = 0
    } else value = value * 10 + (c - 48)
  }
  out.push(value)
  return out
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
    const isName = (text: string) => {
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

/** Hosts, all of them or those in `ids` (a host missing from the answer is gone or inactive). */
const loadHosts = (ids?: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    if (ids !== undefined && ids.length === 0) return []
    const all = ids === undefined
    const only = JSON.stringify(ids ?? [])
    const hosts = yield* sql<{
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
      WHERE h.admin_active AND h.user_active AND s.admin_active AND s.user_active AND (${all} OR h.id IN (SELECT value::int FROM jsonb_array_elements(${only}::jsonb)))
      ORDER BY h.id`
    if (hosts.length === 0) return []
    const of = JSON.stringify(all ? [] : hosts.map((h) => h.id))
    const peerAsns = byHost(
      yield* sql<{ hostId: number; asn: string }>`SELECT host_id AS "hostId", asn::text AS asn
        FROM host_peer_asns WHERE (${all} OR host_id IN (SELECT value::int FROM jsonb_array_elements(${of}::jsonb))) ORDER BY asn`
    )
    const allowed = byHost(
      yield* sql<{ hostId: number; country: string }>`SELECT host_id AS "hostId", country
        FROM host_countries_allowed WHERE (${all} OR host_id IN (SELECT value::int FROM jsonb_array_elements(${of}::jsonb))) ORDER BY country`
    )
    const netblockRows = yield* sql<{ hostId: number; netblock: string }>`SELECT host_id AS "hostId", netblock
        FROM host_netblocks WHERE (${all} OR host_id IN (SELECT value::int FROM jsonb_array_elements(${of}::jsonb))) ORDER BY id`
    const netblocks = byHost(netblockRows)
    const expand = yield* resolveNetblocks(netblockRows.map((row) => row.netblock))
    const categories = byHost(
      yield* sql<{ hostId: number; id: number; categoryId: number; alwaysUp2date: boolean }>`SELECT
          host_id AS "hostId", id, category_id AS "categoryId", always_up2date AS "alwaysUp2date"
        FROM host_categories WHERE (${all} OR host_id IN (SELECT value::int FROM jsonb_array_elements(${of}::jsonb))) ORDER BY id`
    )
    const urls = new Map<number, Array<HostUrlSource>>()
    for (const row of yield* sql<{ hostCategoryId: number; url: string }>`SELECT u.host_category_id AS
          "hostCategoryId", u.url
        FROM host_category_urls u JOIN host_categories hc ON hc.id = u.host_category_id
        WHERE NOT u.private AND u.reachable IS NOT FALSE AND u.tls_valid IS NOT FALSE AND (${all} OR hc.host_id IN (SELECT value::int FROM jsonb_array_elements(${of}::jsonb)))
        ORDER BY u.id`) {
      const scheme = schemeOf(row.url)
      if (scheme === undefined) continue
      const list = urls.get(row.hostCategoryId)
      if (list === undefined) urls.set(row.hostCategoryId, [{ url: row.url, scheme }])
      else list.push({ url: row.url, scheme })
    }
    const directories = new Map<number, Array<number>>()
    for (const row of yield* sql<{ hostCategoryId: number; ids: string }>`SELECT d.host_category_id AS
          "hostCategoryId", string_agg(d.directory_id::text, ',' ORDER BY d.directory_id) AS ids
        FROM host_category_dirs d JOIN host_categories hc ON hc.id = d.host_category_id
        WHERE d.up2date AND (${all} OR hc.host_id IN (SELECT value::int FROM jsonb_array_elements(${of}::jsonb)))
        GROUP BY d.host_category_id`) {
      directories.set(row.hostCategoryId, integers(row.ids))
    }
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
          directoryIds: directories.get(hc.id) ?? []
        }))
      })
    )
  })

const loadCategories = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<CategorySource>`SELECT c.id, c.name, d.name AS topdir
    FROM categories c JOIN directories d ON d.id = c.topdir_id ORDER BY c.id`
})

/** Directories with their categories and file details, all of them or those in `ids`. */
const loadDirectories = (ids?: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    if (ids !== undefined && ids.length === 0) return []
    const all = ids === undefined
    const only = JSON.stringify(ids ?? [])
    const directories = yield* sql<{ id: number; name: string; categoryIds: string | null }>`SELECT d.id, d.name,
        (SELECT string_agg(cd.category_id::text, ',') FROM category_directories cd WHERE cd.directory_id = d.id)
          AS "categoryIds"
      FROM directories d WHERE (${all} OR d.id IN (SELECT value::int FROM jsonb_array_elements(${only}::jsonb)))`
    const details = new Map<number, Array<FileDetailSource>>()
    for (const row of yield* sql<{
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
      FROM file_details WHERE (${all} OR directory_id IN (SELECT value::int FROM jsonb_array_elements(${only}::jsonb))) ORDER BY directory_id, filename, timestamp DESC, id DESC`) {
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
    }
    return directories.map(
      (d): DirectorySource => ({
        id: d.id,
        name: d.name,
        categoryIds: integers(d.categoryIds),
        fileDetails: details.get(d.id) ?? []
      })
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
 * Everything, read in one REPEATABLE READ transaction so the rows and the snapshot agree; unbounded (one statement
 * returns every up-to-date host-directory pair: tens of millions at Fedora's scale).
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
