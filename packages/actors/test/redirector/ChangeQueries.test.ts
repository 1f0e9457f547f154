// The change path reads what changed, not the world (docs/redirector.md#how-changes-reach-every-node): the statements
// that reload a few hosts or directories are planned as index lookups once the tables are big enough for that to
// matter. A filter the planner cannot size (`(all OR id IN (…jsonb…))`, as once) makes it scan whole tables, on every
// node, for every check-in: this test reads the plans PostgreSQL chooses.
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { Statement } from "effect/sql"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import { directoryStatements, hostStatements } from "../../src/redirector/IndexRows.ts"
import { freshDatabaseLayer } from "../../src/testing/index.ts"

const HOSTS = 2_000
const DIRECTORIES = 20_000

/** A world big enough that an index lookup beats a scan: hosts in three categories, netblocks, bits, files. */
const world = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`INSERT INTO directories (name) SELECT 'pub/c' || c FROM generate_series(1, 3) c`
  yield* sql`INSERT INTO products (name) VALUES ('p')`
  yield* sql`INSERT INTO categories (name, product_id, topdir_id)
    SELECT 'c' || c, (SELECT id FROM products), (SELECT id FROM directories WHERE name = 'pub/c' || c)
    FROM generate_series(1, 3) c`
  yield* sql`INSERT INTO directories (name) SELECT 'pub/c' || (1 + d % 3) || '/d' || d
    FROM generate_series(1, ${DIRECTORIES}) d`
  yield* sql`INSERT INTO category_directories (category_id, directory_id)
    SELECT c.id, d.id FROM directories d JOIN categories c ON d.name LIKE 'pub/' || c.name || '/%'`
  yield* sql`INSERT INTO file_details (directory_id, filename, timestamp, size, sha256)
    SELECT id, 'repomd.xml', 1, 1, md5(name) || md5(name) FROM directories`
  yield* sql`INSERT INTO sites (name, password_hash) SELECT 's' || s, 'x' FROM generate_series(1, ${HOSTS / 4}) s`
  yield* sql`INSERT INTO hosts (site_id, name, country)
    SELECT (SELECT min(id) FROM sites) + h % ${HOSTS / 4}, 'h' || h, 'SE' FROM generate_series(1, ${HOSTS}) h`
  yield* sql`INSERT INTO host_categories (host_id, category_id) SELECT h.id, c.id FROM hosts h, categories c`
  yield* sql`INSERT INTO host_category_urls (host_category_id, url)
    SELECT id, 'https://m' || id || '.example.org/pub' FROM host_categories`
  yield* sql`INSERT INTO host_category_up2date (host_category_id, bits)
    SELECT id, decode(repeat('ff', 800), 'hex') FROM host_categories`
  yield* sql`INSERT INTO host_netblocks (host_id, netblock)
    SELECT h.id, '10.' || (h.id % 250) || '.' || n || '.0/24' FROM hosts h, generate_series(1, 10) n`
  yield* sql`INSERT INTO host_peer_asns (host_id, asn) SELECT id, 64500 + id FROM hosts`
  yield* sql`INSERT INTO host_countries_allowed (host_id, country) SELECT id, 'SE' FROM hosts`
  yield* sql`ANALYZE`
  const [host] = yield* sql<{ id: number }>`SELECT id FROM hosts ORDER BY id DESC LIMIT 1`
  const [directory] = yield* sql<{ id: number }>`SELECT id FROM directories ORDER BY id DESC LIMIT 1`
  return { hostId: host!.id, directoryId: directory!.id }
})

/** The tables a plan reads whole (Seq Scan nodes), from EXPLAIN (FORMAT JSON). */
const scannedTables = (statement: Statement.Statement<unknown>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [text, params] = statement.compile()
    const [row] = yield* sql.unsafe<{ "QUERY PLAN": unknown }>(`EXPLAIN (FORMAT JSON) ${text}`, params)
    const scanned: Array<string> = []
    const walk = (node: any) => {
      if (node["Node Type"] === "Seq Scan") scanned.push(node["Relation Name"])
      for (const child of node.Plans ?? []) walk(child)
    }
    const plan = row!["QUERY PLAN"] as Array<{ Plan: unknown }>
    walk(plan[0]!.Plan)
    return scanned
  })

layer(freshDatabaseLayer(inject("databaseUrl")), { excludeTestServices: true, timeout: "120 seconds" })(
  "the change path's queries",
  (it) => {
    it.effect("reloading one host or one directory reads through indexes, whatever the size of the world", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const w = yield* world
        // Small tables (sites, categories) may be scanned: they hold one row per site or category.
        const small = new Set(["sites", "categories"])
        for (const [name, statement] of [
          ...Object.entries(hostStatements(sql, [w.hostId])),
          ...Object.entries(directoryStatements(sql, [w.directoryId]))
        ]) {
          const scanned = (yield* scannedTables(statement)).filter((table) => !small.has(table))
          assert.deepStrictEqual(scanned, [], `${name}: sequential scan of ${scanned.join(", ")}`)
        }
        // The check itself can fail: the form the change path once used scans host_netblocks whole.
        const only = JSON.stringify([w.hostId])
        const old = sql`SELECT host_id, netblock FROM host_netblocks
          WHERE (${false} OR host_id IN (SELECT value::int FROM jsonb_array_elements(${only}::jsonb)))`
        assert.include(yield* scannedTables(old), "host_netblocks")
      })
    )
  }
)
