// Answers kept between requests (AnswerCache): every answer is still a proper shuffle, the weights still decide
// who comes first, the response time stays current, a change to the index is seen at once, a new index drops all
// that was kept for the old one (which the cache does not keep alive), and the bound holds however many paths.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { setImmediate as nextTurn } from "node:timers/promises"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { afterAll, assert, describe, it, layer } from "@effect/vitest"
import { GeoIp, NetworkData } from "@mirrormanager/actors/ipdata"
import type { HostSource, IndexSource } from "@mirrormanager/actors/redirector"
import { type CarrierView, defaultRedirectorSettings, Redirector, seededRandom } from "@mirrormanager/actors/redirector"
import { indexHost as host, TWO_COUNTRY_OVERRIDES } from "@mirrormanager/actors/testing"
import { Effect, Layer } from "effect"
import type { AccessFields } from "../../src/redirector/Answer.ts"
import { AnswerCache, ENTRY_OVERHEAD } from "../../src/redirector/AnswerCache.ts"
import { answer } from "../../src/redirector/RedirectorAnswer.ts"

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mm-answer-cache-"))
const asnFile = path.join(dataDir, "asn.txt")
fs.writeFileSync(asnFile, "10.0.0.0/8 64500\n")
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

let now = Date.UTC(2026, 10, 25, 12, 0, 0)
const layerUnderTest = Redirector.layer(
  { ...defaultRedirectorSettings, answerVariants: 4, answerRefresh: 4 },
  { now: () => now }
).pipe(Layer.provide([GeoIp.layer, NetworkData.layer({ asnFile, watchInterval: "1 hour" })]))

/** Six Swedish mirrors, one of them with 100 times the bandwidth of the others. */
const mirror = (id: number, bandwidth: number): HostSource =>
  host(id, `m${id}`, "SE", [`https://m${id}.example.se/epel`], {
    bandwidth,
    netblocks: id === 6 ? ["10.9.0.0/16"] : []
  })

const detail = { filename: "repomd.xml", timestamp: 1_700_000_000, size: 42, md5: null, sha1: null, sha512: null }
const source = (hosts: ReadonlyArray<HostSource>): IndexSource => ({
  hosts,
  categories: [{ id: 1, name: "Fedora EPEL", topdir: "pub/epel" }],
  directories: [
    { id: 1, name: "pub/epel", categories: [{ categoryId: 1, ordinal: 1 }], fileDetails: [] },
    { id: 2, name: "pub/epel/9/x86_64", categories: [{ categoryId: 1, ordinal: 2 }], fileDetails: [] },
    {
      id: 3,
      name: "pub/epel/9/x86_64/repodata",
      categories: [{ categoryId: 1, ordinal: 3 }],
      fileDetails: [{ ...detail, sha256: "ab".repeat(32) }]
    }
  ],
  repositories: [{ prefix: "epel-9", arch: "x86_64", directoryId: 2, disabled: false }],
  redirects: [],
  overrides: TWO_COUNTRY_OVERRIDES
})
const WORLD = [mirror(1, 10_000), mirror(2, 100), mirror(3, 100), mirror(4, 100), mirror(5, 100), mirror(6, 100)]

/** Where the answers of the redirector under test are kept, as a node keeps them. */
const answers = new AnswerCache(defaultRedirectorSettings.answerCacheBytes)

/** The redirector serving an index of these rows. */
const serve = (redirector: Redirector["Service"], rows: IndexSource) =>
  redirector.replaceIndex(rows, { origin: "database", builtAt: now })

const ask = (redirector: Redirector["Service"], endpoint: string, ip = "89.160.20.113", cache = answers) => {
  const reply = answer(
    redirector,
    { answers: cache },
    {
      path: `/${endpoint}`,
      query: `repo=epel-9&arch=x86_64&ip=${ip}`,
      peer: "127.0.0.1",
      forwardedFor: undefined
    }
  )
  return { ...reply, body: reply.body.map(String).join("") }
}

const urlsOf = (body: string) => body.split("\n").filter((line) => line.startsWith("https://"))

layer(layerUnderTest, { excludeTestServices: true })("answers kept between requests", (it) => {
  it.effect("each answer is a whole shuffle; orders vary; the heavy mirror leads most answers", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      serve(redirector, source(WORLD))
      const orders = new Set<string>()
      let heavyFirst = 0
      const all = WORLD.map((h) => `https://m${h.id}.example.se/epel/9/x86_64/`).sort()
      for (let i = 0; i < 2000; i++) {
        const reply = ask(redirector, "mirrorlist")
        assert.strictEqual(reply.status, 200)
        const urls = urlsOf(reply.body)
        assert.deepStrictEqual([...urls].sort(), all, "every answer lists every mirror once")
        assert.isTrue(reply.body.startsWith("# repo = epel-9 arch = x86_64 country = SE \n"))
        orders.add(urls.join(" "))
        if (urls[0] === "https://m1.example.se/epel/9/x86_64/") heavyFirst++
      }
      // Fresh shuffles keep arriving (1 in 4), so far more than the 4 kept variants are seen.
      assert.isAbove(orders.size, 20)
      // 10,000 against 5 × 100: the heavy mirror leads about 96 % of fresh shuffles, hence of answers.
      assert.isAbove(heavyFirst, 1_700)
    })
  )

  it.effect("a kept metalink carries the current response time; a change to the index is seen at once", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      serve(redirector, source(WORLD))
      for (let i = 0; i < 20; i++) ask(redirector, "metalink")
      now += 3_600_000
      const later = ask(redirector, "metalink")
      assert.include(later.body, `pubdate="${new Date(now).toUTCString()}"`)
      assert.strictEqual(later.body.split("pubdate=").length, 2)
      // Kept metalinks are put back together whole: the frame (hashes and all) around the URL lines of a variant.
      for (let i = 0; i < 50; i++) {
        const body = ask(redirector, "metalink").body
        const fresh = body.replace(/preference="\d+"/g, "").replace(/https:\/\/m\d\.example\.se/g, "URL")
        assert.include(body, `<hash type="sha256">${"ab".repeat(32)}</hash>`)
        assert.isTrue(body.endsWith("   </resources>\n  </file>\n </files>\n</metalink>\n"))
        assert.strictEqual(fresh.split("<url ").length, 7, "six URLs")
      }

      redirector.applyChanges({ hosts: { ids: [1], rows: [] } })
      for (let i = 0; i < 50; i++) {
        assert.notInclude(ask(redirector, "mirrorlist").body, "m1.example.se")
        assert.notInclude(ask(redirector, "metalink").body, "m1.example.se")
      }
    })
  )

  it.effect("a metalink is kept as its draft, a small part of its bytes, and written whole for each answer", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const cache = new AnswerCache(defaultRedirectorSettings.answerCacheBytes)
      // 150 Swedish mirrors with three URLs each: a metalink of 450 lines.
      const many = Array.from({ length: 150 }, (_, i) =>
        host(
          100 + i,
          `m${100 + i}`,
          "SE",
          ["https", "http", "ftp"].map((s) => `${s}://m${100 + i}.example.se/epel`)
        )
      )
      serve(redirector, source(many))
      const bodies = Array.from({ length: 40 }, () => ask(redirector, "metalink", "89.160.20.113", cache).body)
      assert.isAbove(cache.kept, 20, "answers were sent as kept")
      for (const body of bodies) {
        assert.strictEqual(body.split("<url ").length, 451)
        assert.isTrue(body.endsWith("   </resources>\n  </file>\n </files>\n</metalink>\n"))
        const preferences = [...body.matchAll(/preference="(\d+)"/g)].map((m) => Number(m[1]))
        assert.deepStrictEqual(preferences.slice(0, 3), [100, 100, 100])
        assert.deepStrictEqual(preferences.slice(-3), [1, 1, 1])
      }
      assert.isAbove(new Set(bodies).size, 4, "each kept draft is a shuffle of its own, and fresh ones keep coming")
      // What is kept is the order of the hosts, not the 40 KB of each answer.
      assert.isBelow(cache.size, bodies[0]!.length / 2, `${cache.size} bytes kept for ${cache.entries} entries`)
    })
  )

  it.effect("what a request names is worked out again when repositories, redirects or directories change", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const world = source(WORLD)
      serve(redirector, world)
      for (let i = 0; i < 5; i++) assert.strictEqual(ask(redirector, "mirrorlist").status, 200)
      // The repository goes: the same URL is now an unknown repository.
      redirector.applyChanges({ repositories: { repositories: [], redirects: [] } })
      const gone = ask(redirector, "mirrorlist")
      assert.strictEqual(gone.status, 404)
      assert.include(gone.body, "error: invalid repo or arch")
      // Back as a redirect from an older name to another one... and back again.
      redirector.applyChanges({
        repositories: { repositories: world.repositories, redirects: [{ from: "epel-9", to: "epel-9-next" }] }
      })
      assert.strictEqual(ask(redirector, "mirrorlist").status, 404)
      redirector.applyChanges({ repositories: { repositories: world.repositories, redirects: [] } })
      assert.strictEqual(ask(redirector, "mirrorlist").status, 200)
      // The repomd.xml of the repository changes: the next metalink carries the new hash.
      assert.include(ask(redirector, "metalink").body, `<hash type="sha256">${"ab".repeat(32)}</hash>`)
      const repodata = world.directories.find((d) => d.name.endsWith("/repodata"))!
      redirector.applyChanges({
        directories: {
          ids: [repodata.id],
          rows: [{ ...repodata, fileDetails: [{ ...detail, timestamp: 1_700_000_100, sha256: "cd".repeat(32) }] }]
        }
      })
      const metalink = ask(redirector, "metalink").body
      assert.include(metalink, `<hash type="sha256">${"cd".repeat(32)}</hash>`)
      assert.include(metalink, "<mm0:timestamp>1700000100</mm0:timestamp>")
    })
  )

  it.effect("a client inside a mirror's netblock gets that mirror first, and others do not", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      serve(redirector, source(WORLD))
      for (let i = 0; i < 50; i++) {
        const reply = ask(redirector, "mirrorlist", "10.9.1.1")
        assert.strictEqual(urlsOf(reply.body)[0], "https://m6.example.se/epel/9/x86_64/")
        assert.isTrue(reply.body.startsWith("# repo = epel-9 arch = x86_64 Using preferred netblock "))
        // The same (unknown) country, outside the netblock: a class of its own.
        assert.isFalse(ask(redirector, "mirrorlist", "10.8.1.1").body.includes("Using preferred netblock"))
      }
    })
  )

  it.effect(
    "clients of countries without mirrors share answers, unless a mirror's allowed countries tell them apart",
    () =>
      Effect.gen(function* () {
        const redirector = yield* Redirector
        serve(redirector, source(WORLD))
        for (let i = 0; i < 30; i++) {
          for (const ip of ["198.51.100.1", "198.51.100.200"]) {
            const reply = ask(redirector, "mirrorlist", ip)
            assert.isTrue(reply.body.startsWith("# repo = epel-9 arch = x86_64 country = SE \n"), reply.body)
            assert.strictEqual(urlsOf(reply.body).length, 6)
          }
        }
        // Germany moved to Asia by a continent redirect: Swedish mirrors are no neighbours any more.
        redirector.applyChanges({
          overrides: {
            netblockCountries: [{ netblock: "198.51.100.0/25", country: "DE" }],
            continentRedirects: [{ country: "DE", continent: "AS" }]
          }
        })
        assert.isTrue(
          ask(redirector, "mirrorlist", "198.51.100.1").body.startsWith(
            "# repo = epel-9 arch = x86_64 country = global \n"
          )
        )
        // Mirror 2 serves Finland only: German clients never get it, Finnish ones always do.
        const finnish = { ...mirror(2, 100), countriesAllowed: ["FI"] }
        serve(redirector, source([...WORLD.filter((h) => h.id !== 2), finnish]))
        for (let i = 0; i < 30; i++) {
          assert.notInclude(ask(redirector, "mirrorlist", "198.51.100.1").body, "m2.example.se")
          assert.include(ask(redirector, "mirrorlist", "198.51.100.200").body, "m2.example.se")
        }
      })
  )

  it.effect("a private mirror's change leaves other clients' answers kept, and its own clients see it at once", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const cache = new AnswerCache(defaultRedirectorSettings.answerCacheBytes)
      // A campus mirror for 10.7.0.0/16 and a company mirror for the clients of its ASN (10.0.0.0/8 is AS64500).
      const campus = (dirs: ReadonlyArray<number>) =>
        host(7, "campus", "SE", ["https://campus.example.se/epel"], { private: true, netblocks: ["10.7.0.0/16"], dirs })
      const company = (dirs: ReadonlyArray<number>) =>
        host(8, "company", "SE", ["https://company.example.se/epel"], { private: true, asn: 64_500, dirs })
      serve(redirector, source([...WORLD, campus([1, 2, 3]), company([1, 2, 3])]))
      const outside = "89.160.20.113"
      const inCampus = "10.7.1.1"
      const inCompany = "10.8.1.1"
      const askAll = () => ({
        outside: ask(redirector, "mirrorlist", outside, cache).body,
        campus: ask(redirector, "mirrorlist", inCampus, cache).body,
        company: ask(redirector, "mirrorlist", inCompany, cache).body
      })
      for (let i = 0; i < 5; i++) {
        const seen = askAll()
        assert.notInclude(seen.outside, "campus.example.se")
        assert.notInclude(seen.outside, "company.example.se")
        assert.include(seen.campus, "campus.example.se")
        assert.include(seen.company, "company.example.se")
      }
      const entries = cache.entries
      const viewNow = () => {
        const decision = redirector.decide(MIRRORLIST_REQUEST)
        if (decision.kind !== "selecting" || decision.key === undefined) throw new Error(`no key: ${decision.kind}`)
        return decision.key.view
      }
      const view = viewNow()
      // Both go stale on the repository's repodata/, then current again: what is kept hangs on the same carrier view
      // (the outside client's answers stay kept), and the mirrors' own clients follow each change at once.
      for (const dirs of [
        [1, 2],
        [1, 2, 3]
      ]) {
        redirector.applyChanges({ hosts: { ids: [7, 8], rows: [campus(dirs), company(dirs)] } })
        assert.strictEqual(viewNow(), view)
        for (let i = 0; i < 5; i++) {
          const seen = askAll()
          assert.strictEqual(seen.campus.includes("campus.example.se"), dirs.length === 3, seen.campus)
          assert.strictEqual(seen.company.includes("company.example.se"), dirs.length === 3, seen.company)
          assert.notInclude(seen.outside, "campus.example.se")
        }
      }
      assert.isAtLeast(cache.entries, entries)
      // A public mirror's change replaces what was kept for the directory.
      redirector.applyChanges({
        hosts: { ids: [2], rows: [host(2, "m2", "SE", ["https://m2.example.se/epel"], { dirs: [1] })] }
      })
      assert.notStrictEqual(viewNow(), view)
      for (let i = 0; i < 5; i++) assert.notInclude(ask(redirector, "mirrorlist", outside, cache).body, "m2.example.se")
    })
  )

  it.effect("a new index drops all that was kept for the one it replaced, and the cache does not keep it alive", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const cache = new AnswerCache(defaultRedirectorSettings.answerCacheBytes)
      const IPS = ["89.160.20.113", "10.9.1.1", "198.51.100.1", "198.51.100.200"]
      const askAll = () => {
        for (let i = 0; i < 10; i++) {
          for (const ip of IPS) {
            assert.strictEqual(ask(redirector, "mirrorlist", ip, cache).status, 200)
            assert.strictEqual(ask(redirector, "metalink", ip, cache).status, 200)
          }
        }
      }
      serve(redirector, source(WORLD))
      askAll()
      const kept = cache.entries
      assert.isAtLeast(kept, 4, "mirrorlists and metalinks of several client classes")
      // The same rows built again (as every scheduled rebuild does): one generation kept, never two.
      serve(redirector, source(WORLD))
      assert.strictEqual(ask(redirector, "mirrorlist", IPS[0], cache).status, 200)
      assert.strictEqual(cache.entries, 1)
      assert.strictEqual(cache.directories, 1)
      assert.strictEqual(cache.replaced, 1)
      askAll()
      assert.strictEqual(cache.entries, kept)

      // Weak references to the index served now and to one of its views; then a new index, and no request since.
      const [oldIndex, oldView] = (() => {
        const decision = redirector.decide(MIRRORLIST_REQUEST)
        if (decision.kind !== "selecting" || decision.key === undefined) throw new Error(`no key: ${decision.kind}`)
        return [new WeakRef(redirector.status().index!), new WeakRef(decision.key.view)]
      })()
      serve(redirector, source(WORLD))
      // No request since: neither this cache nor the Redirector's memory of requests (ResolvedRequests, cleared when
      // an index is served) holds the one replaced.
      // A WeakRef holds its target until the current job ends; then a full collection.
      yield* Effect.promise(() => nextTurn())
      collectGarbage()
      assert.isUndefined(oldIndex.deref(), "the replaced index is not kept alive by the answers kept for it")
      assert.isUndefined(oldView.deref(), "nor is any of its carrier views")
      assert.strictEqual(cache.entries, 0)
      assert.strictEqual(cache.size, 0)
    })
  )
})

const LOG: AccessFields = {
  client: undefined,
  country: undefined,
  repo: undefined,
  arch: undefined,
  path: undefined,
  hosts: 0,
  countme: undefined,
  result: "ok"
}

const MIRRORLIST_REQUEST = {
  path: "/mirrorlist",
  query: "repo=epel-9&arch=x86_64&ip=89.160.20.113",
  peer: "127.0.0.1",
  forwardedFor: undefined
}

/** A stand-in for the index answers are kept for (what AnswerCache.answer's `index` is). */
const GENERATION = {}

/** A full garbage collection, now. */
const collectGarbage = (() => {
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc") as () => void
})()

describe("the answer cache's bound", () => {
  it("holds however many distinct paths and directories are asked", () => {
    const limit = 200_000
    const cache = new AnswerCache(limit)
    const random = seededRandom([5, 6, 7, 8])
    const views = Array.from({ length: 1_000 }, () => ({}) as unknown as CarrierView)
    for (let i = 0; i < 50_000; i++) {
      const view = views[(i * 7919) % views.length]!
      cache.answer(
        GENERATION,
        view,
        `path=pub/epel/${i}/x86_64`,
        `SE ${i % 3}`,
        { variants: 8, refresh: 8 },
        random,
        0,
        { ...LOG },
        0,
        () => ({
          endpoint: "mirrorlist",
          status: 200,
          headers: {},
          body: `# ${i}\n${"https://m.example.se/epel/\n".repeat(4)}`,
          hosts: 4,
          result: "ok"
        })
      )
      assert.isAtMost(cache.size, limit)
    }
    assert.isAtMost(cache.entries, limit / ENTRY_OVERHEAD)
    assert.isAbove(cache.entries, 50, "it does keep answers")
    assert.isAtMost(cache.directories, cache.entries)
    assert.strictEqual(cache.fresh, 50_000, "each path asked once: every answer made afresh")
  })

  it("when full, gives room to what is asked more often than the directory that would go first", () => {
    const cache = new AnswerCache(3_000)
    const random = seededRandom([1, 2, 3, 4])
    const views = [{}, {}, {}] as unknown as Array<CarrierView>
    let computed = 0
    const ask = (n: number) =>
      cache.answer(GENERATION, views[n]!, `k${n}`, "c", { variants: 2, refresh: 8 }, random, 0, { ...LOG }, 0, () => {
        computed++
        return { endpoint: "mirrorlist", status: 200, headers: {}, body: "x".repeat(400), hosts: 1, result: "ok" }
      })
    // Each directory keeps two variants (2 × 400 characters and its entry): two fit, not three.
    for (const n of [0, 1]) for (let i = 0; i < 20; i++) ask(n)
    assert.strictEqual(cache.directories, 2)
    // The third, asked as often as the first: it is answered afresh every time and nothing kept goes.
    computed = 0
    const declined = cache.declined
    for (let i = 0; i < 20; i++) ask(2)
    assert.strictEqual(computed, 20)
    assert.strictEqual(cache.declined - declined, 20)
    computed = 0
    ask(0)
    ask(1)
    assert.isBelow(computed, 2, "the first two stay kept")
    // Asked more often than the one that would go first, it takes its room and is kept from then on.
    for (let i = 0; i < 5; i++) ask(2)
    computed = 0
    for (let i = 0; i < 20; i++) ask(2)
    assert.isBelow(computed, 10, "the third is kept now")
    computed = 0
    ask(0)
    assert.strictEqual(computed, 1, "the first, least recently refreshed, was dropped")
    assert.isAtMost(cache.size, 3_000)
  })

  it("keeps a stable part of a stream of requests wider than itself, instead of replacing all of it", () => {
    // 200 directories of large answers asked in turn, again and again; the cache holds about 80 of them. Dropping the
    // least recently refreshed would drop each just before it is asked again, and keep nothing of use.
    const limit = 1_000_000
    const cache = new AnswerCache(limit)
    const random = seededRandom([9, 8, 7, 6])
    const views = Array.from({ length: 200 }, () => ({}) as unknown as CarrierView)
    const body = "y".repeat(6_000)
    for (let round = 0; round < 30; round++) {
      views.forEach((view, n) => {
        cache.answer(GENERATION, view, `k${n}`, "c", { variants: 4, refresh: 32 }, random, 0, { ...LOG }, 0, () => ({
          endpoint: "metalink",
          status: 200,
          headers: {},
          body,
          hosts: 3,
          result: "ok"
        }))
      })
      assert.isAtMost(cache.size, limit)
    }
    const share = cache.kept / (cache.kept + cache.fresh)
    assert.isAbove(share, 0.3, `${cache.kept} kept, ${cache.fresh} fresh`)
    assert.isAbove(cache.declined, 0)
  })
})
