// The index feed's ring (docs/redirector.md#the-index-feed): batches kept by count, bytes and age; readers of
// another generation, or left behind by the ring, are told to fetch the index anew.
import { assert, describe, it } from "vitest"
import { makeIndexFeed } from "../../src/redirector/IndexFeed.ts"
import { changesOfJson } from "../../src/redirector/IndexSnapshot.ts"
import type { IndexChanges } from "../../src/redirector/Redirector.ts"

const host = (id: number, bits: Array<number>) => ({
  id,
  siteId: 1,
  name: `mirror-${id}`,
  country: "SE",
  bandwidth: 100,
  private: false,
  asn: null,
  asnClients: false,
  internet2: false,
  internet2Clients: false,
  ipv4: "yes" as const,
  ipv6: "unknown" as const,
  peerAsns: [],
  countriesAllowed: [],
  netblocks: [],
  categories: [{ id: id * 10, categoryId: 1, alwaysUp2date: false, urls: [], upToDate: new Uint8Array(bits) }]
})

const changesOf = (id: number): IndexChanges => ({ hosts: { ids: [id], rows: [host(id, [id & 255, 1])] } })

const batchesOf = (read: ReturnType<ReturnType<typeof makeIndexFeed>["read"]>) => {
  assert.strictEqual(read._tag, "Batches")
  return read._tag === "Batches" ? read.batches.map((json) => JSON.parse(json)) : []
}

describe("the index feed", () => {
  it("ships batches in order, hosts' bitsets intact, from any position it keeps", () => {
    const feed = makeIndexFeed({ maxBatches: 100, maxBytes: 1 << 20, maxAgeMs: 60_000 })
    const { generation } = feed.position()
    for (let id = 1; id <= 5; id++) feed.publish(changesOf(id), 1, 1000 + id)
    assert.deepStrictEqual(feed.position(), { generation, sequence: 5 })
    const all = batchesOf(feed.read(generation, 0))
    assert.deepStrictEqual(
      all.map((batch) => batch.sequence),
      [1, 2, 3, 4, 5]
    )
    assert.deepStrictEqual(changesOfJson(all[2].changes), changesOf(3))
    assert.deepStrictEqual(
      batchesOf(feed.read(generation, 3)).map((batch) => batch.sequence),
      [4, 5]
    )
    assert.deepStrictEqual(batchesOf(feed.read(generation, 5)), [])
    // At most about maxBytes per read, at least one batch.
    const one = feed.read(generation, 0, 1)
    assert.deepStrictEqual(one._tag === "Batches" ? [one.position.sequence, one.batches.length] : [], [1, 1])
    assert.strictEqual(feed.read(generation, 6)._tag, "Gone")
    assert.strictEqual(feed.read("another", 0)._tag, "Gone")

    const renewed = feed.newGeneration()
    assert.notStrictEqual(renewed.generation, generation)
    assert.strictEqual(renewed.sequence, 0)
    assert.strictEqual(feed.read(generation, 5)._tag, "Gone")
    assert.deepStrictEqual(batchesOf(feed.read(renewed.generation, 0)), [])
  })

  it("keeps at most its count, its bytes and its age of batches; a reader left behind is gone", () => {
    let clock = 0
    const byCount = makeIndexFeed({ maxBatches: 10, maxBytes: 1 << 30, maxAgeMs: 1 << 30 }, () => clock)
    for (let id = 1; id <= 25; id++) byCount.publish(changesOf(id), 1, id)
    const { generation } = byCount.position()
    assert.deepStrictEqual(byCount.counts().batches, 10)
    assert.strictEqual(byCount.counts().oldestAfter, 15)
    assert.strictEqual(byCount.read(generation, 14)._tag, "Gone")
    assert.deepStrictEqual(
      batchesOf(byCount.read(generation, 15)).map((batch) => batch.sequence),
      [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]
    )

    const size = JSON.stringify(batchesOf(byCount.read(generation, 24))[0]).length
    const byBytes = makeIndexFeed({ maxBatches: 1000, maxBytes: size * 3.5, maxAgeMs: 1 << 30 }, () => clock)
    for (let id = 1; id <= 2000; id++) byBytes.publish(changesOf(id), 1, id)
    assert.strictEqual(byBytes.counts().batches, 3)
    assert.isAtMost(byBytes.counts().bytes, size * 3.5)
    assert.strictEqual(byBytes.read(byBytes.position().generation, 1996)._tag, "Gone")
    assert.strictEqual(batchesOf(byBytes.read(byBytes.position().generation, 1997)).length, 3)

    const byAge = makeIndexFeed({ maxBatches: 1000, maxBytes: 1 << 30, maxAgeMs: 10_000 }, () => clock)
    for (let id = 1; id <= 5; id++) {
      byAge.publish(changesOf(id), 1, id)
      clock += 4_000
    }
    // Published at 0, 4, 8, 12, 16 s; now 20 s: those of 12 and 16 s are kept.
    assert.strictEqual(byAge.read(byAge.position().generation, 2)._tag, "Gone")
    assert.deepStrictEqual(
      batchesOf(byAge.read(byAge.position().generation, 3)).map((batch) => batch.sequence),
      [4, 5]
    )
  })

  it("wakes its waiting readers at the next batch or generation", async () => {
    const feed = makeIndexFeed({ maxBatches: 10, maxBytes: 1 << 20, maxAgeMs: 60_000 })
    const woken: Array<string> = []
    const first = feed.next().then(() => woken.push("batch"))
    feed.publish(changesOf(1), 1, 1)
    await first
    const second = feed.next().then(() => woken.push("generation"))
    feed.newGeneration()
    await second
    const aborted = new AbortController()
    const third = feed.next(aborted.signal).then(() => woken.push("aborted"))
    aborted.abort()
    await third
    assert.deepStrictEqual(woken, ["batch", "generation", "aborted"])
  })
})
