// The crawl run by a host's entity (docs/crawler.md#overview), against real HTTP servers on loopback addresses serving
// fresh, stale, partly missing, slow and broken trees: which directories end up up to date, alternates accepted,
// failures counted, private addresses refused unless allowed.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, assert, layer } from "@effect/vitest"
import { HostEntity } from "@mirrormanager/domain/host"
import type { HostCategoryId, HostId } from "@mirrormanager/domain/registry"
import { Duration, Effect, Fiber, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import { crawlHost, defaultCrawlOptions } from "../../src/crawler/Crawler.ts"
import { CrawlerStateLayer } from "../../src/crawler/CrawlerState.ts"
import { hostsToCrawl } from "../../src/crawler/CrawlRun.ts"
import { CrawlScheduleLayer, defaultCrawlScheduleOptions } from "../../src/crawler/CrawlSchedule.ts"
import { MirrorClient, type ResolvedAddress } from "../../src/crawler/MirrorClient.ts"
import { Propagation } from "../../src/crawler/Propagation.ts"
import { hostEntityLayer } from "../../src/host/HostEntity.ts"
import { HostStore } from "../../src/host/HostStore.ts"
import { freshDatabaseLayer, SingleRunnerLayer } from "../../src/testing/index.ts"
import { hostCarrying } from "../support/HostRows.ts"

/** A resolver answering from `names`: a name not there does not exist; "resolver-down…" fails for a while. */
const lookupIn =
  (names: Record<string, ReadonlyArray<ResolvedAddress>>) =>
  async (name: string): Promise<ReadonlyArray<ResolvedAddress>> => {
    const found = names[name]
    if (found !== undefined) return found
    const down = name.startsWith("resolver-down")
    const error: NodeJS.ErrnoException = new Error(`getaddrinfo ${down ? "EAI_AGAIN" : "ENOTFOUND"} ${name}`)
    error.code = down ? "EAI_AGAIN" : "ENOTFOUND"
    throw error
  }

// Names are resolved by the tests (none exists unless a test says so): no query leaves this machine.
const crawlOptions = {
  ...defaultCrawlOptions,
  allowPrivateAddresses: true,
  requestTimeoutMs: 1_000,
  retries: 1,
  resolve: lookupIn({})
}
const database = freshDatabaseLayer(inject("databaseUrl"))
/** The host's crawl log, newest first. */
const crawlLogs = (hostId: number) =>
  Effect.gen(function* () {
    return yield* (yield* HostStore).crawlLog(hostId as HostId)
  }).pipe(Effect.provide(HostStore.layer))

/** The node's crawler state: its connections to mirrors, its crawl counters. */
const crawler = CrawlerStateLayer
const TestLayer = hostEntityLayer(crawlOptions).pipe(
  Layer.provideMerge(SingleRunnerLayer),
  Layer.provideMerge(crawler),
  Layer.provideMerge(database)
)

const REPOMD_NEW = "<repomd>new</repomd>\n"
const REPOMD_OLD = "<repomd>old</repomd>\n"
const REPOMD_ANCIENT = "<repomd>ancient</repomd>\n"
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

/** What a mirror serves: path → body, or a status, or a delay. */
type Served = Record<string, string | number | { readonly delayMs: number; readonly body: string }>

const servers: Array<http.Server | https.Server> = []
afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))))

/** A mirror on 127.0.0.<n>: answers HEAD and GET from `served`; HEAD of anything ending in `/` is a directory. */
const mirror = (n: number, served: Served, options: { readonly headNotAllowed?: boolean } = {}) =>
  new Promise<string>((resolve) => {
    const server = http.createServer((request, response) => {
      const path = decodeURIComponent((request.url ?? "/").split("?")[0]!)
      if (options.headNotAllowed && request.method === "HEAD" && !path.endsWith("/")) {
        response.writeHead(405).end()
        return
      }
      if (path.endsWith("/")) {
        response.writeHead(200, { "content-type": "text/html" }).end("<html>index</html>")
        return
      }
      const entry = served[path]
      if (entry === undefined || typeof entry === "number") {
        response.writeHead(typeof entry === "number" ? entry : 404).end()
        return
      }
      const send = (body: string) => {
        const range = request.headers.range
        if (range !== undefined) {
          response.writeHead(206, { "content-range": `bytes 0-0/${Buffer.byteLength(body)}`, "content-length": 1 })
          response.end(body.slice(0, 1))
          return
        }
        response.writeHead(200, { "content-length": Buffer.byteLength(body) })
        response.end(request.method === "HEAD" ? undefined : body)
      }
      if (typeof entry === "string") send(entry)
      else setTimeout(() => send(entry.body), entry.delayMs)
    })
    servers.push(server)
    server.listen(0, `127.0.0.${n}`, () => resolve(`http://127.0.0.${n}:${(server.address() as AddressInfo).port}`))
  })

/** An https mirror on 127.0.0.21 (the fixture's certificate is for that address) answering 200 to everything. */
const secureMirror = (cert: string) =>
  Effect.promise(
    () =>
      new Promise<number>((resolve) => {
        const server = https.createServer(
          { key: fs.readFileSync(path.join(import.meta.dirname, "../fixtures/self-signed.key")), cert },
          (_request, response) => response.writeHead(200).end()
        )
        servers.push(server)
        server.listen(0, "127.0.0.21", () => resolve((server.address() as AddressInfo).port))
      })
  )

let counter = 0
/** A category (top, 9/x86_64 with two packages, 9/x86_64/repodata with repomd.xml); a public host at `url`. */
const world = (url: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const n = ++counter
    const top = `pub/c${n}`
    const directory = (name: string, files: ReadonlyArray<{ name: string; size: number }>) =>
      Effect.map(
        sql<{ id: number }>`INSERT INTO directories (name, files) VALUES (${name}, ${JSON.stringify(files)}::jsonb)
          RETURNING id`,
        ([row]) => row!.id
      )
    const topId = yield* directory(top, [])
    const packages = yield* directory(`${top}/9/x86_64`, [
      { name: "a.rpm", size: 5 },
      { name: "b.rpm", size: 7 }
    ])
    const repodata = yield* directory(`${top}/9/x86_64/repodata`, [{ name: "repomd.xml", size: REPOMD_NEW.length }])
    for (const [text, timestamp] of [
      [REPOMD_NEW, 1_700_000_200],
      [REPOMD_OLD, 1_700_000_100]
    ] as const) {
      yield* sql`INSERT INTO file_details (directory_id, filename, timestamp, size, sha256)
        VALUES (${repodata}, 'repomd.xml', ${timestamp}, ${text.length}, ${sha256(text)})`
    }
    const { hostId, hostCategoryId } = yield* hostCarrying(n, topId, [packages, repodata])
    yield* sql`INSERT INTO host_category_urls (host_category_id, url) VALUES (${hostCategoryId}, ${`${url}/${top}`})`
    return { hostId, hostCategoryId, top }
  }).pipe(Effect.orDie)

/** A mirror's files for a world's category: `repomd` as its repomd.xml, the packages as given. */
const tree = (top: string, repomd: Served[string], packages: Served = {}): Served => ({
  [`/${top}/9/x86_64/a.rpm`]: "aaaaa",
  [`/${top}/9/x86_64/b.rpm`]: "bbbbbbb",
  ...Object.fromEntries(Object.entries(packages).map(([name, body]) => [`/${top}/9/x86_64/${name}`, body])),
  [`/${top}/9/x86_64/repodata/repomd.xml`]: repomd
})

const directories = (hostCategoryId: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ path: string; up2date: boolean; matched: string | null }>`
      SELECT path, up2date, matched FROM host_category_dirs WHERE host_category_id = ${hostCategoryId} ORDER BY path`
    return Object.fromEntries(
      rows.map((r) => [r.path, r.up2date ? `up to date${r.matched ? ` (${r.matched})` : ""}` : "stale"])
    )
  }).pipe(Effect.orDie)

const crawl = (hostId: number, mode: "full" | "repodata" | "canary" = "full") =>
  Effect.gen(function* () {
    const hosts = yield* HostEntity.client
    return yield* hosts(String(hostId)).Crawl({ mode, targets: [] })
  })

/** Serves `served` from a fresh world's mirror (the world's top directory is only known once the world exists). */
const crawledWorld = (n: number, served: (top: string) => Served, options: { headNotAllowed?: boolean } = {}) =>
  Effect.gen(function* () {
    const routes: Served = {}
    const url = yield* Effect.promise(() => mirror(n, routes, options))
    const w = yield* world(url)
    Object.assign(routes, served(w.top))
    return w
  })

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("the crawler", (it) => {
  it.effect("a fresh mirror: every directory up to date, repomd.xml matching the newest", () =>
    Effect.gen(function* () {
      const w = yield* crawledWorld(11, (top) => tree(top, REPOMD_NEW))
      const summary = yield* crawl(w.hostId)
      assert.deepInclude(summary, { status: "ok", directoriesUpToDate: 3, directoriesStale: 0, directoriesUnknown: 0 })
      assert.deepStrictEqual(yield* directories(w.hostCategoryId), {
        "": "up to date",
        "9/x86_64": "up to date",
        "9/x86_64/repodata": "up to date (newest)"
      })
      // The crawl log says what was asked and answered.
      const [log] = yield* crawlLogs(w.hostId)
      assert.deepInclude(log!, { mode: "full", status: "ok", requests: 4, entriesTotal: 4 })
      assert.deepStrictEqual(log!.entries.map((e) => `${e.method} ${new URL(e.url).pathname} ${e.status}`).toSorted(), [
        `GET /${w.top}/9/x86_64/repodata/repomd.xml 200`,
        `HEAD /${w.top}/ 200`,
        `HEAD /${w.top}/9/x86_64/a.rpm 200`,
        `HEAD /${w.top}/9/x86_64/b.rpm 200`
      ])
    })
  )

  it.effect("one push behind is still up to date (an alternate); an older or missing one is not", () =>
    Effect.gen(function* () {
      const behind = yield* crawledWorld(12, (top) => tree(top, REPOMD_OLD))
      yield* crawl(behind.hostId)
      assert.strictEqual((yield* directories(behind.hostCategoryId))["9/x86_64/repodata"], "up to date (alternate)")
      const ancient = yield* crawledWorld(13, (top) => tree(top, REPOMD_ANCIENT, { "b.rpm": 404 }))
      const summary = yield* crawl(ancient.hostId)
      assert.deepInclude(summary, { status: "ok", directoriesUpToDate: 1, directoriesStale: 2 })
      assert.deepStrictEqual(yield* directories(ancient.hostCategoryId), { "": "up to date" })
    })
  )

  it.effect("a wrong size is stale; HEAD refused is asked again as a one-byte GET; slow answers are unknown", () =>
    Effect.gen(function* () {
      const wrongSize = yield* crawledWorld(14, (top) => tree(top, REPOMD_NEW, { "a.rpm": "aaaaaaaaaa" }))
      yield* crawl(wrongSize.hostId)
      assert.strictEqual((yield* directories(wrongSize.hostCategoryId))["9/x86_64"], undefined)
      const noHead = yield* crawledWorld(15, (top) => tree(top, REPOMD_NEW), { headNotAllowed: true })
      assert.deepInclude(yield* crawl(noHead.hostId), { directoriesUpToDate: 3 })
      const slow = yield* crawledWorld(16, (top) =>
        tree(top, REPOMD_NEW, { "a.rpm": { delayMs: 3_000, body: "aaaaa" } })
      )
      assert.deepInclude(yield* crawl(slow.hostId), { status: "ok", directoriesUnknown: 1, directoriesUpToDate: 2 })
    })
  )

  it.effect("learns each URL's families; an https mirror whose certificate is not valid is not used", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const w = yield* crawledWorld(20, (top) => tree(top, REPOMD_NEW))
      yield* crawl(w.hostId, "canary")
      const urlRows = () =>
        sql<{ reachable: boolean | null; ipv4: boolean | null; ipv6: boolean | null; tlsValid: boolean | null }>`
          SELECT reachable, ipv4, ipv6, tls_valid AS "tlsValid" FROM host_category_urls
          WHERE host_category_id = ${w.hostCategoryId} ORDER BY id`.pipe(Effect.orDie)
      assert.deepStrictEqual(yield* urlRows(), [{ reachable: true, ipv4: true, ipv6: false, tlsValid: null }])
      const [families] = yield* sql<{ ipv4: string; ipv6: string }>`SELECT ipv4, ipv6 FROM hosts
        WHERE id = ${w.hostId}`.pipe(Effect.orDie)
      assert.deepStrictEqual(families, { ipv4: "yes", ipv6: "no" })

      // A self-signed certificate (for 127.0.0.21): the URL is marked, the category not accessible.
      const port = yield* secureMirror(
        fs.readFileSync(path.join(import.meta.dirname, "../fixtures/self-signed.crt"), "utf8")
      )
      const secure = yield* world(`https://127.0.0.21:${port}`)
      const summary = yield* crawl(secure.hostId, "canary")
      assert.strictEqual(summary.status, "failure")
      const [row] = yield* sql<{ reachable: boolean | null; tlsValid: boolean | null }>`
        SELECT reachable, tls_valid AS "tlsValid" FROM host_category_urls
        WHERE host_category_id = ${secure.hostCategoryId}`.pipe(Effect.orDie)
      assert.deepStrictEqual(row, { reachable: false, tlsValid: false })
    })
  )

  it.effect("asks a name over each of its families: an IPv6 address that does not answer is not served", () =>
    Effect.gen(function* () {
      // One server on 127.0.0.22 only, another on every address (IPv4 and IPv6); names resolved by the test.
      const listen = (server: http.Server, host: string) =>
        new Promise<number>((resolve, reject) => {
          server.once("error", reject)
          server.listen(0, host, () => resolve((server.address() as AddressInfo).port))
        })
      const answer = (_request: http.IncomingMessage, response: http.ServerResponse) => response.writeHead(200).end()
      const v4only = http.createServer(answer)
      const both = http.createServer(answer)
      servers.push(v4only, both)
      const v4port = yield* Effect.promise(() => listen(v4only, "127.0.0.22"))
      const bothPort = yield* Effect.promise(() => listen(both, "::"))
      const names: Record<string, ReadonlyArray<ResolvedAddress>> = {
        "v4only.mirror.test": [
          { address: "127.0.0.22", family: 4 },
          { address: "::1", family: 6 }
        ],
        "both.mirror.test": [
          { address: "127.0.0.1", family: 4 },
          { address: "::1", family: 6 }
        ],
        "v6.mirror.test": [{ address: "::1", family: 6 }],
        // A multicast address: no route from here (ENETUNREACH), which says nothing of the mirror.
        "v6unroutable.mirror.test": [
          { address: "127.0.0.22", family: 4 },
          { address: "ff02::1", family: 6 }
        ]
      }
      const unroutable = yield* Effect.promise(
        () =>
          new Promise<string>((resolve) => {
            const socket = net.connect({ host: "ff02::1", port: v4port })
            socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? ""))
            socket.on("connect", () => {
              socket.destroy()
              resolve("connected")
            })
          })
      )
      const mirrors = yield* MirrorClient
      const outcome = yield* Effect.promise(() =>
        crawlHost(
          mirrors,
          {
            hostId: 0 as HostId,
            categories: [
              {
                hostCategoryId: 1 as HostCategoryId,
                alwaysUpToDate: false,
                urls: [
                  `http://v4only.mirror.test:${v4port}/pub`,
                  `http://both.mirror.test:${bothPort}/pub`,
                  `http://v6.mirror.test:${bothPort}/pub`,
                  `http://nowhere.mirror.test:${bothPort}/pub`,
                  `http://v6unroutable.mirror.test:${v4port}/pub`,
                  `http://resolver-down.mirror.test:${v4port}/pub`
                ],
                directories: []
              }
            ]
          },
          {
            ...crawlOptions,
            mode: "canary",
            resolve: lookupIn(names)
          }
        )
      )
      assert.deepStrictEqual(
        outcome.report.urls.map(({ url, reachable, ipv4, ipv6 }) => [new URL(url).hostname, reachable, ipv4, ipv6]),
        [
          ["v4only.mirror.test", true, true, false],
          ["both.mirror.test", true, true, true],
          ["v6.mirror.test", true, false, true],
          ["nowhere.mirror.test", false, false, false],
          // Where this machine has no route to the address, its family is unknown (null), not "no".
          ["v6unroutable.mirror.test", true, true, unroutable === "ENETUNREACH" ? null : false],
          // The resolver answered other names just now: its failing on this one is the name's fault.
          ["resolver-down.mirror.test", false, false, false]
        ]
      )
      // A resolver that answers nothing (it has not answered any name lately) says nothing of the mirror: the crawl
      // ends unknown.
      const unresolved = yield* Effect.promise(() =>
        crawlHost(
          mirrors,
          {
            hostId: 0 as HostId,
            categories: [
              {
                hostCategoryId: 1 as HostCategoryId,
                alwaysUpToDate: false,
                urls: [`http://resolver-down.mirror.test:${v4port}/pub`],
                directories: []
              }
            ]
          },
          { ...crawlOptions, mode: "canary", resolve: lookupIn(names) }
        )
      )
      assert.strictEqual(unresolved.report.status, "unknown")
      assert.match(unresolved.report.reason ?? "", /could not check from here .*EAI_AGAIN/)
      assert.deepInclude(unresolved.report.urls[0], { reachable: null, ipv4: null, ipv6: null })
      assert.strictEqual(outcome.report.status, "ok")
      // The log says which family did not answer.
      assert.isTrue(
        outcome.log.some((e) => e.url.includes("v4only.mirror.test") && e.status === 0 && /IPv6/.test(e.result))
      )
    })
  )

  it.effect("a crawl run whose time runs out ends the host's crawl unknown: nothing is held against the mirror", () =>
    Effect.gen(function* () {
      const w = yield* crawledWorld(23, (top) => tree(top, { delayMs: 3_000, body: REPOMD_NEW }))
      const hosts = yield* HostEntity.client
      const summary = yield* hosts(String(w.hostId)).Crawl({
        mode: "full",
        targets: [],
        runDeadline: Date.now() + 500
      })
      assert.strictEqual(summary.status, "unknown")
      assert.match(summary.reason ?? "", /run's time ran out/)
      assert.deepInclude(yield* hosts(String(w.hostId)).Status(), { crawlFailures: 0, userActive: true })
      assert.deepStrictEqual(yield* directories(w.hostCategoryId), {})
    })
  )

  it.effect("while a host is crawled, its check-ins and status are answered; a second crawl is not started", () =>
    Effect.gen(function* () {
      // repomd.xml answers after 2 s (past the test crawler's 1 s limit, asked twice): the crawl takes seconds.
      const w = yield* crawledWorld(24, (top) => tree(top, { delayMs: 2_000, body: REPOMD_NEW }))
      const hosts = yield* HostEntity.client
      const host = hosts(String(w.hostId))
      const first = yield* Effect.forkChild(host.Crawl({ mode: "full", targets: [] }))
      yield* Effect.sleep("200 millis")
      const reply = yield* host.Checkin({ checkin: { userActive: true, sections: [] } })
      assert.strictEqual(reply, "")
      assert.isNumber((yield* host.Status()).hostId)
      assert.isUndefined(first.pollUnsafe(), "answered while the crawl is still running")
      // One crawl of a host at a time: another asked meanwhile is answered at once, not started.
      const second = yield* host.Crawl({ mode: "repodata", targets: [] })
      assert.strictEqual(second.status, "unknown")
      assert.match(
        second.reason ?? "",
        /another crawl of this host has been running since .*; this one was not started/
      )
      assert.strictEqual(second.requests, 0)
      assert.isUndefined(first.pollUnsafe(), "answered while the first is still running")
      assert.strictEqual((yield* Fiber.join(first)).status, "ok")
      // Once it has ended, the next one runs.
      assert.strictEqual((yield* host.Crawl({ mode: "canary", targets: [] })).status, "ok")
      const log = yield* crawlLogs(w.hostId)
      assert.deepStrictEqual(
        log.map((run) => run.mode),
        ["canary", "full"]
      )
    })
  )

  it.effect("the database failing as a crawl's result is written: unknown, nothing applied, not crawled again", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      let asked = 0
      const w = yield* crawledWorld(26, (top) => tree(top, REPOMD_NEW))
      const counting = http.createServer((request, response) => {
        asked++
        response.writeHead(request.url?.endsWith("/") ? 200 : 404).end()
      })
      servers.push(counting)
      const port = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) =>
            counting.listen(0, "127.0.0.26", () => resolve((counting.address() as AddressInfo).port))
          )
      )
      yield* sql`UPDATE host_category_urls SET url = ${`http://127.0.0.26:${port}/${w.top}`}
        WHERE host_category_id = ${w.hostCategoryId}`.pipe(Effect.orDie)
      // The crawl log of this host cannot be written.
      yield* sql
        .unsafe(`CREATE FUNCTION refuse_crawl_log() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN RAISE EXCEPTION 'crawl logs refused'; END $$`)
        .pipe(Effect.orDie)
      yield* sql
        .unsafe(`CREATE TRIGGER refuse_crawl_log BEFORE INSERT ON host_crawl_logs FOR EACH ROW
          WHEN (NEW.host_id = ${w.hostId}) EXECUTE FUNCTION refuse_crawl_log()`)
        .pipe(Effect.orDie)
      const summary = yield* crawl(w.hostId)
      yield* sql.unsafe("DROP TRIGGER refuse_crawl_log ON host_crawl_logs").pipe(Effect.orDie)
      yield* sql.unsafe("DROP FUNCTION refuse_crawl_log()").pipe(Effect.orDie)
      assert.strictEqual(summary.status, "unknown")
      assert.match(summary.reason ?? "", /crawler's side/)
      // The stale verdicts were not applied (one transaction), and the mirror was asked once, not again and again.
      assert.deepStrictEqual(yield* directories(w.hostCategoryId), {})
      const once = asked
      yield* Effect.sleep("1500 millis")
      assert.strictEqual(asked, once)
      assert.isAbove(once, 0)
    })
  )

  it.effect("a crawl whose request is withdrawn stops at once, and the next one runs", () =>
    Effect.gen(function* () {
      let asked = 0
      const w = yield* crawledWorld(29, (top) => {
        const served = tree(top, { delayMs: 2_000, body: REPOMD_NEW })
        // Count the slow repomd.xml requests.
        return new Proxy(served, {
          get: (target, key) => {
            if (typeof key === "string" && key.endsWith("/repomd.xml")) asked++
            return target[key as string]
          }
        })
      })
      const host = (yield* HostEntity.client)(String(w.hostId))
      const withdrawn = yield* Effect.forkChild(host.Crawl({ mode: "full", targets: [] }))
      yield* Effect.sleep("300 millis")
      yield* Fiber.interrupt(withdrawn)
      yield* Effect.sleep("200 millis")
      const next = yield* host.Crawl({ mode: "canary", targets: [] })
      assert.strictEqual(next.status, "ok", next.reason ?? "")
      // The withdrawn crawl asked repomd.xml once and was not retried after it stopped.
      const before = asked
      yield* Effect.sleep("2 seconds")
      assert.strictEqual(asked, before)
    })
  )

  it.effect("a round leaves out hosts crawled in its mode lately; switched-off hosts come back at their own pace", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const w = yield* crawledWorld(27, (top) => tree(top, REPOMD_NEW))
      const host = (yield* HostEntity.client)(String(w.hostId))
      const ids = (select: Parameters<typeof hostsToCrawl>[1]) =>
        Effect.map(hostsToCrawl(sql, select), (hosts) => hosts.map((h) => h.id).includes(w.hostId)).pipe(Effect.orDie)
      const hour = Duration.hours(1)
      assert.isTrue(yield* ids({ mode: "full", notCrawledWithin: hour }))
      yield* crawl(w.hostId)
      assert.isFalse(yield* ids({ mode: "full", notCrawledWithin: hour }), "crawled in full just now")
      assert.isTrue(yield* ids({ mode: "canary", notCrawledWithin: hour }), "not checked by a canary yet")
      assert.isTrue(yield* ids({ mode: "full" }), "a command's run takes every host")
      // Switched off by the crawler: back in a full round only once its last crawl is old enough.
      yield* sql`UPDATE hosts SET user_active = false, disabled_by = 'crawler' WHERE id = ${w.hostId}`.pipe(
        Effect.orDie
      )
      assert.isFalse(yield* ids({ mode: "full", disabledEvery: hour }))
      assert.isFalse(yield* ids({ mode: "canary" }), "canary rounds leave switched-off hosts alone")
      // Its last full crawl counts (not a claim's targeted crawl, nor other modes).
      yield* host.Crawl({ mode: "canary", targets: [] })
      assert.isFalse(yield* ids({ mode: "full", disabledEvery: hour }))
      yield* sql`UPDATE host_crawl_logs SET started_at = started_at - interval '2 hours'
        WHERE host_id = ${w.hostId} AND mode = 'full'`.pipe(Effect.orDie)
      assert.isTrue(yield* ids({ mode: "full", disabledEvery: hour }))
    })
  )

  it.effect("scheduled crawls spare what was found up to date lately and has not changed on the master since", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const w = yield* crawledWorld(28, (top) => tree(top, REPOMD_NEW))
      const host = (yield* HostEntity.client)(String(w.hostId))
      const scheduled = () => host.Crawl({ mode: "full", targets: [], budget: true })
      const verifiedAt = () =>
        Effect.map(
          sql<{ path: string; at: string }>`SELECT path, verified_at::text AS at FROM host_category_dirs
            WHERE host_category_id = ${w.hostCategoryId} ORDER BY path`,
          (rows) => Object.fromEntries(rows.map((r) => [r.path, r.at]))
        ).pipe(Effect.orDie)
      const first = yield* scheduled()
      assert.deepInclude(first, { status: "ok", directoriesUpToDate: 3 })
      const before = yield* verifiedAt()
      // Again: only the base URL and repomd.xml are asked; the others are kept, their verification not renewed.
      const second = yield* scheduled()
      assert.deepInclude(second, { status: "ok", directoriesUpToDate: 3, requests: 2 })
      const after = yield* verifiedAt()
      assert.strictEqual(after["9/x86_64"], before["9/x86_64"])
      assert.notStrictEqual(after["9/x86_64/repodata"], before["9/x86_64/repodata"])
      // A crawl asked for (not scheduled) asks everything.
      assert.strictEqual((yield* host.Crawl({ mode: "full", targets: [] })).requests, first.requests)
      // The master's directory changes (a new package the mirror lacks): asked again, and found stale.
      yield* sql`UPDATE directories SET files = files || '[{"name": "c.rpm", "size": 3}]'::jsonb
        WHERE name = ${`${w.top}/9/x86_64`}`.pipe(Effect.orDie)
      assert.deepInclude(yield* scheduled(), { directoriesUpToDate: 2, directoriesStale: 1 })
      assert.strictEqual((yield* directories(w.hostCategoryId))["9/x86_64"], "stale")
    })
  )

  it.effect("a mirror that does not answer fails the crawl; four failures in a row switch it off", () =>
    Effect.gen(function* () {
      const w = yield* world("http://127.0.0.17:9")
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* crawl(w.hostId)).status, "failure")
      assert.deepInclude(yield* (yield* HostEntity.client)(String(w.hostId)).Status(), {
        userActive: true,
        crawlFailures: 3
      })
      const fourth = yield* crawl(w.hostId)
      assert.match(fourth.reason ?? "", /no base URL answered/)
      assert.deepInclude(yield* (yield* HostEntity.client)(String(w.hostId)).Status(), {
        userActive: false,
        disabledBy: "crawler",
        crawlFailures: 4
      })
    })
  )

  it.effect("an always-up-to-date host: its base URLs are checked as any host's, its directories are not", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const alwaysUpToDate = (hostCategoryId: number) =>
        sql`UPDATE host_categories SET always_up2date = true WHERE id = ${hostCategoryId}`.pipe(Effect.orDie)
      const logOf = (hostId: number) =>
        Effect.map(crawlLogs(hostId), ([log]) => ({
          ...log!,
          entries: log!.entries.map((e) => `${e.method} ${new URL(e.url).pathname} ${e.status} ${e.result}`)
        }))
      // Its mirror serves an old tree: a crawl of its directories would find them stale. They are not asked.
      const live = yield* crawledWorld(30, (top) => tree(top, REPOMD_ANCIENT, { "b.rpm": 404 }))
      yield* alwaysUpToDate(live.hostCategoryId)
      assert.deepStrictEqual(yield* crawl(live.hostId), {
        status: "ok",
        reason: null,
        directoriesUpToDate: 0,
        directoriesStale: 0,
        directoriesUnknown: 0,
        baseUrls: 1,
        baseUrlsUsable: 1,
        categoriesAlwaysUpToDate: 1,
        requests: 1,
        durationMs: (yield* logOf(live.hostId)).durationMs
      })
      assert.deepInclude(yield* logOf(live.hostId), {
        status: "ok",
        requests: 1,
        entries: [
          `HEAD /${live.top}/ 200 answered over IPv4`,
          `HEAD /${live.top}/ 0 always up to date (alwaysUp2date): its base URLs checked, its directories not`
        ]
      })
      const urlRow = (hostCategoryId: number) =>
        sql<{ reachable: boolean | null; ipv4: boolean | null; ipv6: boolean | null }>`
          SELECT reachable, ipv4, ipv6 FROM host_category_urls WHERE host_category_id = ${hostCategoryId}`.pipe(
          Effect.map(([row]) => row),
          Effect.orDie
        )
      assert.deepStrictEqual(yield* urlRow(live.hostCategoryId), { reachable: true, ipv4: true, ipv6: false })

      // One whose name does not resolve: nothing to ask, and the crawl says so rather than "ok". Its URL is marked
      // unreachable (which takes it out of the lists) and the failure counts as any host's.
      const gone = yield* world("http://gone.mirror.test")
      yield* alwaysUpToDate(gone.hostCategoryId)
      const failed = yield* crawl(gone.hostId)
      assert.deepInclude(failed, {
        status: "failure",
        baseUrls: 1,
        baseUrlsUsable: 0,
        categoriesAlwaysUpToDate: 1,
        requests: 0
      })
      assert.strictEqual(
        failed.reason,
        `no base URL answered (last: http://gone.mirror.test/${gone.top}/: the name does not resolve (ENOTFOUND))`
      )
      assert.deepInclude(yield* logOf(gone.hostId), {
        status: "failure",
        entries: [`HEAD /${gone.top}/ 0 the name does not resolve (ENOTFOUND)`]
      })
      assert.deepStrictEqual(yield* urlRow(gone.hostCategoryId), { reachable: false, ipv4: false, ipv6: false })
      assert.deepInclude(yield* (yield* HostEntity.client)(String(gone.hostId)).Status(), { crawlFailures: 1 })
      // A canary check of it is the same check.
      assert.deepInclude(yield* crawl(gone.hostId, "canary"), { status: "failure", baseUrls: 1, requests: 0 })

      // Without a public http(s) URL there is nothing to check: said, not "ok".
      const bare = yield* world("http://127.0.0.30:9")
      yield* alwaysUpToDate(bare.hostCategoryId)
      yield* sql`DELETE FROM host_category_urls WHERE host_category_id = ${bare.hostCategoryId}`.pipe(Effect.orDie)
      assert.deepInclude(yield* crawl(bare.hostId), {
        status: "failure",
        reason: "no base URL answered: the host has no public http(s) base URL to check",
        baseUrls: 0
      })
    })
  )
})

layer(
  hostEntityLayer(defaultCrawlOptions).pipe(
    Layer.provideMerge(SingleRunnerLayer),
    Layer.provideMerge(crawler),
    Layer.provideMerge(database)
  ),
  {
    excludeTestServices: true,
    timeout: "60 seconds"
  }
)("the crawler by default", (it) => {
  it.effect("refuses mirrors on loopback and private addresses", () =>
    Effect.gen(function* () {
      const w = yield* crawledWorld(18, (top) => tree(top, REPOMD_NEW))
      const summary = yield* crawl(w.hostId)
      assert.strictEqual(summary.status, "failure")
      assert.strictEqual(summary.requests, 0)
      // The reason names the setting that allows such addresses.
      assert.match(
        summary.reason ?? "",
        /^no base URL answered \(last: http:\/\/127\.0\.0\.18:\d+\/pub\/c\d+\/: refused: 127\.0\.0\.18 is a loopback address; loopback, private and link-local addresses are crawled only with MM_CRAWL_PRIVATE_ADDRESSES=true\)$/
      )
      assert.deepStrictEqual(yield* directories(w.hostCategoryId), {})
      // Nor in other spellings: IPv4-mapped IPv6, IPv6 loopback, carrier-grade NAT, a name resolving to a private one.
      const mirrors = yield* MirrorClient
      const outcome = yield* Effect.promise(() =>
        crawlHost(
          mirrors,
          {
            hostId: 0 as HostId,
            categories: [
              {
                hostCategoryId: 1 as HostCategoryId,
                alwaysUpToDate: false,
                urls: [
                  "http://[::ffff:127.0.0.18]/pub",
                  "http://[::1]/pub",
                  "http://100.64.0.1/pub",
                  "http://inside.mirror.test/pub"
                ],
                directories: []
              }
            ]
          },
          { ...defaultCrawlOptions, mode: "canary", resolve: async () => [{ address: "10.0.0.5", family: 4 }] }
        )
      )
      assert.strictEqual(outcome.requests, 0)
      assert.strictEqual(outcome.report.status, "failure")
      assert.deepStrictEqual(
        outcome.log.map((e) => e.result),
        [
          "::ffff:7f00:12 is a loopback",
          "::1 is a loopback",
          "100.64.0.1 is a carrier-grade NAT",
          "10.0.0.5 is a private"
        ].map(
          (what) =>
            `refused: ${what} address; loopback, private and link-local addresses are crawled only with MM_CRAWL_PRIVATE_ADDRESSES=true`
        )
      )
    })
  )
})

// A lab's own CA (the fixture's self-signed certificate, valid until 2126), and a warning window reaching past it.
const labCa = fs.readFileSync(path.join(import.meta.dirname, "../fixtures/self-signed.crt"), "utf8")
layer(
  hostEntityLayer({ ...crawlOptions, ca: labCa, tlsWarnDays: 365 * 200 }).pipe(
    Layer.provideMerge(SingleRunnerLayer),
    Layer.provideMerge(crawler),
    Layer.provideMerge(database)
  ),
  { excludeTestServices: true, timeout: "60 seconds" }
)("the crawler with certificates it trusts", (it) => {
  it.effect("records a valid certificate's expiry, and tells the host's admins once when it is near", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const port = yield* secureMirror(labCa)
      const w = yield* world(`https://127.0.0.21:${port}`)
      assert.strictEqual((yield* crawl(w.hostId, "canary")).status, "ok")
      const [row] = yield* sql<{ tlsValid: boolean; expires: string }>`
        SELECT tls_valid AS "tlsValid", to_char(tls_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS expires
        FROM host_category_urls WHERE host_category_id = ${w.hostCategoryId}`.pipe(Effect.orDie)
      assert.deepStrictEqual(row, { tlsValid: true, expires: "2126-11-01" })
      yield* crawl(w.hostId, "canary")
      const events = yield* sql<{ kind: string; details: { urls: ReadonlyArray<{ url: string }> } }>`
        SELECT kind, details FROM host_events WHERE host_id = ${w.hostId}`.pipe(Effect.orDie)
      assert.deepStrictEqual(
        events.map((e) => [e.kind, e.details.urls.map((u) => u.url)]),
        [["TlsCertificateExpiring", [`https://127.0.0.21:${port}/${w.top}`]]]
      )
    })
  )
})

layer(
  Layer.mergeAll(
    hostEntityLayer(crawlOptions),
    CrawlScheduleLayer({
      ...defaultCrawlScheduleOptions,
      interval: Duration.seconds(3),
      repodataInterval: Duration.zero,
      canaryInterval: Duration.zero,
      parallel: 4,
      verifyEvery: Duration.millis(100)
    }).pipe(Layer.provide(Propagation.layer))
  ).pipe(Layer.provideMerge(SingleRunnerLayer), Layer.provideMerge(crawler), Layer.provideMerge(database)),
  { excludeTestServices: true, timeout: "60 seconds" }
)("scheduled crawls", (it) => {
  it.effect("verify check-in claims, and crawl every public host in full", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const w = yield* crawledWorld(19, (top) => tree(top, REPOMD_NEW))
      yield* sql`INSERT INTO host_category_claims (host_category_id, paths, reported_at)
        VALUES (${w.hostCategoryId}, '["9/x86_64/repodata"]'::jsonb, now())`.pipe(Effect.orDie)
      // The claim is verified (a targeted crawl, or the round that began as the schedule started) within moments.
      let due = true
      for (let i = 0; i < 100 && due; i++) {
        const [claim] = yield* sql<{ due: boolean }>`SELECT verification_due AS due FROM host_category_claims
          WHERE host_category_id = ${w.hostCategoryId}`.pipe(Effect.orDie)
        due = claim?.due !== false
        if (due) yield* Effect.sleep("50 millis")
      }
      assert.isFalse(due, "the claim was verified")
      assert.strictEqual((yield* directories(w.hostCategoryId))["9/x86_64/repodata"], "up to date (newest)")
      // A full round (every 3 s here) checks the rest.
      for (let i = 0; i < 100 && Object.keys(yield* directories(w.hostCategoryId)).length < 3; i++) {
        yield* Effect.sleep("100 millis")
      }
      assert.deepStrictEqual(yield* directories(w.hostCategoryId), {
        "": "up to date",
        "9/x86_64": "up to date",
        "9/x86_64/repodata": "up to date (newest)"
      })
    })
  )
})
