// The change stream (docs/redirector.md#how-changes-reach-every-node): every write that affects selection leaves a
// change in its own transaction, and a follower applies exactly the changes committed since the snapshot it last read —
// also those of a transaction that began before, and committed after, later ones.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, layer } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import { GeoIp } from "../../src/ipdata/GeoIp.ts"
import { parseClientAddress } from "../../src/ipdata/IpAddress.ts"
import { NetworkData } from "../../src/ipdata/NetworkData.ts"
import { ChangeFollowerLayer, defaultChangeFollowerOptions } from "../../src/redirector/ChangeFollower.ts"
import { defaultRedirectorSettings, Redirector } from "../../src/redirector/Redirector.ts"
import { freshDatabaseLayer } from "../../src/testing/index.ts"

const asnFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mm-changes-")), "asn.txt")
fs.writeFileSync(asnFile, "192.0.2.0/24 64500\n")

const TestLayer = ChangeFollowerLayer({ ...defaultChangeFollowerOptions, pollInterval: Duration.seconds(5) }).pipe(
  Layer.provideMerge(Redirector.layer(defaultRedirectorSettings)),
  Layer.provide([GeoIp.layer, NetworkData.layer({ asnFile })]),
  Layer.provideMerge(freshDatabaseLayer(inject("databaseUrl")))
)

interface Change {
  readonly kind: string
  readonly payload: { readonly hostIds?: Array<number>; readonly directoryIds?: Array<number> }
}

const changesAfter = (seq: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<Change & { seq: number }>`SELECT seq::float8 AS seq, kind, payload FROM changes
      WHERE seq > ${seq} ORDER BY seq`
  })

const lastSeq = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ seq: number }>`SELECT coalesce(max(seq), 0)::float8 AS seq FROM changes`
  return row!.seq
})

/** The changes one statement (or several, in one go) left behind. */
const changesOf = <A, E, R>(write: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const before = yield* lastSeq
    yield* write
    return (yield* changesAfter(before)).map(({ kind, payload }) => ({ kind, payload }))
  })

const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, timeout = "3 seconds" as const) =>
  Effect.gen(function* () {
    while (!(yield* check)) yield* Effect.sleep("20 millis")
  }).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.die(new Error(`not within ${timeout}: ${what}`))
    })
  )

let counter = 0

/** A site, an active host in SE carrying a new category (always up to date) at one URL; directory + repository. */
const world = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const n = ++counter
  const [topdir] = yield* sql<{ id: number }>`INSERT INTO directories (name) VALUES (${`pub/t${n}`}) RETURNING id`
  const [repoDir] = yield* sql<{ id: number }>`INSERT INTO directories (name) VALUES (${`pub/t${n}/9/x86_64`})
    RETURNING id`
  const [product] = yield* sql<{ id: number }>`INSERT INTO products (name) VALUES (${`p${n}`}) RETURNING id`
  const [category] = yield* sql<{ id: number }>`INSERT INTO categories (name, product_id, topdir_id)
    VALUES (${`c${n}`}, ${product!.id}, ${topdir!.id}) RETURNING id`
  yield* sql`INSERT INTO category_directories (category_id, directory_id)
    VALUES (${category!.id}, ${topdir!.id}), (${category!.id}, ${repoDir!.id})`
  const [arch] = yield* sql<{ id: number }>`INSERT INTO arches (name) VALUES (${`a${n}`}) RETURNING id`
  yield* sql`INSERT INTO repositories (name, prefix, category_id, arch_id, directory_id)
    VALUES (${`pub/t${n}/9/x86_64`}, ${`t${n}-9`}, ${category!.id}, ${arch!.id}, ${repoDir!.id})`
  const [site] = yield* sql<{ id: number }>`INSERT INTO sites (name, password_hash) VALUES (${`s${n}`}, 'x')
    RETURNING id`
  const [host] = yield* sql<{ id: number }>`INSERT INTO hosts (site_id, name, country)
    VALUES (${site!.id}, ${`h${n}`}, 'SE') RETURNING id`
  const [hc] = yield* sql<{ id: number }>`INSERT INTO host_categories (host_id, category_id, always_up2date)
    VALUES (${host!.id}, ${category!.id}, true) RETURNING id`
  yield* sql`INSERT INTO host_category_urls (host_category_id, url) VALUES (${hc!.id}, ${`https://m${n}.example.org/t`})`
  return {
    siteId: site!.id,
    hostId: host!.id,
    hostCategoryId: hc!.id,
    categoryId: category!.id,
    directoryId: repoDir!.id,
    repo: `t${n}-9`,
    arch: `a${n}`
  }
})

/** Hosts the node's index lists for a repository's directory, by id. */
const carriers = (repo: string, arch: string) =>
  Effect.gen(function* () {
    const index = (yield* Redirector).status().index
    const repository = index?.repository(repo, arch)
    const directory = repository === undefined ? undefined : index!.directory(repository.directoryId)
    return directory === undefined ? [] : index!.carriers(directory).all.map((h) => h.id)
  })

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("the change stream", (it) => {
  it.effect("each write that affects selection records what it touched; other writes record nothing", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const w = yield* world
      const hosts = [{ kind: "hosts", payload: { hostIds: [w.hostId] } }]
      assert.deepStrictEqual(yield* changesOf(sql`UPDATE hosts SET bandwidth = 1000 WHERE id = ${w.hostId}`), hosts)
      assert.deepStrictEqual(yield* changesOf(sql`UPDATE sites SET private = true WHERE id = ${w.siteId}`), hosts)
      assert.deepStrictEqual(
        yield* changesOf(sql`INSERT INTO host_netblocks (host_id, netblock) VALUES (${w.hostId}, '192.0.2.0/24')`),
        hosts
      )
      assert.deepStrictEqual(
        yield* changesOf(sql`INSERT INTO host_category_up2date (host_category_id, bits)
          VALUES (${w.hostCategoryId}, mm_bits_of(ARRAY[1]))`),
        hosts
      )
      // Bits written again as they were, and what a crawl verified of a directory, change nothing selection reads.
      assert.deepStrictEqual(
        yield* changesOf(sql`UPDATE host_category_up2date SET bits = mm_bits_of(ARRAY[1])
          WHERE host_category_id = ${w.hostCategoryId}`),
        []
      )
      assert.deepStrictEqual(
        yield* changesOf(sql`INSERT INTO host_category_dirs (host_category_id, directory_id, path, up2date)
          VALUES (${w.hostCategoryId}, ${w.directoryId}, '9/x86_64', true)`),
        []
      )
      assert.deepStrictEqual(
        yield* changesOf(
          sql`UPDATE host_category_urls SET reachable = false WHERE host_category_id = ${w.hostCategoryId}`
        ),
        hosts
      )
      assert.deepStrictEqual(
        yield* changesOf(sql`INSERT INTO file_details (directory_id, filename, timestamp, size, sha256)
          VALUES (${w.directoryId}, 'x.iso', 1, 2, ${"0".repeat(64)})`),
        [{ kind: "directories", payload: { directoryIds: [w.directoryId] } }]
      )
      assert.deepStrictEqual(yield* changesOf(sql`UPDATE repositories SET disabled = true WHERE prefix = ${w.repo}`), [
        { kind: "repositories", payload: {} }
      ])
      assert.deepStrictEqual(
        yield* changesOf(sql`INSERT INTO netblock_countries (netblock, country) VALUES ('198.51.100.0/24', 'DE')`),
        [{ kind: "overrides", payload: {} }]
      )
      // A renamed directory may be a topdir: everything is reloaded.
      assert.deepStrictEqual(
        yield* changesOf(sql`UPDATE directories SET name = name || '-renamed' WHERE id = ${w.directoryId}`),
        [{ kind: "content", payload: {} }]
      )
      // Bookkeeping that selection never reads leaves no change.
      assert.deepStrictEqual(yield* changesOf(sql`UPDATE hosts SET last_crawled = now() WHERE id = ${w.hostId}`), [])
      assert.deepStrictEqual(
        yield* changesOf(sql`UPDATE directories SET files = '[]', ctime = 5 WHERE id = ${w.directoryId}`),
        []
      )
      assert.deepStrictEqual(yield* changesOf(sql`UPDATE hosts SET bandwidth = 1000 WHERE id = ${w.hostId}`), [])
      // A rolled-back write leaves nothing.
      const before = yield* lastSeq
      yield* sql
        .withTransaction(
          Effect.gen(function* () {
            yield* sql`UPDATE hosts SET bandwidth = 5 WHERE id = ${w.hostId}`
            return yield* Effect.fail("rolled back" as const)
          })
        )
        .pipe(Effect.ignore)
      assert.deepStrictEqual(yield* changesAfter(before), [])
      // Deleting a site takes its hosts with it; the hosts' own change says so.
      const deleted = yield* changesOf(sql`DELETE FROM sites WHERE id = ${w.siteId}`)
      assert.deepInclude(deleted, { kind: "hosts", payload: { hostIds: [w.hostId] } })
    })
  )

  it.effect("the follower applies changes, also a long transaction's that commits after later ones", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* until(
        "an index is built",
        Effect.map(Redirector, (r) => r.status().index !== undefined)
      )
      const a = yield* world
      const b = yield* world
      yield* until(
        "the new hosts are carriers",
        Effect.map(carriers(a.repo, a.arch), (ids) => ids.includes(a.hostId))
      )
      yield* until(
        "both",
        Effect.map(carriers(b.repo, b.arch), (ids) => ids.includes(b.hostId))
      )

      // A transaction deactivates host A and stays open while host B is deactivated and committed.
      const release = yield* Deferred.make<void>()
      const long = yield* sql
        .withTransaction(
          Effect.gen(function* () {
            yield* sql`UPDATE hosts SET user_active = false WHERE id = ${a.hostId}`
            yield* Deferred.await(release)
          })
        )
        .pipe(Effect.forkChild)
      yield* Effect.sleep("100 millis")
      yield* sql`UPDATE hosts SET user_active = false WHERE id = ${b.hostId}`
      yield* until(
        "host B is gone",
        Effect.map(carriers(b.repo, b.arch), (ids) => ids.length === 0)
      )
      assert.deepStrictEqual(yield* carriers(a.repo, a.arch), [a.hostId], "A's change is not committed yet")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(long)
      yield* until(
        "host A is gone too",
        Effect.map(carriers(a.repo, a.arch), (ids) => ids.length === 0)
      )

      // Netblocks and NetblockCountry overrides reach the index as well.
      const c = yield* world
      yield* sql`INSERT INTO host_netblocks (host_id, netblock) VALUES (${c.hostId}, '203.0.113.0/24')`
      yield* sql`INSERT INTO netblock_countries (netblock, country) VALUES ('203.0.113.128/25', 'FI')`
      const client = parseClientAddress("203.0.113.200")!
      yield* until(
        "the netblock and the override are in the index",
        Effect.gen(function* () {
          const index = (yield* Redirector).status().index!
          return (
            index.countryOverride(client) === "FI" &&
            index.netblockMatches(client)[0]?.values.includes(c.hostId) === true
          )
        })
      )
      const status = (yield* Redirector).status()
      assert.isTrue(status.following)
      assert.isAbove(status.changesApplied, 0)
    })
  )
})
