// The public mirror list (SPEC 9): the hosts that are not private, active, and up to date on at least one directory
// within the asked scope — a product's categories, a version's repositories, or a version and arch's — read from the
// up-to-date bitsets as selection reads them (a repository's directory counts only with its repodata/ up to date), so
// that the list agrees with what the metalinks of that scope offer. Upstream lists a host
// up to date anywhere; we don't. Private hosts and everything only admins see are never read here.
import type {
  CatalogProduct,
  MirrorCatalog,
  MirrorScope,
  PublicMirror,
  PublicMirrorCategory,
  UrlsByProtocol
} from "@mirrormanager/domain/publiclist"
import { countryName, type HostId } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

export interface MirrorList {
  readonly scope: MirrorScope
  /** Every public mirror of the scope, before the country filter, by country: for the filter's choices. */
  readonly countries: ReadonlyArray<{ readonly country: string; readonly mirrors: number }>
  /** The mirrors of the scope and country, by country and host name. */
  readonly mirrors: ReadonlyArray<PublicMirror>
}

export interface CountryMirrors {
  /** ISO 3166-1 alpha-2. */
  readonly code: string
  /** Its short English name (the code when the table does not know it). */
  readonly name: string
  readonly mirrors: number
}

/** The public mirrors per country (for the map): the hosts the whole list has, by their country. */
export interface MirrorsByCountry {
  /** Countries with at least one public mirror, most mirrors first, then by name; embargoed countries left out. */
  readonly countries: ReadonlyArray<CountryMirrors>
  /** The public mirrors of those countries. */
  readonly total: number
  /** Embargoed countries that have public mirrors: left out of `countries` and `total` (SPEC 9.5). */
  readonly embargoedSkipped: number
}

/** The scope a list was asked for, by name; undefined fields are not narrowed. */
export interface ScopeNames {
  readonly product?: string | undefined
  readonly version?: string | undefined
  readonly arch?: string | undefined
  readonly country?: string | undefined
}

/** Why a scope has no list: a name that is not in the public catalog. */
export interface UnknownScope {
  readonly _tag: "UnknownScope"
  readonly what: "product" | "version" | "arch"
  readonly name: string
}

const PROTOCOLS = ["https", "http", "ftp", "rsync"] as const

const byProtocol = (urls: ReadonlyArray<string>): UrlsByProtocol => {
  const out: Record<(typeof PROTOCOLS)[number], Array<string>> = { https: [], http: [], ftp: [], rsync: [] }
  for (const url of urls) {
    const scheme = url.slice(0, url.indexOf(":")).toLowerCase() as (typeof PROTOCOLS)[number]
    out[scheme]?.push(url)
  }
  for (const list of Object.values(out)) list.sort()
  return out
}

export class PublicMirrors extends Context.Service<
  PublicMirrors,
  {
    /** The products, versions and arches with public repositories, for the list's index. */
    readonly catalog: () => Effect.Effect<MirrorCatalog, SqlError.SqlError>
    /** The public mirrors of a scope; an unknown product, version or arch is said as such. */
    readonly list: (scope: ScopeNames) => Effect.Effect<MirrorList | UnknownScope, SqlError.SqlError>
    /** The whole list's mirrors per country, for the map. */
    readonly countries: () => Effect.Effect<MirrorsByCountry, SqlError.SqlError>
  }
>()("actors/PublicMirrors") {
  static readonly layer = Layer.effect(
    PublicMirrors,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      /**
       * The public, active hosts' host categories up to date within a scope: the one definition of a public mirror
       * the list and the map share. Without a version: any directory of the category (a non-empty bitset); with one:
       * the directories of its repositories (their bits), arch-narrowed if asked.
       */
      const upToDate = (scope: {
        readonly productId?: number | undefined
        readonly versionId?: number | undefined
        readonly archId?: number | undefined
      }) => sql<{ readonly id: number; readonly hostId: number }>`
          WITH scope_dirs AS (
            SELECT cd.category_id, cd.ordinal, rcd.ordinal AS repodata
            FROM repositories r
            JOIN directories d ON d.id = r.directory_id
            JOIN category_directories cd ON cd.directory_id = r.directory_id AND cd.category_id = r.category_id
            LEFT JOIN directories rd ON rd.name = d.name || '/repodata'
            LEFT JOIN category_directories rcd ON rcd.directory_id = rd.id AND rcd.category_id = r.category_id
            WHERE NOT r.disabled AND r.version_id = ${scope.versionId ?? null}
              AND (${scope.archId ?? null}::int IS NULL OR r.arch_id = ${scope.archId ?? null})
          )
          SELECT hc.id, hc.host_id AS "hostId"
          FROM host_categories hc
          JOIN categories c ON c.id = hc.category_id
          JOIN hosts h ON h.id = hc.host_id JOIN sites s ON s.id = h.site_id
          LEFT JOIN host_category_up2date u ON u.host_category_id = hc.id
          WHERE c.publiclist AND NOT c.admin_only
            AND (${scope.productId ?? null}::int IS NULL OR c.product_id = ${scope.productId ?? null})
            AND NOT h.private AND h.admin_active AND h.user_active
            AND NOT s.private AND s.admin_active AND s.user_active
            AND ${
              scope.versionId === undefined
                ? sql`(hc.always_up2date OR bit_count(coalesce(u.bits, '\\x'::bytea)) > 0)`
                : // As selection has it: a repository's directory counts with its repodata/ up to date too.
                  sql`EXISTS (SELECT 1 FROM scope_dirs d WHERE d.category_id = hc.category_id
                        AND (hc.always_up2date
                             OR (d.ordinal < length(u.bits) * 8 AND get_bit(u.bits, d.ordinal) = 1
                                 AND (d.repodata IS NULL
                                      OR (d.repodata < length(u.bits) * 8 AND get_bit(u.bits, d.repodata) = 1)))))`
            }`

      const catalog = Effect.fn("PublicMirrors.catalog")(function* () {
        const rows = yield* sql<{
          readonly product: string
          readonly version: string
          readonly displayName: string | null
          readonly isTest: boolean
          readonly arch: string
        }>`
          SELECT DISTINCT p.name AS product, v.name AS version, v.display_name AS "displayName",
                 v.is_test AS "isTest", a.name AS arch, v.sort_order, v.id
          FROM repositories r
          JOIN versions v ON v.id = r.version_id JOIN products p ON p.id = v.product_id
          JOIN arches a ON a.id = r.arch_id JOIN categories c ON c.id = r.category_id
          WHERE NOT r.disabled AND p.publiclist AND a.publiclist AND v.display AND c.publiclist AND NOT c.admin_only
          ORDER BY p.name, v.sort_order DESC, v.id DESC, a.name`
        const products: Array<{ name: string; versions: Array<CatalogProduct["versions"][number]> }> = []
        for (const row of rows) {
          let product = products[products.length - 1]
          if (product?.name !== row.product) {
            product = { name: row.product, versions: [] }
            products.push(product)
          }
          let version = product.versions[product.versions.length - 1]
          if (version?.name !== row.version) {
            version = { name: row.version, displayName: row.displayName, isTest: row.isTest, arches: [] }
            product.versions.push(version)
          }
          ;(version.arches as Array<string>).push(row.arch)
        }
        // Products with public categories but no repositories yet are listed too (their list is by category).
        const bare = yield* sql<{ readonly name: string }>`
          SELECT p.name FROM products p
          WHERE p.publiclist AND EXISTS (SELECT 1 FROM categories c WHERE c.product_id = p.id AND c.publiclist
                                         AND NOT c.admin_only)
          ORDER BY p.name`
        for (const { name } of bare) if (!products.some((p) => p.name === name)) products.push({ name, versions: [] })
        products.sort((a, b) => a.name.localeCompare(b.name))
        return { products }
      })

      const list = Effect.fn("PublicMirrors.list")(function* (names: ScopeNames) {
        const scope: MirrorScope = {
          product: names.product ?? null,
          version: names.version ?? null,
          arch: names.arch ?? null,
          country: names.country ?? null
        }
        let productId: number | undefined
        let versionId: number | undefined
        let archId: number | undefined
        if (names.product !== undefined) {
          const [row] = yield* sql<{ readonly id: number }>`
            SELECT id FROM products WHERE name = ${names.product} AND publiclist`
          if (row === undefined) return { _tag: "UnknownScope", what: "product", name: names.product } as const
          productId = row.id
          if (names.version !== undefined) {
            const [v] = yield* sql<{ readonly id: number }>`
              SELECT id FROM versions WHERE product_id = ${productId} AND name = ${names.version} AND display`
            if (v === undefined) return { _tag: "UnknownScope", what: "version", name: names.version } as const
            versionId = v.id
            if (names.arch !== undefined) {
              const [a] = yield* sql<{ readonly id: number }>`
                SELECT id FROM arches WHERE name = ${names.arch} AND publiclist`
              if (a === undefined) return { _tag: "UnknownScope", what: "arch", name: names.arch } as const
              archId = a.id
            }
          }
        }
        // The host categories up to date within the scope. Without a version: any directory of the category (a
        // non-empty bitset); with one: the directories of its repositories (their bits), arch-narrowed if asked.
        const current = yield* upToDate({ productId, versionId, archId })
        const currentIds = new Set(current.map((row) => row.id))
        const hostIds = [...new Set(current.map((row) => row.hostId))]
        if (hostIds.length === 0) return { scope, countries: [], mirrors: [] }
        const hosts = yield* sql<{
          readonly id: HostId
          readonly name: string
          readonly country: string
          readonly site: string
          readonly siteUrl: string | null
          readonly bandwidth: number
          readonly internet2: boolean
          readonly ipv4: "yes" | "no" | "unknown"
          readonly ipv6: "yes" | "no" | "unknown"
          readonly comment: string | null
          readonly countriesAllowed: ReadonlyArray<string>
        }>`
          SELECT h.id, h.name, h.country, s.name AS site, s.org_url AS "siteUrl", h.bandwidth, h.internet2,
                 h.ipv4, h.ipv6, h.comment,
                 coalesce((SELECT array_agg(a.country ORDER BY a.country) FROM host_countries_allowed a
                           WHERE a.host_id = h.id), '{}') AS "countriesAllowed"
          FROM hosts h JOIN sites s ON s.id = h.site_id
          WHERE h.id = ANY(${hostIds})
          ORDER BY h.country, h.name, h.id`
        const urls = yield* sql<{
          readonly hostId: number
          readonly hostCategoryId: number
          readonly category: string
          readonly url: string | null
        }>`
          SELECT hc.host_id AS "hostId", hc.id AS "hostCategoryId", c.name AS category, u.url
          FROM host_categories hc JOIN categories c ON c.id = hc.category_id
          LEFT JOIN host_category_urls u ON u.host_category_id = hc.id AND NOT u.private
          WHERE hc.host_id = ANY(${hostIds}) AND c.publiclist AND NOT c.admin_only
            AND (${productId ?? null}::int IS NULL OR c.product_id = ${productId ?? null})
          ORDER BY c.name`
        const categories = new Map<number, Map<string, { upToDate: boolean; urls: Array<string> }>>()
        for (const row of urls) {
          let mine = categories.get(row.hostId)
          if (mine === undefined) {
            mine = new Map()
            categories.set(row.hostId, mine)
          }
          let entry = mine.get(row.category)
          if (entry === undefined) {
            entry = { upToDate: currentIds.has(row.hostCategoryId), urls: [] }
            mine.set(row.category, entry)
          }
          if (row.url !== null) entry.urls.push(row.url)
        }
        const all: Array<PublicMirror> = hosts.map((host) => ({
          ...host,
          countriesAllowed: [...host.countriesAllowed],
          categories: [...(categories.get(host.id) ?? new Map()).entries()].map(
            ([category, entry]): PublicMirrorCategory => ({
              category,
              upToDate: entry.upToDate,
              urls: byProtocol(entry.urls)
            })
          )
        }))
        const counts = new Map<string, number>()
        for (const host of all) counts.set(host.country, (counts.get(host.country) ?? 0) + 1)
        const countries = [...counts.entries()]
          .map(([country, mirrors]) => ({ country, mirrors }))
          .sort((a, b) => a.country.localeCompare(b.country))
        const country = names.country
        // SPEC 9.2: a country's list has its hosts and the hosts that serve it among the countries they allow.
        const mirrors =
          country === undefined
            ? all
            : all.filter((host) => host.country === country || host.countriesAllowed.includes(country))
        return { scope, countries, mirrors }
      })

      const countries = Effect.fn("PublicMirrors.countries")(function* () {
        const hostIds = [...new Set((yield* upToDate({})).map((row) => row.hostId))]
        const rows =
          hostIds.length === 0
            ? []
            : yield* sql<{ readonly country: string; readonly mirrors: number; readonly embargoed: boolean }>`
                SELECT h.country, count(*)::int AS mirrors,
                       EXISTS (SELECT 1 FROM embargoed_countries e WHERE e.country = h.country) AS embargoed
                FROM hosts h WHERE h.id = ANY(${hostIds})
                GROUP BY h.country`
        const shown = rows
          .filter((row) => !row.embargoed)
          .map((row) => ({ code: row.country, name: countryName(row.country) ?? row.country, mirrors: row.mirrors }))
          .sort((a, b) => b.mirrors - a.mirrors || a.name.localeCompare(b.name, "en"))
        return {
          countries: shown,
          total: shown.reduce((sum, country) => sum + country.mirrors, 0),
          embargoedSkipped: rows.filter((row) => row.embargoed).length
        }
      })

      return PublicMirrors.of({ catalog, list, countries })
    })
  )
}
