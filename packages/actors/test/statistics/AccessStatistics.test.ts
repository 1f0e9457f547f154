// Access counts: what the request path counts, bounded; batches added to the database exactly once (a batch written
// again after a lost acknowledgement is not added twice), summed over nodes, embargoed countries in one bucket; old
// days removed.
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import {
  type AccessBatch,
  AccessCounter,
  AccessStatistics,
  type CountedRequest,
  MAX_KEYS_PER_KIND,
  OTHER_KEY
} from "../../src/statistics/index.ts"
import { freshDatabaseLayer } from "../../src/testing/index.ts"

const DAY = Date.parse("2026-03-14T12:00:00Z")

const request = (
  fields: Partial<CountedRequest["log"]> & { endpoint?: string; status?: number } = {}
): CountedRequest => ({
  endpoint: fields.endpoint ?? "mirrorlist",
  status: fields.status ?? 200,
  log: {
    country: "country" in fields ? fields.country : "DE",
    repo: "repo" in fields ? fields.repo : "epel-9",
    arch: "arch" in fields ? fields.arch : "x86_64",
    countme: fields.countme
  }
})

/** A batch's rows as `kind key` → requests, one day. */
const table = (batch: AccessBatch | undefined) =>
  Object.fromEntries((batch?.rows ?? []).map((row) => [`${row.day} ${row.kind} ${row.key}`, row.requests]))

describe("the access counter", () => {
  it("counts answered mirrorlist and metalink requests for a repo and arch, in every kind", () => {
    const counter = new AccessCounter(true)
    counter.record(DAY, request())
    counter.record(DAY, request({ endpoint: "metalink", countme: "3", country: "SE" }))
    counter.record(DAY, request({ countme: "7" }))
    counter.record(DAY, request({ country: undefined, arch: "aarch64", repo: "fedora-40" }))
    // Not counted: other endpoints, other answers, requests by path.
    counter.record(DAY, request({ endpoint: "download" }))
    counter.record(DAY, request({ status: 404 }))
    counter.record(DAY, request({ status: 503 }))
    counter.record(DAY, request({ repo: undefined, arch: undefined }))
    const batch = counter.takeBatch()
    assert.strictEqual(batch?.requests, 4)
    assert.deepStrictEqual(table(batch), {
      "2026-03-14 countries DE": 2,
      "2026-03-14 countries SE": 1,
      "2026-03-14 countries unknown": 1,
      "2026-03-14 arches x86_64": 3,
      "2026-03-14 arches aarch64": 1,
      "2026-03-14 repositories epel-9": 3,
      "2026-03-14 repositories fedora-40": 1,
      "2026-03-14 countme none": 2,
      "2026-03-14 countme 3": 1,
      [`2026-03-14 countme ${OTHER_KEY}`]: 1
    })
  })

  it("counts nothing when switched off", () => {
    const counter = new AccessCounter(false)
    counter.record(DAY, request())
    assert.strictEqual(counter.takeBatch(), undefined)
  })

  it("splits counts at UTC midnight", () => {
    const counter = new AccessCounter(true)
    counter.record(Date.parse("2026-03-14T23:59:59.999Z"), request())
    counter.record(Date.parse("2026-03-15T00:00:00Z"), request())
    counter.record(Date.parse("2026-03-15T00:00:01Z"), request())
    const rows = table(counter.takeBatch())
    assert.strictEqual(rows["2026-03-14 arches x86_64"], 1)
    assert.strictEqual(rows["2026-03-15 arches x86_64"], 2)
  })

  it("keeps at most MAX_KEYS_PER_KIND keys of a kind a day, the rest in one bucket", () => {
    const counter = new AccessCounter(true)
    const extra = 250
    for (let i = 0; i < MAX_KEYS_PER_KIND + extra; i++) counter.record(DAY, request({ repo: `repo-${i}` }))
    counter.record(DAY, request({ repo: "x".repeat(500) }))
    counter.record(DAY, request({ repo: "repo-0" }))
    const batch = counter.takeBatch()!
    const repositories = batch.rows.filter((row) => row.kind === "repositories")
    assert.strictEqual(repositories.length, MAX_KEYS_PER_KIND)
    const rows = table(batch)
    // The bucket took one of the bound's places.
    assert.strictEqual(rows[`2026-03-14 repositories ${OTHER_KEY}`], extra + 1 + 1)
    assert.isUndefined(rows[`2026-03-14 repositories repo-${MAX_KEYS_PER_KIND - 1}`])
    assert.strictEqual(rows["2026-03-14 repositories repo-0"], 2)
    assert.strictEqual(
      repositories.reduce((sum, row) => sum + row.requests, 0),
      MAX_KEYS_PER_KIND + extra + 2
    )
  })

  it("keeps at most three days while none can be written, the oldest given up and counted as dropped", () => {
    const counter = new AccessCounter(true)
    for (let day = 0; day < 5; day++) {
      for (let i = 0; i <= day; i++) counter.record(DAY + day * 86_400_000, request())
    }
    const days = new Set(counter.takeBatch()!.rows.map((row) => row.day))
    assert.deepStrictEqual([...days], ["2026-03-16", "2026-03-17", "2026-03-18"])
    assert.strictEqual(counter.droppedRequests, 1 + 2)
  })

  it("hands a batch not acknowledged out again, the same, and new counts after it", () => {
    const counter = new AccessCounter(true)
    counter.record(DAY, request())
    const first = counter.takeBatch()!
    counter.record(DAY, request({ country: "FR" }))
    assert.strictEqual(counter.takeBatch(), first)
    assert.strictEqual(counter.unwritten(), 2)
    counter.acknowledge(first)
    assert.strictEqual(counter.addedRequests, 1)
    assert.strictEqual(counter.unwritten(), 1)
    const second = counter.takeBatch()!
    assert.strictEqual(second.seq, first.seq + 1)
    assert.strictEqual(second.runId, first.runId)
    assert.deepStrictEqual(table(second)["2026-03-14 countries FR"], 1)
    counter.acknowledge(second)
    assert.strictEqual(counter.takeBatch(), undefined)
  })

  it("stores keys PostgreSQL takes", () => {
    const counter = new AccessCounter(true)
    counter.record(DAY, request({ repo: "a\u0000b\ud800" }))
    assert.strictEqual(table(counter.takeBatch())["2026-03-14 repositories a?b?"], 1)
  })
})

const TestLayer = AccessStatistics.layer.pipe(Layer.provideMerge(freshDatabaseLayer(inject("databaseUrl"))))

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("access statistics in the database", (it) => {
  it.effect("adds each batch once, sums nodes' batches, and puts embargoed countries in one bucket", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const statistics = yield* AccessStatistics
      yield* sql`INSERT INTO embargoed_countries (country) VALUES ('KP'), ('CU')`
      const nodeA = new AccessCounter(true)
      const nodeB = new AccessCounter(true)
      for (let i = 0; i < 7; i++) nodeA.record(DAY, request({ country: "DE" }))
      for (let i = 0; i < 3; i++) nodeA.record(DAY, request({ country: "KP", countme: "1" }))
      for (let i = 0; i < 5; i++) nodeB.record(DAY, request({ country: "DE", endpoint: "metalink" }))
      for (let i = 0; i < 2; i++) nodeB.record(DAY, request({ country: "CU", arch: "aarch64" }))

      const a = nodeA.takeBatch()!
      assert.isTrue(yield* statistics.add(a))
      // The commit went through but its acknowledgement was lost: the same batch comes again.
      assert.isFalse(yield* statistics.add(a))
      nodeA.acknowledge(a)
      const b = nodeB.takeBatch()!
      assert.isTrue(yield* statistics.add(b))
      nodeB.acknowledge(b)

      const counts = yield* statistics.day("2026-03-14")
      const byKey = Object.fromEntries(counts.map((c) => [`${c.kind} ${c.key}`, c.requests]))
      assert.deepStrictEqual(byKey, {
        "countries DE": 12,
        "countries embargoed": 5,
        "arches x86_64": 15,
        "arches aarch64": 2,
        "repositories epel-9": 17,
        "countme none": 14,
        "countme 1": 3
      })
      // Most requests first within a kind.
      assert.deepStrictEqual(
        counts.filter((c) => c.kind === "countries").map((c) => c.key),
        ["DE", "embargoed"]
      )
      // No embargoed country is stored by name.
      const named = yield* sql<{ n: number }>`
        SELECT count(*)::int AS n FROM access_stats WHERE key IN ('KP', 'CU')`
      assert.strictEqual(named[0]!.n, 0)
      assert.deepStrictEqual(yield* statistics.days(), [{ day: "2026-03-14", requests: 17 }])
      assert.deepStrictEqual(
        (yield* statistics.day("2026-03-14", "arches")).map((c) => [c.key, c.requests]),
        [
          ["x86_64", 15],
          ["aarch64", 2]
        ]
      )
      assert.isDefined(yield* statistics.lastAddedAt())
    })
  )

  it.effect("a transaction that fails adds nothing, and the batch written again is added once", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const statistics = yield* AccessStatistics
      const counter = new AccessCounter(true)
      for (let i = 0; i < 4; i++) counter.record(Date.parse("2026-03-10T08:00:00Z"), request())
      const batch = counter.takeBatch()!
      // The flush fails after its statements ran (the connection lost before the commit): all of it rolls back.
      const failed = yield* sql
        .withTransaction(Effect.andThen(statistics.add(batch), Effect.fail("connection lost" as const)))
        .pipe(Effect.flip)
      assert.strictEqual(failed, "connection lost")
      assert.deepStrictEqual(yield* statistics.day("2026-03-10"), [])
      assert.isTrue(yield* statistics.add(batch))
      assert.isFalse(yield* statistics.add(batch))
      const arches = yield* statistics.day("2026-03-10", "arches")
      assert.deepStrictEqual(
        arches.map((c) => c.requests),
        [4]
      )
    })
  )

  it.effect("removes days before the last MM_STATS_KEEP_DAYS, and old flush records", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const statistics = yield* AccessStatistics
      const now = Date.now()
      const counter = new AccessCounter(true)
      for (const daysAgo of [0, 1, 29, 30, 45]) {
        counter.record(now - daysAgo * 86_400_000, request())
        const batch = counter.takeBatch()!
        yield* statistics.add(batch)
        counter.acknowledge(batch)
      }
      yield* sql`UPDATE access_stats_flushes SET flushed_at = now() - interval '40 days' WHERE run_id = ${counter.runId}::uuid`
      yield* statistics.prune(30)
      const days = (yield* statistics.days()).map((d) => d.day)
      const dayOf = (daysAgo: number) => new Date(now - daysAgo * 86_400_000).toISOString().slice(0, 10)
      for (const kept of [0, 1, 29]) assert.include(days, dayOf(kept))
      for (const gone of [30, 45]) assert.notInclude(days, dayOf(gone))
      const flushes = yield* sql<{ n: number }>`
        SELECT count(*)::int AS n FROM access_stats_flushes WHERE run_id = ${counter.runId}::uuid`
      assert.strictEqual(flushes[0]!.n, 0)
    })
  )
})
