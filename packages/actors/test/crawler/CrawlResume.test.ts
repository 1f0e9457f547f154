// Big mirrors converge (docs/crawler.md#time-limit-and-resuming): a full crawl stopped by the host's time limit keeps
// what it covered, marks nothing else stale and counts no failure; the next one resumes after where it stopped, wraps
// round, and once its pass covered everything the sweep applies to the whole category. And each mode's target holds
// only what it checks (docs/crawler.md#modes). Against a real HTTP mirror on loopback through the Host entity.
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, assert, layer } from "@effect/vitest"
import { HostEntity } from "@mirrormanager/domain/host"
import type { HostCategoryId, HostId } from "@mirrormanager/domain/registry"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import { defaultCrawlOptions } from "../../src/crawler/Crawler.ts"
import { CrawlerStateLayer } from "../../src/crawler/CrawlerState.ts"
import { hostEntityLayer } from "../../src/host/HostEntity.ts"
import { HostStore } from "../../src/host/HostStore.ts"
import { freshDatabaseLayer, SingleRunnerLayer } from "../../src/testing/index.ts"
import { hostCarrying } from "../support/HostRows.ts"

/** The host's time limit here: far longer than the few requests before the mirror stops answering take. */
const HOST_TIME_LIMIT_MS = 5_000
const crawlOptions = {
  ...defaultCrawlOptions,
  allowPrivateAddresses: true,
  // Longer than the host's limit: a request the mirror never answers ends the crawl at its time limit.
  requestTimeoutMs: 30_000,
  hostTimeoutMs: HOST_TIME_LIMIT_MS,
  retries: 1
}
const TestLayer = hostEntityLayer(crawlOptions).pipe(
  Layer.provideMerge(SingleRunnerLayer),
  Layer.provideMerge(CrawlerStateLayer),
  Layer.provideMerge(freshDatabaseLayer(inject("databaseUrl")))
)

/** What the mirror answers for a path: a body, a status, or nothing at all (the request left hanging). */
type Answer = string | number | "hang"
const servers: Array<http.Server> = []
afterAll(() =>
  Promise.all(
    servers.map((s) => {
      s.closeAllConnections()
      return new Promise((resolve) => s.close(resolve))
    })
  )
)

/** A mirror on 127.0.0.<n>: directories answer 200, files as `answer` says (404 when it says nothing). */
const mirror = (n: number, answer: (path: string) => Answer | undefined) =>
  new Promise<string>((resolve) => {
    const server = http.createServer((request, response) => {
      const path = decodeURIComponent((request.url ?? "/").split("?")[0]!)
      if (path.endsWith("/")) {
        response.writeHead(200).end()
        return
      }
      const found = answer(path)
      if (found === "hang") return
      if (found === undefined || typeof found === "number") {
        response.writeHead(found ?? 404).end()
        return
      }
      response.writeHead(200, { "content-length": Buffer.byteLength(found) })
      response.end(request.method === "HEAD" ? undefined : found)
    })
    servers.push(server)
    server.listen(0, `127.0.0.${n}`, () => resolve(`http://127.0.0.${n}:${(server.address() as AddressInfo).port}`))
  })

let counter = 100
/**
 * A category over its top and `names` (each holding a file `f` of one byte, the repodata ones a repomd.xml with a
 * file detail), carried by a public host at `url`.
 */
const world = (url: string, names: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const n = ++counter
    const top = `pub/resume${n}`
    const directory = (name: string, files: ReadonlyArray<{ name: string; size: number }>) =>
      Effect.map(
        sql<{ id: number }>`INSERT INTO directories (name, files) VALUES (${name}, ${JSON.stringify(files)}::jsonb)
          RETURNING id`,
        ([row]) => row!.id
      )
    const topId = yield* directory(top, [])
    const ids = new Map<string, number>([["", topId]])
    for (const name of names) {
      const repodata = name.endsWith("repodata")
      const id = yield* directory(`${top}/${name}`, [{ name: repodata ? "repomd.xml" : "f", size: 1 }])
      if (repodata) {
        yield* sql`INSERT INTO file_details (directory_id, filename, timestamp, size, sha256)
          VALUES (${id}, 'repomd.xml', 1700000000, 1, ${"0".repeat(64)})`
      }
      ids.set(name, id)
    }
    const { hostId, hostCategoryId } = yield* hostCarrying(
      n,
      topId,
      [...ids.values()].filter((id) => id !== topId)
    )
    yield* sql`INSERT INTO host_category_urls (host_category_id, url) VALUES (${hostCategoryId}, ${`${url}/${top}`})`
    return { hostId, hostCategoryId, top, ids }
  }).pipe(Effect.orDie)

/** The host category's directories as up to date (true) or not. */
const upToDate = (hostCategoryId: HostCategoryId) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ path: string; up2date: boolean }>`
      SELECT path, up2date FROM host_category_dirs WHERE host_category_id = ${hostCategoryId} ORDER BY path`
    return Object.fromEntries(rows.map((r) => [r.path, r.up2date]))
  }).pipe(Effect.orDie)

const resumeRow = (hostCategoryId: HostCategoryId) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ resumeAfter: string | null; passed: boolean }>`
      SELECT resume_after AS "resumeAfter", passed_at IS NOT NULL AS passed FROM host_category_crawl_resume
      WHERE host_category_id = ${hostCategoryId}`
    return row
  }).pipe(Effect.orDie)

const store = <A, E>(use: (store: HostStore["Service"]) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    return yield* use(yield* HostStore)
  }).pipe(Effect.provide(HostStore.layer))

const DIRECTORIES = Array.from({ length: 12 }, (_, i) => `d${String(i).padStart(2, "0")}`)

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("big mirrors converge", (it) => {
  it.effect(
    "a full crawl stopped by its time limit keeps what it covered; the next resumes there and completes the pass",
    () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        // The first crawl: d03 answers 500 (unknown), from d06 on nothing answers: the time limit stops the crawl.
        let pass = 1
        const base = yield* Effect.promise(() =>
          mirror(70, (path) => {
            const directory = /\/(d\d\d)\/f$/.exec(path)?.[1]
            if (directory === undefined) return undefined
            if (pass === 1) return directory === "d03" ? 500 : directory >= "d06" ? "hang" : "x"
            // The second: everything answers, d09 with the wrong size (stale).
            return directory === "d09" ? "xx" : "x"
          })
        )
        const w = yield* world(base, DIRECTORIES)
        // Up to date before, by a check-in: the category's directories and one the category no longer has.
        const gone = yield* Effect.map(
          sql<{ id: number }>`INSERT INTO directories (name) VALUES (${`${w.top}/gone`}) RETURNING id`,
          ([row]) => row!.id
        ).pipe(Effect.orDie)
        yield* sql`INSERT INTO host_category_dirs (host_category_id, directory_id, path, up2date, verified_by)
          SELECT ${w.hostCategoryId}, r.id, r.path, true, 'checkin'
          FROM jsonb_to_recordset(${JSON.stringify([
            ...[...w.ids].map(([path, id]) => ({ path, id })),
            { path: "gone", id: gone }
          ])}::jsonb) AS r(id integer, path text)`.pipe(Effect.orDie)
        const host = (yield* HostEntity.client)(String(w.hostId))

        const first = yield* host.Crawl({ mode: "full", targets: [] })
        // Covered in path order: the top (no files), d00 … d05 (d03 unknown); stopped waiting on d06 and d07.
        assert.deepInclude(first, {
          status: "timeout",
          directoriesUpToDate: 6,
          directoriesStale: 0,
          directoriesUnknown: 1
        })
        assert.match(
          first.reason ?? "",
          /^stopped at the host's time limit \(5 s\) after 7 of 13 directories; the next full crawl resumes in host category \d+ after "d05"$/
        )
        // No failure counted, the host not switched off.
        assert.deepInclude(yield* host.Status(), { crawlFailures: 0, userActive: true, disabledBy: "none" })
        // What it covered has its results (d03, unknown, swept within the covered range); nothing else changed.
        assert.deepStrictEqual(yield* upToDate(w.hostCategoryId), {
          "": true,
          ...Object.fromEntries(DIRECTORIES.map((d) => [d, d !== "d03"])),
          gone: true
        })
        assert.deepStrictEqual(yield* resumeRow(w.hostCategoryId), { resumeAfter: "d05", passed: false })
        const [stopped] = yield* store((s) => s.crawlLog(w.hostId as HostId))
        assert.strictEqual(stopped!.status, "timeout")
        assert.isTrue(
          stopped!.entries.some(
            (e) =>
              e.status === 0 &&
              e.result ===
                `stopped at the host's time limit: 7 of 13 directories of this category covered, the last "d05"`
          ),
          JSON.stringify(stopped!.entries)
        )

        pass = 2
        const second = yield* host.Crawl({ mode: "full", targets: [] })
        assert.deepInclude(second, {
          status: "ok",
          directoriesUpToDate: 12,
          directoriesStale: 1,
          directoriesUnknown: 0
        })
        // It began after d05 and wrapped round to it.
        const [resumed] = yield* store((s) => s.crawlLog(w.hostId as HostId))
        const asked = resumed!.entries.flatMap((e) => {
          const directory = /\/(d\d\d)\/f$/.exec(e.url)?.[1]
          return directory === undefined ? [] : [directory]
        })
        assert.sameMembers(asked.slice(0, 2), ["d06", "d07"])
        assert.sameMembers(asked.slice(-2), ["d04", "d05"])
        assert.strictEqual(asked.length, 12)
        // A whole pass: the sweep covers the category (what it no longer has included); the resume point cleared.
        assert.deepStrictEqual(yield* upToDate(w.hostCategoryId), {
          "": true,
          ...Object.fromEntries(DIRECTORIES.map((d) => [d, d !== "d09"])),
          gone: false
        })
        assert.deepStrictEqual(yield* resumeRow(w.hostCategoryId), { resumeAfter: null, passed: true })
        // The next full crawl starts from the first again.
        yield* host.Crawl({ mode: "full", targets: [] })
        const [again] = yield* store((s) => s.crawlLog(w.hostId as HostId))
        assert.include(again!.entries.find((e) => /\/d\d\d\/f$/.test(e.url))?.url ?? "", "/d00/f")
      })
  )

  it.effect("a full crawl takes first the category whose pass is under way, then those never covered whole", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const base = yield* Effect.promise(() => mirror(72, () => "x"))
      const w = yield* world(base, ["a", "b"])
      // Two more categories of the same host (their own tops, no directories below).
      const more: Array<HostCategoryId> = []
      for (const name of ["second", "third"]) {
        const [top] = yield* sql<{ id: number }>`INSERT INTO directories (name) VALUES (${`${w.top}-${name}`})
          RETURNING id`
        const [category] = yield* sql<{ id: number }>`INSERT INTO categories (name, product_id, topdir_id)
          SELECT ${`${w.top}-${name}`}, c.product_id, ${top!.id} FROM categories c JOIN host_categories hc
            ON hc.category_id = c.id WHERE hc.id = ${w.hostCategoryId} RETURNING id`
        yield* sql`INSERT INTO category_directories (category_id, directory_id) VALUES (${category!.id}, ${top!.id})`
        const [hc] = yield* sql<{ id: HostCategoryId }>`INSERT INTO host_categories (host_id, category_id)
          VALUES (${w.hostId}, ${category!.id}) RETURNING id`
        more.push(hc!.id)
      }
      const [second, third] = more as [HostCategoryId, HostCategoryId]
      // The first covered whole lately, the third's pass under way, the second never covered whole.
      yield* sql`INSERT INTO host_category_crawl_resume (host_category_id, resume_after, passed_at) VALUES
        (${w.hostCategoryId}, NULL, now()), (${third}, '', NULL)`
      const order = (mode: "full" | "canary") =>
        store((s) => s.crawlTarget(w.hostId as HostId, { mode })).pipe(
          Effect.map((target) => target.categories.map((c) => [c.hostCategoryId, c.resumeAfter]))
        )
      assert.deepStrictEqual(yield* order("full"), [
        [third, ""],
        [second, null],
        [w.hostCategoryId, null]
      ])
      // Other modes: in the host's order, with no resume point.
      assert.deepStrictEqual(yield* order("canary"), [
        [w.hostCategoryId, undefined],
        [second, undefined],
        [third, undefined]
      ])
    }).pipe(Effect.orDie)
  )

  it.effect("each mode's target holds only what it checks: a canary none, repodata only repodata directories", () =>
    Effect.gen(function* () {
      const base = yield* Effect.promise(() => mirror(71, () => "x"))
      const w = yield* world(base, ["9", "9/x86_64", "9/x86_64/repodata", "10/repodata"])
      const paths = (mode: "full" | "repodata" | "canary" | "targeted", targets?: ReadonlyArray<string>) =>
        store((s) =>
          s.crawlTarget(w.hostId as HostId, {
            mode,
            ...(targets === undefined ? {} : { targets: new Map([[w.hostCategoryId, new Set(targets)]]) })
          })
        ).pipe(
          Effect.orDie,
          Effect.map((target) => {
            assert.strictEqual(target.categories.length, 1)
            assert.strictEqual(target.categories[0]!.urls.length, 1)
            return target.categories[0]!.directories
          })
        )
      assert.deepStrictEqual(yield* paths("canary"), [])
      const repodata = yield* paths("repodata")
      assert.sameMembers(
        repodata.map((d) => d.path),
        ["9/x86_64/repodata", "10/repodata"]
      )
      for (const d of repodata) assert.strictEqual(d.repomd?.newest.sha256, "0".repeat(64))
      assert.sameMembers(
        (yield* paths("targeted", ["9", "10/repodata"])).map((d) => d.path),
        ["9", "10/repodata"]
      )
      assert.deepStrictEqual(yield* paths("targeted"), [])
      assert.sameMembers(
        (yield* paths("full")).map((d) => d.path),
        ["", "9", "9/x86_64", "9/x86_64/repodata", "10/repodata"]
      )
      // And the crawls themselves check what their targets hold.
      const host = (yield* HostEntity.client)(String(w.hostId))
      assert.deepInclude(yield* host.Crawl({ mode: "canary", targets: [] }), { status: "ok", requests: 1 })
      const repodataCrawl = yield* host.Crawl({ mode: "repodata", targets: [] })
      assert.strictEqual(repodataCrawl.directoriesUpToDate + repodataCrawl.directoriesStale, 2)
    })
  )
})
