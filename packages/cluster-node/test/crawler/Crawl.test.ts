// A running node crawling real mirrors on loopback addresses: a mirror whose repomd.xml is not the master's leaves
// the metalink (and the repodata directory's mirrorlist) as soon as it is crawled, and comes back when a crawl
// finds it fresh again.
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { signature } from "@mirrormanager/actors/events"
import { afterAll, assert, describe, it } from "vitest"
import { call, mirrorlist, newDatabase, REPOMD, setUpContent, TOKEN, until } from "../support/Nodes.ts"
import { type RunningNode, runCommand, startCommand, startNode, stop, tempDir } from "../support/Process.ts"

const servers: Array<http.Server> = []
afterAll(() =>
  Promise.all(
    servers.map((s) => {
      s.closeAllConnections()
      return new Promise((resolve) => s.close(resolve))
    })
  )
)

/**
 * A mirror of pub/epel on 127.0.0.<n>; `state.repomd` is what it serves as repomd.xml, after `state.delayMs`;
 * `state.asked` counts the requests it got.
 */
const mirror = (n: number, state: { repomd: string; delayMs?: number; asked?: number }) =>
  new Promise<string>((resolve) => {
    const server = http.createServer((request, response) => {
      state.asked = (state.asked ?? 0) + 1
      const path = request.url ?? "/"
      if (path.endsWith("/")) return void response.writeHead(200, { "content-length": 0 }).end()
      if (path === "/pub/epel/9/Everything/x86_64/repodata/repomd.xml") {
        const body = state.repomd
        return void setTimeout(() => {
          response.writeHead(200, { "content-length": Buffer.byteLength(body) })
          response.end(request.method === "HEAD" ? undefined : body)
        }, state.delayMs ?? 0)
      }
      response.writeHead(404).end()
    })
    servers.push(server)
    server.listen(0, `127.0.0.${n}`, () => resolve(`http://127.0.0.${n}:${(server.address() as AddressInfo).port}`))
  })

/** A node of its own database that crawls loopback mirrors on demand only (no schedule). */
const crawlingNode = async (env: Record<string, string> = {}) => {
  const database = await newDatabase()
  const node = await startNode({
    DATABASE_URL: database,
    MM_ADMIN_TOKEN: TOKEN,
    MM_DATA_DIR: tempDir(),
    MM_ACCESS_LOG: "off",
    MM_CRAWL_INTERVAL: "0 seconds",
    MM_CRAWL_PRIVATE_ADDRESSES: "true",
    ...env
  })
  return { node, database }
}

/** A site with a public host carrying the category at `base`/pub/epel (always up to date if so); the host's id. */
const addHost = async (node: RunningNode, categoryId: number, n: number, base: string, alwaysUp2date = false) => {
  const site = await call(node, "POST", "/api/sites", { name: `site-${n}`, password: "site-password-123456" })
  const host = await call(node, "POST", `/api/sites/${site.id}/hosts`, { name: `mirror-${n}`, country: "SE" })
  const hc = await call(node, "POST", `/api/hosts/${host.id}/categories`, { categoryId, alwaysUp2date })
  await call(node, "POST", `/api/host-categories/${hc.id}/urls`, { url: `${base}/pub/epel` })
  return host.id as number
}

describe("crawling through a running node", () => {
  it("takes a stale mirror out of the metalink and the mirrorlist, and puts it back when it is fresh", async () => {
    const { node } = await crawlingNode()
    const categoryId = await setUpContent(node)
    const fresh = { repomd: REPOMD }
    const stale = { repomd: REPOMD.replace("1700000000", "1600000000") }
    const hosts: Array<{ id: number; url: string }> = []
    for (const [n, state] of [
      [31, fresh],
      [32, stale]
    ] as const) {
      const base = await mirror(n, state)
      hosts.push({ id: await addHost(node, categoryId, n, base), url: `${base}/pub/epel/9/Everything/x86_64/repodata` })
    }
    const [a, b] = hosts as [{ id: number; url: string }, { id: number; url: string }]
    const crawl = async (id: number) => call(node, "POST", `/api/hosts/${id}/crawl`, {})
    const metalink = async () => (await fetch(`${node.url}/metalink?repo=epel-9&arch=x86_64&ip=89.160.20.113`)).text()
    // The repodata directory's mirrorlist (the repository's own directory has no files to check: it stays listed).
    const listed = async () =>
      (await mirrorlist(node, "path=pub/epel/9/Everything/x86_64/repodata&ip=89.160.20.113")).text

    assert.deepInclude(await crawl(a.id), { status: "ok", directoriesStale: 0 })
    assert.deepInclude(await crawl(b.id), { status: "ok", directoriesStale: 1 })
    // Applied through the change stream: give the index a moment.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    assert.include(await listed(), a.url)
    assert.notInclude(await listed(), b.url)
    assert.include(await metalink(), `${a.url}/repomd.xml`)
    assert.notInclude(await metalink(), `${b.url}/repomd.xml`)

    // The fresh one falls behind and the stale one catches up: the next crawls swap them.
    fresh.repomd = stale.repomd
    stale.repomd = REPOMD
    await crawl(a.id)
    await crawl(b.id)
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    assert.notInclude(await listed(), a.url)
    assert.include(await listed(), b.url)
    assert.notInclude(await metalink(), `${a.url}/repomd.xml`)
    assert.include(await metalink(), `${b.url}/repomd.xml`)
  })
})

/** A webhook receiver on loopback: what was posted to it, with its signature header. */
const webhook = (() => {
  const received: Array<{ body: string; signature: string | undefined }> = []
  const server = http.createServer((request, response) => {
    let body = ""
    request.on("data", (chunk) => (body += chunk))
    request.on("end", () => {
      received.push({ body, signature: request.headers["x-mirrormanager-signature"] as string | undefined })
      response.writeHead(204).end()
    })
  })
  servers.push(server)
  const url = new Promise<string>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/events`))
  )
  return { received, url }
})()

describe("mirrormanager crawl", () => {
  it("crawls through the running nodes with progress and a summary; propagation and events follow", async () => {
    const { node, database } = await crawlingNode({
      MM_EVENT_WEBHOOK: await webhook.url,
      MM_EVENT_WEBHOOK_SECRET: "hush"
    })
    const categoryId = await setUpContent(node)
    const fresh: { repomd: string; delayMs?: number } = { repomd: REPOMD }
    const freshId = await addHost(node, categoryId, 33, await mirror(33, fresh))
    const staleId = await addHost(node, categoryId, 34, await mirror(34, { repomd: "<html>moved</html>" }))
    // Nothing listens on port 9 of 127.0.0.35.
    const deadId = await addHost(node, categoryId, 35, "http://127.0.0.35:9")
    const crawl = (...args: ReadonlyArray<string>) => runCommand(["crawl", ...args], { DATABASE_URL: database })

    const all = await crawl()
    assert.strictEqual(all.code, 2, all.stderr)
    for (const n of [33, 34, 35]) assert.match(all.stderr, new RegExp(`\\[\\d/3\\] mirror-${n} \\(host \\d+\\): `))
    assert.match(all.stderr, /mirror-35 \(host \d+\): failure, .* — no base URL answered/)
    assert.match(all.stdout, /crawl \(full\): 3 hosts in .*: 2 ok, 1 failed, 0 timed out/)
    assert.match(all.stdout, /propagation recorded for 1 repository$/m)

    // The fresh host carries the newest repomd.xml, the other's does not match, the dead one is not known.
    const propagation = await call(node, "GET", "/api/propagation")
    assert.deepInclude(propagation[0], { repository: "epel-9", arch: "x86_64", sameDay: 1, older: 1, noInfo: 1 })

    const one = await crawl("--host", String(freshId), "--repodata")
    assert.strictEqual(one.code, 0, one.stderr)
    // A slow mirror: lines in between say what is still being crawled.
    fresh.delayMs = 2_500
    const slow = await crawl("--host", String(freshId), "--repodata", "--progress", "1")
    fresh.delayMs = 0
    assert.strictEqual(slow.code, 0, slow.stderr)
    assert.match(slow.stderr, /^\.\.\. 0\/1 done after \d+\.\d s; crawling mirror-33 \(\d+\.\d s\)$/m)
    assert.match(one.stdout, /crawl \(repodata\): 1 host in .*: 1 ok/)
    assert.match(one.stdout, /1 up to date, 0 stale/)

    for (const [args, message] of [
      [["--host", "987654"], /no host 987654/],
      [["--canary", "--repodata"], /exclude each other/],
      [["--category", "Nope"], /no category is named "Nope" \(categories: "Fedora EPEL"\)/],
      [["--timeout", "soon"], /--timeout needs a duration/]
    ] as const) {
      const refused = await crawl(...args)
      assert.notStrictEqual(refused.code, 0)
      assert.match(refused.stderr, message)
    }

    // Three more failures switch the dead host off: its admins see why, in the host and in the event feed.
    for (let i = 0; i < 3; i++) await call(node, "POST", `/api/hosts/${deadId}/crawl`, {})
    const dead = await call(node, "GET", `/api/hosts/${deadId}`)
    assert.deepInclude(dead, { userActive: false, disabledBy: "crawler" })
    assert.match(dead.disableReason, /^disabled after 4 consecutive crawl failures: no base URL answered/)
    // The fresh mirror falls behind: its repodata turning stale is an event too.
    fresh.repomd = "<repomd>older</repomd>"
    await call(node, "POST", `/api/hosts/${freshId}/crawl`, { mode: "repodata" })
    const events = await call(node, "GET", "/api/events")
    assert.deepStrictEqual(
      events.map((e: { kind: string; hostId: number }) => [e.kind, e.hostId]),
      [
        ["HostNotUpToDate", freshId],
        ["HostAutoDisabled", deadId]
      ]
    )
    assert.deepInclude(events[1].details, { hostName: "mirror-35", crawlLogUrl: `/api/hosts/${deadId}/crawl-log` })
    // A feed reader pages forward from the last id it saw: oldest first.
    const page = await call(node, "GET", `/api/events?after=${events[1].id - 1}&limit=1`)
    assert.deepStrictEqual(
      page.map((e: { id: number }) => e.id),
      [events[1].id]
    )
    const next = await call(node, "GET", `/api/events?after=${events[1].id}`)
    assert.deepStrictEqual(
      next.map((e: { id: number }) => e.id),
      [events[0].id]
    )
    assert.deepInclude(events[0].details, { category: "Fedora EPEL", directories: ["9/Everything/x86_64/repodata"] })
    // The stale host's crawl log says why its repodata is not up to date.
    const staleLog = await call(node, "GET", `/api/hosts/${staleId}/crawl-log`)
    assert.isTrue(
      staleLog[0].entries.some((e: { result: string }) =>
        /stale: sha256 .* matches no retained repomd\.xml/.test(e.result)
      )
    )
    // And both were posted to the webhook, in the order they happened, signed.
    await until("the events are posted", 10_000, async () => webhook.received.length >= 2)
    assert.deepStrictEqual(
      webhook.received.map((r) => [JSON.parse(r.body).kind, r.signature === signature("hush", r.body)]),
      [
        ["HostAutoDisabled", true],
        ["HostNotUpToDate", true]
      ]
    )

    // The node's metrics count its crawls and the host it switched off.
    const metrics = await (await fetch(`${node.url}/metrics`)).text()
    assert.match(metrics, /^mm_crawls_total\{mode="full",status="failure"\} 4$/m)
    assert.match(metrics, /^mm_crawls_total\{mode="repodata",status="ok"\} 3$/m)
    assert.match(metrics, /^mm_hosts_switched_off_total 1$/m)

    // No node running: the command says so instead of waiting.
    await stop(node)
    const alone = await crawl()
    assert.strictEqual(alone.code, 1)
    assert.match(alone.stderr, /no node of this database is running/)
  })
})

describe("mirrormanager crawl and always-up-to-date hosts", () => {
  it("checks their base URLs, not their directories; one whose URL does not answer fails and leaves the lists", async () => {
    const { node, database } = await crawlingNode()
    const categoryId = await setUpContent(node)
    // Its repomd.xml is not the master's: a crawl of its directories would find them stale. They are not asked.
    const live = await mirror(36, { repomd: "<repomd>other</repomd>" })
    const liveId = await addHost(node, categoryId, 36, live, true)
    // Nothing listens on port 9 of 127.0.0.37.
    const deadId = await addHost(node, categoryId, 37, "http://127.0.0.37:9", true)
    const listed = async () =>
      (await mirrorlist(node, "path=pub/epel/9/Everything/x86_64/repodata&ip=89.160.20.113")).text
    const dead = "http://127.0.0.37:9/pub/epel/9/Everything/x86_64/repodata"
    // Listed before any crawl: always up to date.
    await until("both hosts are listed", 10_000, async () => (await listed()).includes(dead))

    const crawled = await runCommand(["crawl"], { DATABASE_URL: database })
    assert.strictEqual(crawled.code, 2, crawled.stderr)
    assert.match(
      crawled.stderr,
      new RegExp(
        `mirror-36 \\(host ${liveId}\\): ok, 0 up to date, 0 stale, 0 unknown; 1 category always up to date, directories not checked; 1 of 1 base URL usable; 1 request in \\d+\\.\\d s$`,
        "m"
      )
    )
    assert.match(
      crawled.stderr,
      new RegExp(
        `mirror-37 \\(host ${deadId}\\): failure, 0 up to date, 0 stale, 0 unknown; 1 category always up to date, directories not checked; 0 of 1 base URL usable; 1 request in \\d+\\.\\d s — no base URL answered \\(last: http://127\\.0\\.0\\.37:9/pub/epel/: connect ECONNREFUSED`
      )
    )
    assert.match(crawled.stdout, /crawl \(full\): 2 hosts in .*: 1 ok, 1 failed/)
    assert.match(crawled.stdout, /directories: 0 up to date, 0 stale, 0 unknown; 1 of 2 base URLs usable; 2 requests$/m)

    // What was checked is in the crawl log: the base URL over IPv4, and that the directories were not.
    const [log] = await call(node, "GET", `/api/hosts/${liveId}/crawl-log`)
    assert.deepStrictEqual(
      log.entries.map((e: { method: string; url: string; status: number; result: string }) => [
        e.method,
        e.url,
        e.status,
        e.result
      ]),
      [
        ["HEAD", `${live}/pub/epel/`, 200, "answered over IPv4"],
        [
          "HEAD",
          `${live}/pub/epel/`,
          0,
          "always up to date (alwaysUp2date): its base URLs checked, its directories not"
        ]
      ]
    )
    // The URL that did not answer is marked so, which takes it out of the lists; the one that answered stays.
    await until("the dead host leaves the list", 10_000, async () => !(await listed()).includes(dead))
    assert.include(await listed(), `${live}/pub/epel/9/Everything/x86_64/repodata`)
    assert.deepInclude(await call(node, "GET", `/api/hosts/${deadId}`), { crawlFailures: 1 })

    const metrics = await (await fetch(`${node.url}/metrics`)).text()
    assert.match(metrics, /^mm_crawls_total\{mode="full",status="failure"\} 1$/m)
    assert.match(metrics, /^mm_crawl_base_urls_total\{result="usable"\} 1$/m)
    assert.match(metrics, /^mm_crawl_base_urls_total\{result="not_usable"\} 1$/m)
  })

  it("names MM_CRAWL_PRIVATE_ADDRESSES when it refuses a loopback address", async () => {
    const { node, database } = await crawlingNode({ MM_CRAWL_PRIVATE_ADDRESSES: "false" })
    const categoryId = await setUpContent(node)
    const hostId = await addHost(node, categoryId, 38, "http://127.0.0.38:9", true)
    const crawled = await runCommand(["crawl"], { DATABASE_URL: database })
    assert.strictEqual(crawled.code, 2, crawled.stderr)
    const refused =
      "refused: 127.0.0.38 is a loopback address; loopback, private and link-local addresses are crawled only with MM_CRAWL_PRIVATE_ADDRESSES=true"
    assert.include(
      crawled.stderr,
      `mirror-38 (host ${hostId}): failure, 0 up to date, 0 stale, 0 unknown; 1 category always up to date, directories not checked; 0 of 1 base URL usable; 0 requests in `
    )
    assert.include(crawled.stderr, `— no base URL answered (last: http://127.0.0.38:9/pub/epel/: ${refused})\n`)
    const [log] = await call(node, "GET", `/api/hosts/${hostId}/crawl-log`)
    assert.deepStrictEqual(
      log.entries.map((e: { result: string }) => e.result),
      [refused]
    )
  })

  it("stops on Ctrl-C with the crawls under way: exit 130 within seconds, and the node goes on", async () => {
    const { node, database } = await crawlingNode()
    const categoryId = await setUpContent(node)
    // A mirror that takes a minute over its repomd.xml: the crawl is under way when Ctrl-C comes.
    const slow: { repomd: string; delayMs: number; asked?: number } = { repomd: REPOMD, delayMs: 60_000 }
    await addHost(node, categoryId, 39, await mirror(39, slow))
    const crawl = startCommand(["crawl"], { DATABASE_URL: database })
    await until("the crawl asks the mirror", 30_000, async () => (slow.asked ?? 0) > 0)
    const signalled = Date.now()
    process.kill(-crawl.child.pid!, "SIGINT")
    const result = await crawl.result
    assert.isBelow(Date.now() - signalled, 10_000, result.stderr)
    assert.strictEqual(result.code, 130, result.stderr)
    assert.include(result.stderr, "SIGINT: stopping crawl")
    assert.strictEqual((await fetch(`${node.url}/healthz/live`)).status, 200)
  })
})
