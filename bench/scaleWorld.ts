// The scale benchmark's world (issue 15): Fedora's size, written straight into a migrated database with set-based SQL.
// 800 hosts (500 public, 300 private) in 600 sites, 3 categories of 50,000 directories each (releases/NN/…/os,
// updates/NN/…, each with Packages/<letter> and repodata), 2,000 repo/arch pairs with repomd.xml file details,
// 20,000 host netblocks, every host in every category with http and https URLs, and per host category the bitset of
// its up-to-date directories (host_category_up2date.bits, ~60 % of the category's ordinals: ~70 million pairs).
// Ordinals are assigned by the category_directories trigger, never here. Pseudo-random choices come from md5 of a
// key, so every run writes the same world.

import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import {
  hostNetblocksStatement,
  quote,
  randomAndCountries,
  repomdStatement,
  WORLD_NOW,
  writeWorld
} from "./redirectorWorld.ts"

export const PUBLIC_HOSTS = 500
export const PRIVATE_HOSTS = 300
export const HOSTS = PUBLIC_HOSTS + PRIVATE_HOSTS
export const SITES = 600
export const DIRECTORIES_PER_CATEGORY = 50_000
export const REPOSITORIES = 2_000
export const NETBLOCKS_V4 = 18_000
export const NETBLOCKS_V6 = 2_000
/** Every site's password (one scrypt hash for all): the check-ins of the bench log in with it. */
export const SITE_PASSWORD = "bench-scale-site-password"

const PACKAGE_LETTERS = [..."0123456789abcdefghijklmnopqrstuvwxyz"]

/**
 * A category: its top directory and the repository trees below it, `{v}` and `{a}` standing for a version and an
 * arch, with the repository prefix of each. Versions are listed newest first: where a category's trees give more than
 * DIRECTORIES_PER_CATEGORY directories, the oldest are left out.
 */
interface CategoryShape {
  readonly name: string
  readonly product: string
  readonly topdir: string
  readonly versions: ReadonlyArray<string>
  readonly arches: ReadonlyArray<string>
  readonly trees: ReadonlyArray<readonly [path: string, prefix: string]>
}

const range = (from: number, to: number) =>
  Array.from({ length: Math.abs(to - from) + 1 }, (_, i) => String(from > to ? from - i : from + i))

export const CATEGORIES: ReadonlyArray<CategoryShape> = [
  {
    name: "Fedora Linux",
    product: "Fedora",
    topdir: "pub/fedora/linux",
    versions: range(43, 20),
    arches: ["x86_64", "aarch64", "ppc64le", "s390x", "armhfp"],
    trees: [
      ["releases/{v}/Everything/{a}/os", "fedora-{v}"],
      ["releases/{v}/Everything/{a}/debug/tree", "fedora-debug-{v}"],
      ["releases/{v}/Server/{a}/os", "fedora-server-{v}"],
      ["releases/{v}/Workstation/{a}/os", "fedora-workstation-{v}"],
      ["releases/{v}/Cloud/{a}/os", "fedora-cloud-{v}"],
      ["releases/{v}/Container/{a}/os", "fedora-container-{v}"],
      ["releases/{v}/Spins/{a}/os", "fedora-spins-{v}"],
      ["updates/{v}/Everything/{a}", "updates-released-f{v}"],
      ["updates/{v}/Everything/{a}/debug", "updates-released-debug-f{v}"],
      ["updates/testing/{v}/Everything/{a}", "updates-testing-f{v}"],
      ["updates/testing/{v}/Everything/{a}/debug", "updates-testing-debug-f{v}"]
    ]
  },
  {
    name: "Fedora EPEL",
    product: "Fedora EPEL",
    topdir: "pub/epel",
    versions: [...range(10, 4), ...range(9, 0).map((minor) => `10.${minor}`), ...range(9, 0).map((m) => `9.${m}`)],
    arches: ["x86_64", "aarch64", "ppc64le", "s390x", "i386", "ppc64"],
    trees: [
      ["{v}/Everything/{a}", "epel-{v}"],
      ["{v}/Everything/{a}/debug", "epel-debug-{v}"],
      ["{v}/Modular/{a}", "epel-modular-{v}"],
      ["testing/{v}/Everything/{a}", "testing-epel{v}"],
      ["testing/{v}/Everything/{a}/debug", "testing-debug-epel{v}"],
      ["next/{v}/Everything/{a}", "epel-next-{v}"],
      ["testing/next/{v}/Everything/{a}", "testing-epel-next-{v}"],
      ["playground/{v}/Everything/{a}", "playground-epel{v}"]
    ]
  },
  {
    name: "Fedora Archive",
    product: "Fedora",
    topdir: "pub/archive/fedora/linux",
    versions: range(42, 7),
    arches: ["x86_64", "i386", "aarch64", "ppc64le", "armhfp"],
    trees: [
      ["releases/{v}/Everything/{a}/os", "archive-fedora-{v}"],
      ["releases/{v}/Everything/{a}/debug/tree", "archive-fedora-debug-{v}"],
      ["releases/{v}/Server/{a}/os", "archive-fedora-server-{v}"],
      ["releases/{v}/Workstation/{a}/os", "archive-fedora-workstation-{v}"],
      ["updates/{v}/{a}", "archive-updates-released-f{v}"],
      ["updates/{v}/{a}/debug", "archive-updates-released-debug-f{v}"],
      ["updates/testing/{v}/{a}", "archive-updates-testing-f{v}"],
      ["updates/testing/{v}/{a}/debug", "archive-updates-testing-debug-f{v}"]
    ]
  }
]

/** The repository trees of every category, newest version first: [category, rank, path, prefix, arch]. */
const repositoryRoots = () =>
  CATEGORIES.flatMap((category, c) => {
    let rank = 0
    return category.versions.flatMap((version) =>
      category.trees.flatMap(([tree, prefix]) =>
        category.arches.map((arch) => ({
          category: c + 1,
          rank: rank++,
          path: tree.replaceAll("{v}", version).replaceAll("{a}", arch),
          prefix: prefix.replaceAll("{v}", version),
          arch
        }))
      )
    )
  })

/** Directories below each repository tree: Packages, Packages/<letter>, repodata. */
const TREE_CHILDREN = ["Packages", ...PACKAGE_LETTERS.map((letter) => `Packages/${letter}`), "repodata"]

const statements = (passwordHash: string): ReadonlyArray<readonly [string, string]> => [
  ...randomAndCountries(),
  [
    "random bits function",
    `CREATE FUNCTION pg_temp.m(key text) RETURNS bit(128) LANGUAGE sql IMMUTABLE PARALLEL SAFE
     AS $$ SELECT ('x' || md5(key))::bit(128) $$`
  ],
  [
    "repository trees",
    `CREATE TEMP TABLE scale_roots ON COMMIT DROP AS
     SELECT * FROM jsonb_to_recordset(${quote(JSON.stringify(repositoryRoots()))}::jsonb)
       AS r(category int, rank int, path text, prefix text, arch text)`
  ],
  [
    "directory names",
    // Each tree with its ancestors and children, in the order of the trees; a name that two trees share is placed
    // with the first. Per category the first DIRECTORIES_PER_CATEGORY - 1 names (the top directory is the other).
    `CREATE TEMP TABLE scale_names ON COMMIT DROP AS
     WITH candidates AS (
       SELECT r.category, r.rank * 100 + k AS place, array_to_string(p[1:k], '/') AS rel
       FROM scale_roots r CROSS JOIN LATERAL string_to_array(r.path, '/') p CROSS JOIN generate_series(1, cardinality(p)) k
       UNION ALL
       SELECT r.category, r.rank * 100 + 50 + c.i, r.path || '/' || c.name
       FROM scale_roots r CROSS JOIN unnest(ARRAY[${TREE_CHILDREN.map(quote).join(", ")}]) WITH ORDINALITY c(name, i)
     ), firsts AS (SELECT category, rel, min(place) AS place FROM candidates GROUP BY category, rel)
     SELECT category, rel, place FROM (
       SELECT *, row_number() OVER (PARTITION BY category ORDER BY place) AS n FROM firsts
     ) x WHERE n < ${DIRECTORIES_PER_CATEGORY}`
  ],
  [
    "products",
    `INSERT INTO products (name) VALUES ${[...new Set(CATEGORIES.map((c) => c.product))].map((p) => `(${quote(p)})`).join(", ")}`
  ],
  ["arches", `INSERT INTO arches (name) SELECT DISTINCT arch FROM scale_roots ON CONFLICT (name) DO NOTHING`],
  [
    "directories",
    `INSERT INTO directories (name, readable, ctime)
     SELECT t.topdir, true, ${WORLD_NOW} FROM (VALUES ${CATEGORIES.map((c) => `(${quote(c.topdir)})`).join(", ")}) t(topdir)
     UNION ALL
     SELECT t.topdir || '/' || n.rel, true, ${WORLD_NOW}
     FROM scale_names n JOIN (VALUES ${CATEGORIES.map((c, i) => `(${i + 1}, ${quote(c.topdir)})`).join(", ")}) t(category, topdir)
       ON t.category = n.category`
  ],
  [
    "categories",
    `INSERT INTO categories (name, product_id, topdir_id)
     SELECT c.name, p.id, d.id
     FROM (VALUES ${CATEGORIES.map((c, i) => `(${i + 1}, ${quote(c.name)}, ${quote(c.product)}, ${quote(c.topdir)})`).join(", ")})
       c(n, name, product, topdir)
     JOIN products p ON p.name = c.product JOIN directories d ON d.name = c.topdir
     ORDER BY c.n`
  ],
  [
    "category_directories",
    // In tree order, the top directory first: the trigger numbers them in the order they are inserted.
    `INSERT INTO category_directories (category_id, directory_id)
     SELECT c.id, d.id
     FROM (SELECT t.n AS category, t.topdir AS name, -1 AS place
           FROM (VALUES ${CATEGORIES.map((c, i) => `(${i + 1}, ${quote(c.topdir)})`).join(", ")}) t(n, topdir)
           UNION ALL
           SELECT n.category, t.topdir || '/' || n.rel, n.place
           FROM scale_names n JOIN (VALUES ${CATEGORIES.map((c, i) => `(${i + 1}, ${quote(c.topdir)})`).join(", ")})
             t(n, topdir) ON t.n = n.category) x
     JOIN categories c ON c.name = (ARRAY[${CATEGORIES.map((c) => quote(c.name)).join(", ")}])[x.category]
     JOIN directories d ON d.name = x.name
     ORDER BY x.category, x.place`
  ],
  [
    "repositories",
    // REPOSITORIES of the trees kept (with their repodata/), the newest of each category first, in turn.
    `INSERT INTO repositories (name, prefix, category_id, arch_id, directory_id, scanned)
     SELECT d.name, r.prefix, c.id, a.id, d.id, true
     FROM (SELECT r.*, row_number() OVER (PARTITION BY r.category ORDER BY r.rank) AS n
           FROM scale_roots r
           WHERE EXISTS (SELECT 1 FROM scale_names m WHERE m.category = r.category AND m.rel = r.path || '/repodata')) r
     JOIN categories c ON c.name = (ARRAY[${CATEGORIES.map((c) => quote(c.name)).join(", ")}])[r.category]
     JOIN directories t ON t.id = c.topdir_id
     JOIN directories d ON d.name = t.name || '/' || r.path
     JOIN arches a ON a.name = r.arch
     ORDER BY r.n, r.category
     LIMIT ${REPOSITORIES}`
  ],
  ["file_details", repomdStatement()],
  [
    "sites",
    `INSERT INTO sites (id, name, password_hash, org_url, created_by)
     SELECT s, 'Scale site ' || s, ${quote(passwordHash)}, 'https://www.site' || s || '.example.org', 'bench'
     FROM generate_series(1, ${SITES}) s`
  ],
  [
    "hosts",
    // Public hosts one per site; private hosts (campus and company mirrors) three to a site. A site's hosts share
    // its country.
    `INSERT INTO hosts (id, site_id, name, country, bandwidth, private, asn, internet2, user_active, ipv4, ipv6, comment)
     SELECT x.h, x.site, 'mirror' || x.h || '.site' || x.site || '.example.org', c.code,
            round(power(10, 1 + 4 * pg_temp.u('bandwidth:' || x.h)))::int, x.private,
            CASE WHEN pg_temp.u('asn:' || x.h) < 0.4 THEN 1000 + floor(60000 * pg_temp.u('asn-n:' || x.h))::bigint END,
            pg_temp.u('internet2:' || x.h) < 0.05, true, 'yes',
            CASE WHEN pg_temp.u('ipv6:' || x.h) < 0.5 THEN 'yes' ELSE 'unknown' END, 'scale benchmark host'
     FROM (SELECT h, h > ${PUBLIC_HOSTS} AS private,
                  CASE WHEN h <= ${PUBLIC_HOSTS} THEN h ELSE ${PUBLIC_HOSTS} + 1 + (h - ${PUBLIC_HOSTS} - 1) / 3 END AS site
           FROM generate_series(1, ${HOSTS}) h) x
     JOIN bench_countries c ON pg_temp.u('country:' || x.site) >= c.lo AND pg_temp.u('country:' || x.site) < c.hi`
  ],
  ["host_netblocks", hostNetblocksStatement(NETBLOCKS_V4, NETBLOCKS_V6)],
  [
    "host_categories",
    "INSERT INTO host_categories (host_id, category_id, always_up2date) SELECT h.id, c.id, false FROM hosts h, categories c"
  ],
  [
    "host_category_urls",
    `INSERT INTO host_category_urls (host_category_id, url)
     SELECT hc.id, s.scheme || '://' || h.name || '/' || t.name
     FROM host_categories hc JOIN hosts h ON h.id = hc.host_id JOIN categories c ON c.id = hc.category_id
     JOIN directories t ON t.id = c.topdir_id CROSS JOIN unnest(ARRAY['https', 'http']) s(scheme)`
  ],
  [
    "host_category_up2date",
    // Per 128 ordinals, a | (b & c & (d | e)) of five md5s: each bit set with p = 1/2 + 1/8 · 3/4 ≈ 0.59. Cut to
    // the category's ordinals, with no trailing zero byte (as mm_bits_of writes them).
    `INSERT INTO host_category_up2date (host_category_id, bits)
     WITH sizes AS (SELECT category_id, max(ordinal) + 1 AS n FROM category_directories GROUP BY category_id),
     blocks AS (
       SELECT hc.id, s.n, b,
              pg_temp.m(hc.id || ':a:' || b) | (pg_temp.m(hc.id || ':b:' || b) & pg_temp.m(hc.id || ':c:' || b) &
                (pg_temp.m(hc.id || ':d:' || b) | pg_temp.m(hc.id || ':e:' || b))) AS block
       FROM host_categories hc JOIN sizes s USING (category_id) CROSS JOIN generate_series(0, (s.n - 1) / 128) b
     ), joined AS (
       SELECT id, n, substr(decode(string_agg(
                lpad(to_hex(substring(block FROM 1 FOR 64)::bit(64)::bigint), 16, '0') ||
                lpad(to_hex(substring(block FROM 65 FOR 64)::bit(64)::bigint), 16, '0'), '' ORDER BY b), 'hex'),
                1, ((n + 7) / 8)::int) AS bytes
       FROM blocks GROUP BY id, n
     )
     SELECT id, rtrim(CASE WHEN n % 8 = 0 THEN bytes
                           ELSE set_byte(bytes, length(bytes) - 1,
                                         get_byte(bytes, length(bytes) - 1) & ((1 << (n % 8)::int) - 1)) END,
                      '\\x00'::bytea)
     FROM joined`
  ],
  ["sequences", "SELECT setval(pg_get_serial_sequence('sites', 'id'), (SELECT max(id) FROM sites))"],
  ["sequences", "SELECT setval(pg_get_serial_sequence('hosts', 'id'), (SELECT max(id) FROM hosts))"]
]

const COUNTED = [
  "sites",
  "hosts",
  "categories",
  "directories",
  "category_directories",
  "repositories",
  "file_details",
  "host_categories",
  "host_category_urls",
  "host_netblocks",
  "host_category_up2date"
]

/**
 * Writes the world in one transaction, printing each step's time through `onStep`; the row counts and the number of
 * up-to-date (host, directory) pairs.
 */
export const generateScaleWorld = (passwordHash: string, onStep?: (what: string, ms: number) => void) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const counts = yield* writeWorld(statements(passwordHash), COUNTED, onStep)
    const [pairs] = yield* sql.unsafe<{ pairs: string | number }>(
      `SELECT sum(bit_count(bits)) AS pairs FROM host_category_up2date`
    )
    return { ...counts, "up-to-date pairs": Number(pairs?.pairs ?? 0) }
  })

/** A private host as the check-ins of the bench need it: its site, name and a client address in its netblock. */
export interface PrivateHost {
  readonly id: number
  readonly site: string
  readonly name: string
  /** An IPv4 /24 of the host's, or undefined when it has only IPv6 ones. */
  readonly netblock: string | undefined
}

/** The private hosts, in id order, each with one IPv4 netblock of its own. */
export const privateHosts = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql.unsafe<{ id: number; site: string; name: string; netblock: string | null }>(
    `SELECT h.id, s.name AS site, h.name,
            (SELECT n.netblock FROM host_netblocks n WHERE n.host_id = h.id AND n.netblock NOT LIKE '%:%'
             ORDER BY n.id LIMIT 1) AS netblock
     FROM hosts h JOIN sites s ON s.id = h.site_id WHERE h.private ORDER BY h.id`
  )
  return rows.map(
    (row): PrivateHost => ({ id: row.id, site: row.site, name: row.name, netblock: row.netblock ?? undefined })
  )
})

/** Every category's directories below its top directory (relative paths, "" for the top), in ordinal order. */
export const categoryTrees = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql.unsafe<{ category: string; topdir: string; paths: ReadonlyArray<string> }>(
    `SELECT c.name AS category, t.name AS topdir,
            array_agg(CASE WHEN d.id = t.id THEN '' ELSE substr(d.name, length(t.name) + 2) END ORDER BY cd.ordinal)
              AS paths
     FROM categories c JOIN directories t ON t.id = c.topdir_id
     JOIN category_directories cd ON cd.category_id = c.id JOIN directories d ON d.id = cd.directory_id
     GROUP BY c.id, c.name, t.name ORDER BY c.id`
  )
  return rows
})
