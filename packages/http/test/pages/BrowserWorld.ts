// A small registry for the public pages' browser test: one product ("Fedora", category "Fedora Linux") in two
// versions and two arches (four repositories), seven hosts in three countries. Five are public and up to date on
// something; one is private (never listed); one carries the category but is up to date on nothing (never listed).
// What a crawl would have found is written in SQL, as the crawler writes it: the directories linked to the category,
// each host category's up-to-date directories and their bitset, URL families, a crawl log and propagation runs.
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { create } from "../support/Fixtures.ts"

export const PRODUCT = "Fedora"
export const CATEGORY = "Fedora Linux"
export const TOPDIR = "pub/fedora/linux"
export const VERSIONS = ["40", "41"] as const
export const ARCHES = ["x86_64", "aarch64"] as const

export type Version = (typeof VERSIONS)[number]
export type Arch = (typeof ARCHES)[number]

export interface HostSpec {
  readonly name: string
  readonly site: string
  readonly orgUrl?: string
  readonly country: string
  readonly bandwidth: number
  readonly private?: boolean
  readonly internet2?: boolean
  readonly comment?: string
  readonly ipv6?: boolean
  readonly latitude?: number
  readonly longitude?: number
  readonly urls: ReadonlyArray<string>
  /** The versions whose repositories (both arches) it is up to date on. */
  readonly upToDate: ReadonlyArray<Version>
}

/** The hosts, in no particular order; bandwidths all differ so that a sort by bandwidth has one answer. */
export const HOSTS: ReadonlyArray<HostSpec> = [
  {
    name: "mirror.example-university.de",
    site: "Example University",
    orgUrl: "https://www.example-university.de/",
    country: "DE",
    bandwidth: 10_000,
    internet2: true,
    comment: "Hosted by the Example University computing centre, 10 Gbit/s to DFN; rsync for downstream mirrors.",
    ipv6: true,
    latitude: 50.11,
    longitude: 8.68,
    urls: [
      "https://mirror.example-university.de/pub/fedora/linux",
      "http://mirror.example-university.de/pub/fedora/linux",
      "rsync://mirror.example-university.de/fedora-linux"
    ],
    upToDate: ["40", "41"]
  },
  {
    name: "ftp.beispiel.de",
    site: "Beispiel Hosting",
    country: "DE",
    bandwidth: 1_000,
    urls: ["http://ftp.beispiel.de/fedora/linux", "ftp://ftp.beispiel.de/fedora/linux"],
    upToDate: ["40", "41"]
  },
  {
    name: "miroir.exemple.fr",
    site: "Exemple Réseau",
    orgUrl: "https://www.exemple.fr/",
    country: "FR",
    bandwidth: 500,
    comment: "Only the newest release.",
    urls: ["https://miroir.exemple.fr/fedora/linux"],
    upToDate: ["41"]
  },
  {
    name: "mirrors.example.com",
    site: "Example Cloud",
    country: "US",
    bandwidth: 100_000,
    ipv6: true,
    latitude: 37.77,
    longitude: -122.42,
    urls: ["https://mirrors.example.com/fedora/linux", "http://mirrors.example.com/fedora/linux"],
    upToDate: ["40", "41"]
  },
  {
    name: "fast.example.net",
    site: "Example Cloud",
    country: "US",
    bandwidth: 2_000,
    urls: ["https://fast.example.net/pub/fedora/linux"],
    upToDate: ["40", "41"]
  },
  {
    name: "internal.example.org",
    site: "Private Campus",
    country: "DE",
    bandwidth: 5_000,
    private: true,
    urls: ["https://internal.example.org/fedora/linux"],
    upToDate: ["40", "41"]
  },
  {
    name: "stale.exemple.fr",
    site: "Exemple Réseau",
    country: "FR",
    bandwidth: 300,
    urls: ["https://stale.exemple.fr/fedora/linux"],
    upToDate: []
  }
]

export interface WorldHost extends HostSpec {
  readonly id: number
  readonly hostCategoryId: number
}

export interface World {
  readonly productId: number
  readonly categoryId: number
  readonly versionIds: Record<Version, number>
  readonly repositories: ReadonlyArray<{ readonly id: number; readonly version: Version; readonly arch: Arch }>
  readonly hosts: ReadonlyArray<WorldHost>
}

/** A host is listed for a scope when it is public and up to date on something in it. */
export const listedHosts = (world: World, scope: { readonly version?: Version; readonly country?: string } = {}) =>
  world.hosts.filter(
    (h) =>
      h.private !== true &&
      h.upToDate.length > 0 &&
      (scope.version === undefined || h.upToDate.includes(scope.version)) &&
      (scope.country === undefined || h.country === scope.country)
  )

const repositoryDirectory = (version: Version, arch: Arch) => `releases/${version}/Everything/${arch}/os`

export const buildWorld = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const product = yield* create("/api/products", { name: PRODUCT })
  const category = yield* create("/api/categories", { name: CATEGORY, productId: product.id, topdir: TOPDIR })
  const versionIds = {} as Record<Version, number>
  for (const [i, name] of VERSIONS.entries()) {
    versionIds[name] = (yield* create("/api/versions", { productId: product.id, name, sortOrder: i })).id
  }
  for (const name of ARCHES) yield* create("/api/arches", { name })
  const repositories: Array<{ id: number; version: Version; arch: Arch }> = []
  for (const version of VERSIONS) {
    for (const arch of ARCHES) {
      const repository = yield* create("/api/repositories", {
        prefix: `fedora-${version}`,
        arch,
        directory: `${TOPDIR}/${repositoryDirectory(version, arch)}`,
        categoryId: category.id,
        versionId: versionIds[version]
      })
      repositories.push({ id: repository.id, version, arch })
    }
  }
  // The category's directories, as a master scan links them (the trigger numbers them).
  const directories = [
    TOPDIR,
    ...VERSIONS.flatMap((v) =>
      ARCHES.flatMap((a) => [
        `${TOPDIR}/${repositoryDirectory(v, a)}`,
        `${TOPDIR}/${repositoryDirectory(v, a)}/repodata`
      ])
    )
  ]
  for (const name of directories) {
    yield* sql`INSERT INTO directories (name) VALUES (${name}) ON CONFLICT (name) DO NOTHING`
    yield* sql`INSERT INTO category_directories (category_id, directory_id)
      SELECT ${category.id}, id FROM directories WHERE name = ${name}`
  }

  const sites = new Map<string, number>()
  const hosts: Array<WorldHost> = []
  for (const spec of HOSTS) {
    let siteId = sites.get(spec.site)
    if (siteId === undefined) {
      siteId = (yield* create("/api/sites", {
        name: spec.site,
        password: "check-in-secret",
        ...(spec.orgUrl === undefined ? {} : { orgUrl: spec.orgUrl })
      })).id as number
      sites.set(spec.site, siteId)
    }
    const host = yield* create(`/api/sites/${siteId}/hosts`, {
      name: spec.name,
      country: spec.country,
      bandwidth: spec.bandwidth,
      private: spec.private ?? false,
      internet2: spec.internet2 ?? false,
      ...(spec.comment === undefined ? {} : { comment: spec.comment }),
      ...(spec.latitude === undefined ? {} : { latitude: spec.latitude, longitude: spec.longitude })
    })
    const hc = yield* create(`/api/hosts/${host.id}/categories`, { categoryId: category.id })
    for (const url of spec.urls) yield* create(`/api/host-categories/${hc.id}/urls`, { url })
    // What the crawler learnt of the host: its address families and when it last looked.
    const v6 = spec.ipv6 === true
    yield* sql`UPDATE hosts SET ipv4 = 'yes', ipv6 = ${v6 ? "yes" : "no"}, last_crawled = now() - interval '2 hours',
      last_crawl_duration = 12.5, last_checked_in = now() - interval '5 hours' WHERE id = ${host.id}`
    yield* sql`UPDATE host_category_urls SET reachable = true, ipv4 = true, ipv6 = ${v6},
      checked_at = now() - interval '2 hours' WHERE host_category_id = ${hc.id}`
    const paths = [
      "",
      ...spec.upToDate.flatMap((v) =>
        ARCHES.flatMap((a) => [repositoryDirectory(v, a), `${repositoryDirectory(v, a)}/repodata`])
      )
    ]
    for (const path of spec.upToDate.length === 0 ? [] : paths) {
      const name = path === "" ? TOPDIR : `${TOPDIR}/${path}`
      yield* sql`INSERT INTO host_category_dirs (host_category_id, directory_id, path, up2date, verified_by, verified_at)
        SELECT ${hc.id}, id, ${path}, true, 'crawl', now() - interval '2 hours' FROM directories WHERE name = ${name}`
    }
    yield* sql`INSERT INTO host_category_up2date (host_category_id, bits)
      SELECT ${hc.id}, coalesce((SELECT mm_bits_of(array_agg(cd.ordinal)) FROM host_category_dirs d
        JOIN category_directories cd ON cd.category_id = ${category.id} AND cd.directory_id = d.directory_id
        WHERE d.host_category_id = ${hc.id} AND d.up2date), '\\x'::bytea)`
    yield* sql`INSERT INTO host_crawl_logs (host_id, started_at, mode, status, reason, duration_ms, requests, entries,
        entries_total)
      VALUES (${host.id}, now() - interval '2 hours', 'full', 'ok', NULL, 12500,
        ${paths.length}, '[]'::jsonb, 0)`
    hosts.push({ ...spec, id: host.id, hostCategoryId: hc.id })
  }

  // A week of propagation runs for each repository, twice a day: most hosts catch up within a day.
  const publicCount = hosts.filter((h) => h.private !== true).length
  for (const { id } of repositories) {
    for (let run = 0; run < 14; run++) {
      const sameDay = Math.max(0, publicCount - 2 - (run % 3))
      const oneDay = publicCount - 2 - sameDay + 1
      yield* sql`INSERT INTO propagation_stats (repository_id, run_at, newest_timestamp, same_day, one_day, two_day,
          older, no_info)
        VALUES (${id}, now() - make_interval(hours => ${run * 12}), extract(epoch FROM now())::bigint - ${run * 43_200},
          ${sameDay}, ${oneDay}, ${run % 2}, 1 - ${run % 2}, 1)`
    }
  }

  // Three days of access statistics, as nodes add them: many countries (more than a day's chart shows), the
  // embargoed and unknown buckets, both arches, the repositories and the countme buckets. Every request counts once
  // in each kind, so each kind adds up to the day's total.
  const countries = ["US", "DE", "CN", "BR", "IN", "FR", "GB", "RU", "JP", "CA", "NL", "PL", "IT", "ES", "SE", "CZ"]
  const extra = ["AU", "KR", "MX", "AR", "TR", "UA", "FI", "AT", "CH", "BE", "ZA", "ID", "VN", "TW", "NO", "DK"]
  for (const day of [0, 1, 2]) {
    const byCountry: Array<readonly [string, number]> = [
      ...[...countries, ...extra].map((c, i) => [c, 40_000 - i * 1_200 + day * 97] as const),
      ["embargoed", 310],
      ["unknown", 1_234]
    ]
    const total = byCountry.reduce((sum, [, n]) => sum + n, 0)
    /** The day's total split by shares (the last key takes what rounding leaves). */
    const split = (shares: ReadonlyArray<readonly [string, number]>) =>
      shares.map(([key, share], i) => {
        const before = shares.slice(0, i).reduce((sum, [, s]) => sum + Math.round(total * s), 0)
        return [key, i === shares.length - 1 ? total - before : Math.round(total * share)] as const
      })
    const rows: Array<readonly [string, string, number]> = [
      ...byCountry.map(([key, n]) => ["countries", key, n] as const),
      ...split([
        ["x86_64", 0.89],
        ["aarch64", 0.11]
      ]).map(([key, n]) => ["arches", key, n] as const),
      ...split([
        ["fedora-41", 0.36],
        ["updates-released-f41", 0.3],
        ["fedora-40", 0.19],
        ["updates-released-f40", 0.15]
      ]).map(([key, n]) => ["repositories", key, n] as const),
      ...split([
        ["4", 0.45],
        ["none", 0.26],
        ["3", 0.2],
        ["2", 0.07],
        ["1", 0.02]
      ]).map(([key, n]) => ["countme", key, n] as const)
    ]
    const date = new Date(Date.now() - day * 86_400_000).toISOString().slice(0, 10)
    for (const [kind, key, requests] of rows) {
      yield* sql`INSERT INTO access_stats (day, kind, key, requests) VALUES (${date}::date, ${kind}, ${key}, ${requests})`
    }
  }

  return {
    productId: product.id,
    categoryId: category.id,
    versionIds,
    repositories,
    hosts
  } satisfies World
})
