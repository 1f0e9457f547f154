// The scheduled rebuild (docs/redirector.md#building-and-following): the rows read afresh are compared with the index,
// and what differs (what the change log missed) is applied as changes; the index, its carrier views and what hangs on
// them stay when nothing differs. A change of categories still makes a new index.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import { GeoIp } from "../../src/ipdata/GeoIp.ts"
import { NetworkData } from "../../src/ipdata/NetworkData.ts"
import { ChangeFollowerLayer, defaultChangeFollowerOptions } from "../../src/redirector/ChangeFollower.ts"
import type { IndexSource } from "../../src/redirector/IndexSource.ts"
import { defaultRedirectorSettings, Redirector } from "../../src/redirector/Redirector.ts"
import { freshDatabaseLayer, indexHost, TWO_COUNTRY_OVERRIDES } from "../../src/testing/index.ts"

const asnFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mm-rebuild-")), "asn.txt")
fs.writeFileSync(asnFile, "192.0.2.0/24 64500\n")

const BUILD = { origin: "database", builtAt: 1_700_000_000_000, startedAt: 1_700_000_000_000 } as const
const detail = { filename: "repomd.xml", timestamp: 1, size: 1, md5: null, sha1: null, sha256: "ab", sha512: null }
const source = (overrides: Partial<IndexSource> = {}): IndexSource => ({
  hosts: [1, 2, 3].map((id) => indexHost(id, `m${id}`, "SE", [`https://m${id}.example.se/t`], { dirs: [1, 2, 3] })),
  categories: [{ id: 1, name: "T", topdir: "pub/t" }],
  directories: [
    { id: 1, name: "pub/t", categories: [{ categoryId: 1, ordinal: 1 }], fileDetails: [] },
    { id: 2, name: "pub/t/9", categories: [{ categoryId: 1, ordinal: 2 }], fileDetails: [] },
    { id: 3, name: "pub/t/9/repodata", categories: [{ categoryId: 1, ordinal: 3 }], fileDetails: [detail] }
  ],
  repositories: [{ prefix: "t-9", arch: "x86_64", directoryId: 2, disabled: false }],
  redirects: [],
  overrides: TWO_COUNTRY_OVERRIDES,
  ...overrides
})

const RedirectorLayer = Redirector.layer(defaultRedirectorSettings).pipe(
  Layer.provide([GeoIp.layer, NetworkData.layer({ asnFile })])
)

layer(RedirectorLayer, { excludeTestServices: true })("a rebuild compared with the index", (it) => {
  it.effect("keeps the index and its views when nothing differs, applies what does, rebuilds for categories", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const first = redirector.replaceIndex(source(), BUILD)
      const view = () => first.carriers(first.directory(2)!)
      const kept = view()
      assert.deepStrictEqual(
        kept.all.map((h) => h.id),
        [1, 2, 3]
      )

      // The same rows, the overrides in another order: nothing to apply, nothing replaced.
      const same = source()
      const unchanged = yield* redirector.rebuildIndex(
        {
          ...same,
          overrides: { ...same.overrides, netblockCountries: [...same.overrides.netblockCountries].reverse() }
        },
        { ...BUILD, builtAt: BUILD.builtAt + 1000 }
      )
      assert.strictEqual(unchanged.index, first)
      assert.deepStrictEqual(unchanged.changes, {})
      assert.strictEqual(view(), kept)
      assert.strictEqual(first.builtAt, BUILD.builtAt + 1000)

      // Missed changes: host 2 stale on the repodata/, a new repomd.xml, a directory gone, a new repository.
      const changed = source({
        hosts: [1, 2, 3].map((id) =>
          indexHost(id, `m${id}`, "SE", [`https://m${id}.example.se/t`], { dirs: id === 2 ? [1, 2] : [1, 2, 3] })
        ),
        directories: [
          { id: 2, name: "pub/t/9", categories: [{ categoryId: 1, ordinal: 2 }], fileDetails: [] },
          {
            id: 3,
            name: "pub/t/9/repodata",
            categories: [{ categoryId: 1, ordinal: 3 }],
            fileDetails: [{ ...detail, timestamp: 2, sha256: "cd" }]
          }
        ],
        repositories: [
          { prefix: "t-9", arch: "x86_64", directoryId: 2, disabled: false },
          { prefix: "t-9", arch: "aarch64", directoryId: 2, disabled: false }
        ]
      })
      const applied = yield* redirector.rebuildIndex(changed, BUILD)
      assert.strictEqual(applied.index, first)
      assert.deepStrictEqual(applied.changes?.hosts?.ids, [2])
      assert.sameMembers([...(applied.changes?.directories?.ids ?? [])], [3, 1])
      assert.isDefined(applied.changes?.repositories)
      assert.isUndefined(applied.changes?.overrides)
      assert.deepStrictEqual(
        view().all.map((h) => h.id),
        [1, 3]
      )
      assert.isUndefined(first.directory(1))
      assert.strictEqual(first.directory(3)!.files.get("repomd.xml")![0]!.sha256, "cd")
      assert.isDefined(first.repository("t-9", "aarch64"))

      // Another category: a new index.
      const rebuilt = yield* redirector.rebuildIndex(
        source({ categories: [{ id: 1, name: "T renamed", topdir: "pub/t" }] }),
        BUILD
      )
      assert.isUndefined(rebuilt.changes)
      assert.notStrictEqual(rebuilt.index, first)
      assert.strictEqual(redirector.status().index, rebuilt.index)
    })
  )
})

// The follower's scheduled rebuild, against a database: a write the change log never saw (its triggers off for the
// session) reaches the index at the next rebuild, the same index object.
const followerLayer = (rebuildInterval: Duration.Duration) =>
  ChangeFollowerLayer({ ...defaultChangeFollowerOptions, pollInterval: Duration.millis(200), rebuildInterval }).pipe(
    Layer.provideMerge(Redirector.layer(defaultRedirectorSettings)),
    Layer.provide([GeoIp.layer, NetworkData.layer({ asnFile })]),
    Layer.provideMerge(freshDatabaseLayer(inject("databaseUrl")))
  )
const FollowerLayer = followerLayer(Duration.seconds(1))

layer(FollowerLayer, { excludeTestServices: true, timeout: "60 seconds" })("the scheduled rebuild", (it) => {
  it.effect("applies what the change log missed to the index it serves", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const redirector = yield* Redirector
      const [site] = yield* sql<{ id: number }>`INSERT INTO sites (name, password_hash) VALUES ('s', 'x') RETURNING id`
      const [host] = yield* sql<{ id: number }>`INSERT INTO hosts (site_id, name, country, bandwidth)
        VALUES (${site!.id}, 'h', 'SE', 100) RETURNING id`
      const bandwidth = () => redirector.status().index?.host(host!.id)?.bandwidth
      while (bandwidth() !== 100) yield* Effect.sleep("50 millis")
      const index = redirector.status().index
      // Unseen by the change log: its triggers do not fire in a replica session.
      yield* sql.withTransaction(
        Effect.gen(function* () {
          yield* sql`SET LOCAL session_replication_role = replica`
          yield* sql`UPDATE hosts SET bandwidth = 777 WHERE id = ${host!.id}`
        })
      )
      yield* Effect.gen(function* () {
        while (bandwidth() !== 777) yield* Effect.sleep("50 millis")
      }).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(redirector.status().index, index, "the same index, changed in place")
    })
  )
})

// A change that may touch anything (`content`) is checked against the database at once, as the scheduled rebuild
// does (here far off): a renamed directory is applied to the index served, a renamed category makes a new one.
const ContentLayer = followerLayer(Duration.hours(1))

layer(ContentLayer, { excludeTestServices: true, timeout: "60 seconds" })("a content change", (it) => {
  it.effect("keeps the index for a renamed directory, makes a new one for a renamed category", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const redirector = yield* Redirector
      const [top] = yield* sql<{ id: number }>`INSERT INTO directories (name) VALUES ('pub/c') RETURNING id`
      const [nine] = yield* sql<{ id: number }>`INSERT INTO directories (name) VALUES ('pub/c/9') RETURNING id`
      const [product] = yield* sql<{ id: number }>`INSERT INTO products (name) VALUES ('P') RETURNING id`
      const [category] = yield* sql<{ id: number }>`INSERT INTO categories (name, product_id, topdir_id)
        VALUES ('C', ${product!.id}, ${top!.id}) RETURNING id`
      yield* sql`INSERT INTO category_directories (category_id, directory_id)
        VALUES (${category!.id}, ${top!.id}), (${category!.id}, ${nine!.id})`
      const nameOf = (id: number) => redirector.status().index?.directory(id)?.name
      const waitFor = (check: () => boolean) =>
        Effect.gen(function* () {
          while (!check()) yield* Effect.sleep("50 millis")
        }).pipe(Effect.timeout("10 seconds"))
      // Every row above in the index: the category too (its own change came first, and made a new index).
      yield* waitFor(() => redirector.status().index?.directory(nine!.id)?.categoryId === category!.id)
      const index = redirector.status().index

      yield* sql`UPDATE directories SET name = 'pub/c/10' WHERE id = ${nine!.id}`
      yield* waitFor(() => nameOf(nine!.id) === "pub/c/10")
      assert.strictEqual(redirector.status().index, index, "the same index, changed in place")

      yield* sql`UPDATE categories SET name = 'C renamed' WHERE id = ${category!.id}`
      yield* waitFor(() => redirector.status().index !== index)
      assert.strictEqual(nameOf(nine!.id), "pub/c/10")
    })
  )
})
