// The redirector benchmark's world, written straight into a migrated database with set-based SQL
// (INSERT ... SELECT generate_series): 2,000 hosts in 1,000 sites across 60 countries, 200 categories with 2,000
// repo/arch pairs and their repomd.xml file details, what every host carries and is up to date on (the crawl detail
// rows, and the bitsets selection reads), 20,000 host netblocks, a few netblock countries and continent redirects.
// Pseudo-random choices come from md5 of a key, so every run writes the same world. Shared with the scale benchmark:
// the random function and country table, repomd.xml details, host netblocks, and writing a world in one transaction.

import { Effect } from "effect"
import { SqlClient } from "effect/sql"

export const HOSTS = 2_000
export const SITES = 1_000
export const CATEGORIES = 200
export const PRODUCTS = 10
export const VERSIONS = ["9", "10"]
export const ARCHES = ["x86_64", "aarch64", "ppc64le", "s390x", "riscv64"]
export const HOST_NETBLOCKS_V4 = 18_000
export const HOST_NETBLOCKS_V6 = 2_000
/** Share of a host category's directories it is up to date on. */
export const UP2DATE = 0.9
const PACKAGE_LETTERS = "0123456789abcdefghijklmnopqrstuvwxyz"

/**
 * Host counts per country (weights; realised counts vary a little): a few countries with many hosts, a long tail.
 * Roughly the shape of Fedora's public mirror list.
 */
export const COUNTRY_WEIGHTS: ReadonlyArray<readonly [string, number]> = [
  ["US", 320],
  ["DE", 210],
  ["CN", 95],
  ["FR", 80],
  ["GB", 70],
  ["NL", 65],
  ["JP", 60],
  ["CA", 55],
  ["RU", 50],
  ["CZ", 45],
  ["SE", 45],
  ["BR", 40],
  ["AU", 40],
  ["IT", 35],
  ["PL", 35],
  ["CH", 30],
  ["AT", 30],
  ["KR", 30],
  ["IN", 30],
  ["TW", 28],
  ["ES", 25],
  ["FI", 25],
  ["DK", 22],
  ["NO", 20],
  ["BE", 20],
  ["SG", 20],
  ["HK", 18],
  ["ID", 18],
  ["UA", 18],
  ["RO", 16],
  ["GR", 15],
  ["PT", 15],
  ["HU", 15],
  ["BG", 14],
  ["IE", 14],
  ["ZA", 14],
  ["NZ", 12],
  ["AR", 12],
  ["MX", 12],
  ["CL", 12],
  ["TR", 12],
  ["IL", 10],
  ["TH", 10],
  ["VN", 10],
  ["MY", 10],
  ["KZ", 8],
  ["SK", 8],
  ["SI", 8],
  ["LT", 8],
  ["LV", 7],
  ["EE", 7],
  ["HR", 7],
  ["RS", 7],
  ["IS", 6],
  ["LU", 6],
  ["CO", 6],
  ["EC", 5],
  ["PH", 5],
  ["KE", 5],
  ["EG", 5]
]

/** First octets of IPv4 space allocated by the RIRs (none private, reserved or multicast). */
export const IPV4_FIRST_OCTETS = [
  // RIPE
  2, 5, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 109, 176, 178, 188,
  193, 194, 195, 212, 213, 217,
  // ARIN
  3, 4, 12, 23, 24, 50, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99, 104, 107, 108, 173, 174,
  184, 199, 204, 206, 207, 208, 209,
  // APNIC
  1, 14, 27, 36, 39, 42, 49, 58, 59, 60, 61, 101, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123,
  124, 125, 175, 180, 182, 183, 202, 203, 210, 211, 218, 219, 220, 221, 222,
  // LACNIC
  177, 179, 181, 186, 187, 189, 190, 200, 201,
  // AFRINIC
  41, 102, 105, 154, 196, 197
]

/** First groups of IPv6 space used for the host /48s and for random IPv6 clients. */
export const IPV6_FIRST_GROUPS = ["2a00", "2a01", "2a02", "2a03", "2a05", "2001", "2400", "2600", "2602", "2804"]

/**
 * Clients inside these are located in the given country whatever GeoIP says (docs/redirector.md#selection: netblock
 * countries).
 */
export const NETBLOCK_COUNTRIES: ReadonlyArray<readonly [string, string]> = [
  ["130.10.0.0/16", "SE"],
  ["130.20.0.0/16", "NO"],
  ["130.30.0.0/16", "DE"],
  ["130.40.0.0/16", "JP"],
  ["130.50.0.0/16", "BR"],
  ["130.60.0.0/16", "ZA"],
  ["130.70.0.0/16", "AU"],
  ["130.80.0.0/16", "IS"],
  ["2a0f:1000::/32", "NL"],
  ["2a0f:2000::/32", "KE"]
]

const COUNTRY_CONTINENT_REDIRECTS: ReadonlyArray<readonly [string, string]> = [
  ["IL", "EU"],
  ["AM", "EU"],
  ["JO", "EU"],
  ["TR", "EU"],
  ["EG", "EU"]
]

const EMBARGOED = ["CU", "IR", "KP", "SD", "SY"]

export interface WorldOptions {
  /** Also a Packages/<letter> directory under every repository directory (36 x 2,000 more directories). */
  readonly packageDirectories: boolean
}

export interface WorldCounts {
  readonly [table: string]: number
}

export const quote = (text: string) => `'${text.replace(/'/g, "''")}'`
export const values = (rows: ReadonlyArray<ReadonlyArray<string | number>>) =>
  rows.map((row) => `(${row.map((v) => (typeof v === "number" ? String(v) : quote(v))).join(", ")})`).join(",\n")
export const textArray = (items: ReadonlyArray<string>) => `ARRAY[${items.map(quote).join(", ")}]`
export const intArray = (items: ReadonlyArray<number>) => `ARRAY[${items.join(", ")}]::int[]`

/** The time the generated file details and directories are stamped with (seconds since the epoch). */
export const WORLD_NOW = 1_761_000_000

/**
 * `pg_temp.u(key)`, a uniform number in [0, 1) from a key (deterministic, unlike random(), whatever the plan), and
 * the temporary table `bench_countries (code, lo, hi)`: COUNTRY_WEIGHTS as ranges of [0, 1) to draw a country from.
 * For a world written in one transaction (the table is dropped at its commit).
 */
export const randomAndCountries = (): ReadonlyArray<readonly [string, string]> => {
  const total = COUNTRY_WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0)
  let cumulative = 0
  const countryRanges = COUNTRY_WEIGHTS.map(([code, weight], index) => {
    const lo = cumulative / total
    cumulative += weight
    // The last range ends above 1, so that no draw falls outside.
    return [code, lo, index === COUNTRY_WEIGHTS.length - 1 ? 2 : cumulative / total] as const
  })
  return [
    [
      "random function",
      `CREATE FUNCTION pg_temp.u(key text) RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$ SELECT ('x' || substr(md5(key), 1, 8))::bit(32)::bigint / 4294967296.0 $$`
    ],
    [
      "countries",
      `CREATE TEMP TABLE bench_countries (code char(2) NOT NULL, lo double precision, hi double precision)
       ON COMMIT DROP`
    ],
    ["countries", `INSERT INTO bench_countries VALUES ${values(countryRanges)}`]
  ]
}

/**
 * repomd.xml in every `…/repodata` directory: the newest and two alternates 8 and 16 hours older (inside the 4-day
 * window), hashes as lower-case hex.
 */
export const repomdStatement = () =>
  `INSERT INTO file_details (directory_id, filename, timestamp, size, md5, sha1, sha256, sha512)
   SELECT d.id, 'repomd.xml', ${WORLD_NOW} - (d.id % 3600) - i * 28800, 3000 + (d.id * 37 + i * 11) % 4000,
          md5(k), substr(encode(sha512(convert_to(k || ':sha1', 'UTF8')), 'hex'), 1, 40),
          encode(sha256(convert_to(k, 'UTF8')), 'hex'), encode(sha512(convert_to(k, 'UTF8')), 'hex')
   FROM directories d
   CROSS JOIN generate_series(0, 2) i
   CROSS JOIN LATERAL (SELECT d.name || '/repomd.xml:' || i AS k) x
   WHERE d.name LIKE '%/repodata'`

/**
 * `v4` IPv4 /24s and `v6` IPv6 /48s on every private host and on 30 % of the public ones, skewed (a few hosts with
 * hundreds, as campus and ISP mirrors have). Unique by construction: for one first octet the second one is a
 * bijection of the draw. Needs `pg_temp.u` (randomAndCountries).
 */
export const hostNetblocksStatement = (v4: number, v6: number) =>
  `WITH owners AS (
     SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM hosts
     WHERE private OR pg_temp.u('netblock-owner:' || id) < 0.3
   ), n AS (SELECT count(*) AS count FROM owners)
   INSERT INTO host_netblocks (host_id, netblock, name)
   SELECT o.id,
          CASE WHEN k < ${v4}
            THEN (${intArray(IPV4_FIRST_OCTETS)})[1 + k % ${IPV4_FIRST_OCTETS.length}] || '.' ||
                 ((k / ${IPV4_FIRST_OCTETS.length}) * 73 % 256) || '.' ||
                 floor(256 * pg_temp.u('octet:' || k))::int || '.0/24'
            ELSE (${textArray(IPV6_FIRST_GROUPS)})[1 + (k - ${v4}) % ${IPV6_FIRST_GROUPS.length}] || ':' ||
                 to_hex(4096 + (k - ${v4}) / ${IPV6_FIRST_GROUPS.length}) || ':' ||
                 to_hex(1 + floor(65535 * pg_temp.u('group:' || k))::int) || '::/48'
          END,
          'bench ' || k
   FROM generate_series(0, ${v4 + v6 - 1}) k
   CROSS JOIN n
   JOIN owners o ON o.i = floor(n.count * power(pg_temp.u('netblock:' || k), 2))::int`

/** `pub/c001` etc.: the topdir of category `c` (an SQL integer expression). */
const topdir = (c: string) => `'pub/c' || lpad((${c})::text, 3, '0')`

const statements = (options: WorldOptions): ReadonlyArray<readonly [string, string]> => {
  const now = WORLD_NOW
  const subdirectories = [
    "SELECT t.top AS name",
    "SELECT t.top || '/' || v FROM unnest(v_versions) v",
    "SELECT t.top || '/' || v || '/Everything' FROM unnest(v_versions) v",
    "SELECT t.top || '/' || v || '/Everything/' || a FROM unnest(v_versions) v, unnest(v_arches) a",
    "SELECT t.top || '/' || v || '/Everything/' || a || '/repodata' FROM unnest(v_versions) v, unnest(v_arches) a",
    ...(options.packageDirectories
      ? [
          "SELECT t.top || '/' || v || '/Everything/' || a || '/Packages' FROM unnest(v_versions) v, unnest(v_arches) a",
          "SELECT t.top || '/' || v || '/Everything/' || a || '/Packages/' || l " +
            `FROM unnest(v_versions) v, unnest(v_arches) a, unnest(${textArray([...PACKAGE_LETTERS])}) l`
        ]
      : [])
  ]
    .join("\n        UNION ALL ")
    .replaceAll("v_versions", textArray(VERSIONS))
    .replaceAll("v_arches", textArray(ARCHES))

  return [
    ...randomAndCountries(),
    [
      "sites",
      `INSERT INTO sites (id, name, password_hash, org_url, private, created_by)
       SELECT s, 'Bench site ' || s, 'bench:not-a-password-hash', 'https://www.site' || s || '.example.org',
              pg_temp.u('site-private:' || s) < 0.01, 'bench'
       FROM generate_series(1, ${SITES}) s`
    ],
    [
      "hosts",
      // The first 1,000 hosts one per site, the others mostly in the first sites (big organisations run several);
      // a site's hosts share its country.
      `INSERT INTO hosts (id, site_id, name, country, bandwidth, private, asn, asn_clients, internet2,
                          internet2_clients, user_active, ipv4, ipv6, comment)
       SELECT x.h, x.site, 'mirror' || x.h || '.site' || x.site || '.example.org', c.code,
              round(power(10, 1 + 4 * pg_temp.u('bandwidth:' || x.h)))::int,
              x.private,
              CASE WHEN pg_temp.u('asn:' || x.h) < 0.4 THEN 1000 + floor(60000 * pg_temp.u('asn-n:' || x.h))::bigint END,
              pg_temp.u('asn-clients:' || x.h) < 0.9,
              pg_temp.u('internet2:' || x.h) < 0.05,
              x.private AND pg_temp.u('internet2:' || x.h) < 0.05,
              pg_temp.u('user-active:' || x.h) >= 0.02,
              'yes',
              CASE WHEN pg_temp.u('ipv6:' || x.h) < 0.45 THEN 'yes'
                   WHEN pg_temp.u('ipv6:' || x.h) < 0.6 THEN 'no' ELSE 'unknown' END,
              'benchmark host'
       FROM (SELECT h,
                    CASE WHEN h <= ${SITES} THEN h
                         ELSE 1 + floor(${SITES} * power(pg_temp.u('site:' || h), 1.5))::int END AS site,
                    pg_temp.u('private:' || h) < 0.12 AS private
             FROM generate_series(1, ${HOSTS}) h) x
       JOIN bench_countries c ON pg_temp.u('country:' || x.site) >= c.lo AND pg_temp.u('country:' || x.site) < c.hi`
    ],
    [
      "products",
      `INSERT INTO products (id, name) SELECT p, 'Bench product ' || p FROM generate_series(1, ${PRODUCTS}) p`
    ],
    [
      "versions",
      `INSERT INTO versions (product_id, name, sort_order)
       SELECT p, v, i FROM generate_series(1, ${PRODUCTS}) p, unnest(${textArray(VERSIONS)}) WITH ORDINALITY AS x(v, i)`
    ],
    [
      "arches",
      `INSERT INTO arches (name) SELECT a FROM unnest(${textArray(ARCHES)}) a
       ON CONFLICT (name) DO NOTHING`
    ],
    [
      "directories",
      `INSERT INTO directories (name, readable, ctime)
       SELECT d.name, true, ${now}
       FROM generate_series(1, ${CATEGORIES}) c
       CROSS JOIN LATERAL (SELECT ${topdir("c")} AS top) t
       CROSS JOIN LATERAL (
         ${subdirectories}
       ) d`
    ],
    [
      "categories",
      `INSERT INTO categories (id, name, product_id, topdir_id)
       SELECT c, 'Bench category ' || lpad(c::text, 3, '0'), 1 + (c - 1) % ${PRODUCTS}, d.id
       FROM generate_series(1, ${CATEGORIES}) c JOIN directories d ON d.name = ${topdir("c")}`
    ],
    [
      "category_directories",
      `INSERT INTO category_directories (category_id, directory_id)
       SELECT c.id, d.id
       FROM directories d
       JOIN directories t ON t.name = 'pub/' || split_part(d.name, '/', 2)
       JOIN categories c ON c.topdir_id = t.id`
    ],
    [
      "repositories",
      `INSERT INTO repositories (name, prefix, category_id, version_id, arch_id, directory_id, scanned)
       SELECT d.name, 'c' || lpad(c.id::text, 3, '0') || '-' || v.name, c.id, v.id, a.id, d.id, true
       FROM categories c
       JOIN directories t ON t.id = c.topdir_id
       JOIN versions v ON v.product_id = c.product_id
       CROSS JOIN arches a
       JOIN directories d ON d.name = t.name || '/' || v.name || '/Everything/' || a.name`
    ],
    [
      "repository_redirects",
      // End-of-life releases: c001-8 -> c001-9, ...
      `INSERT INTO repository_redirects (from_repo, to_repo)
       SELECT 'c' || lpad(c::text, 3, '0') || '-8', 'c' || lpad(c::text, 3, '0') || '-9'
       FROM generate_series(1, 20) c`
    ],
    ["file_details", repomdStatement()],
    [
      "host_categories",
      // 1-3 categories per host; popular categories (low numbers) carried by many hosts, the tail by a few.
      `INSERT INTO host_categories (host_id, category_id, always_up2date)
       SELECT h.id, 1 + floor(${CATEGORIES} * power(pg_temp.u('category:' || h.id || ':' || k), 2))::int,
              pg_temp.u('always:' || h.id || ':' || k) < 0.01
       FROM hosts h
       CROSS JOIN LATERAL generate_series(1, 1 + floor(3 * pg_temp.u('categories:' || h.id))::int) k
       ON CONFLICT (host_id, category_id) DO NOTHING`
    ],
    [
      "host_category_urls",
      // https and http (60 %), https only (30 %), http only (10 %); base paths vary as on real mirrors.
      `INSERT INTO host_category_urls (host_category_id, url)
       SELECT hc.id,
              s.scheme || '://mirror' || h.id || '.site' || h.site_id || '.example.org' ||
              (${textArray(["/pub", "", "/mirror", "/linux", "/pub/mirrors"])})[1 + floor(5 * pg_temp.u('base:' || hc.id))::int] ||
              '/c' || lpad(hc.category_id::text, 3, '0')
       FROM host_categories hc
       JOIN hosts h ON h.id = hc.host_id
       CROSS JOIN LATERAL (SELECT pg_temp.u('schemes:' || hc.id) AS r) x
       CROSS JOIN unnest(${textArray(["https", "http"])}) s(scheme)
       WHERE (s.scheme = 'https' AND x.r < 0.9) OR (s.scheme = 'http' AND (x.r < 0.6 OR x.r >= 0.9))`
    ],
    [
      "host_category_dirs",
      `INSERT INTO host_category_dirs (host_category_id, directory_id, path, up2date, verified_by, verified_at, matched)
       SELECT hc.id, d.id,
              CASE WHEN d.id = t.id THEN '' ELSE substr(d.name, length(t.name) + 2) END,
              up.ok, 'crawl', now(), CASE WHEN up.ok THEN 'newest' END
       FROM host_categories hc
       JOIN categories c ON c.id = hc.category_id
       JOIN directories t ON t.id = c.topdir_id
       JOIN category_directories cd ON cd.category_id = c.id
       JOIN directories d ON d.id = cd.directory_id
       CROSS JOIN LATERAL (SELECT pg_temp.u('up2date:' || hc.id || ':' || d.id) < ${UP2DATE} AS ok) up`
    ],
    [
      "host_category_up2date",
      // What selection reads: one bitset per host category of the directories it is up to date on (by ordinal).
      `INSERT INTO host_category_up2date (host_category_id, bits)
       SELECT d.host_category_id, mm_bits_of(array_agg(cd.ordinal))
       FROM host_category_dirs d JOIN host_categories hc ON hc.id = d.host_category_id
       JOIN category_directories cd ON cd.category_id = hc.category_id AND cd.directory_id = d.directory_id
       WHERE d.up2date GROUP BY d.host_category_id`
    ],
    ["host_netblocks", hostNetblocksStatement(HOST_NETBLOCKS_V4, HOST_NETBLOCKS_V6)],
    [
      "host_peer_asns",
      `INSERT INTO host_peer_asns (host_id, asn, name)
       SELECT id, 2000 + floor(60000 * pg_temp.u('peer:' || id))::bigint, 'bench peer'
       FROM hosts WHERE pg_temp.u('peers:' || id) < 0.02`
    ],
    [
      "host_countries_allowed",
      `INSERT INTO host_countries_allowed (host_id, country)
       SELECT id, country FROM hosts WHERE pg_temp.u('allowed:' || id) < 0.01`
    ],
    ["netblock_countries", `INSERT INTO netblock_countries (netblock, country) VALUES ${values(NETBLOCK_COUNTRIES)}`],
    [
      "country_continent_redirects",
      `INSERT INTO country_continent_redirects (country, continent) VALUES ${values(COUNTRY_CONTINENT_REDIRECTS)}`
    ],
    [
      "embargoed_countries",
      `INSERT INTO embargoed_countries (country) VALUES ${values(EMBARGOED.map((c) => [c]))}
       ON CONFLICT (country) DO NOTHING`
    ],
    // Rows above were given explicit ids: move the sequences past them, for whatever the node inserts later.
    ["sequences", `SELECT setval(pg_get_serial_sequence('sites', 'id'), (SELECT max(id) FROM sites))`],
    ["sequences", `SELECT setval(pg_get_serial_sequence('hosts', 'id'), (SELECT max(id) FROM hosts))`],
    ["sequences", `SELECT setval(pg_get_serial_sequence('products', 'id'), (SELECT max(id) FROM products))`],
    ["sequences", `SELECT setval(pg_get_serial_sequence('categories', 'id'), (SELECT max(id) FROM categories))`]
  ]
}

const COUNTED = [
  "sites",
  "hosts",
  "categories",
  "directories",
  "repositories",
  "file_details",
  "host_categories",
  "host_category_urls",
  "host_category_dirs",
  "host_category_up2date",
  "host_netblocks",
  "netblock_countries"
]

/**
 * Runs `(what, statement)` pairs in one transaction (`onStep` after each, e.g. to print progress) and ANALYZEs the
 * database; the row counts of the `counted` tables.
 */
export const writeWorld = (
  steps: ReadonlyArray<readonly [string, string]>,
  counted: ReadonlyArray<string>,
  onStep: (what: string, ms: number) => void = () => {}
) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.withTransaction(
      Effect.forEach(steps, ([what, statement]) => {
        const began = performance.now()
        return sql.unsafe(statement).pipe(
          Effect.mapError((error) => new Error(`generating ${what}: ${error.message}`)),
          Effect.tap(() => Effect.sync(() => onStep(what, performance.now() - began)))
        )
      })
    )
    yield* sql.unsafe("ANALYZE")
    const counts: Record<string, number> = {}
    for (const table of counted) {
      const rows = yield* sql.unsafe<{ count: string | number }>(`SELECT count(*) AS count FROM ${table}`)
      counts[table] = Number(rows[0]?.count ?? 0)
    }
    return counts as WorldCounts
  })

/** Writes the world in one transaction and ANALYZEs it; the row counts of the main tables. */
export const generateWorld = (options: WorldOptions) => writeWorld(statements(options), COUNTED)

export interface RepoTarget {
  readonly prefix: string
  readonly arch: string
  /** How many host categories carry its category: requests are drawn in proportion (popular content). */
  readonly carriers: number
}

/** What the load draws its requests from: the repo/arch pairs, a sample of host netblocks, netblock countries. */
export const requestMaterial = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const repos = yield* sql.unsafe<{ prefix: string; arch: string; carriers: string | number }>(
    `SELECT r.prefix, a.name AS arch, (SELECT count(*) FROM host_categories hc WHERE hc.category_id = r.category_id)
              AS carriers
     FROM repositories r JOIN arches a ON a.id = r.arch_id
     WHERE r.prefix IS NOT NULL AND NOT r.disabled
     ORDER BY r.prefix, a.name`
  )
  const netblocks = yield* sql.unsafe<{ netblock: string }>(
    "SELECT netblock FROM host_netblocks ORDER BY md5(netblock) LIMIT 2000"
  )
  const redirects = yield* sql.unsafe<{ from_repo: string }>(
    "SELECT from_repo FROM repository_redirects ORDER BY from_repo"
  )
  return {
    repos: repos.map((r) => ({ prefix: r.prefix, arch: r.arch, carriers: Number(r.carriers) }) satisfies RepoTarget),
    netblocks: netblocks.map((r) => r.netblock),
    redirectedRepos: redirects.map((r) => r.from_repo)
  }
})
