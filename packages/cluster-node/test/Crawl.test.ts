// A running node crawling real mirrors on loopback addresses: a mirror whose repomd.xml is not the master's leaves
// the metalink (and the repodata directory's mirrorlist) as soon as it is crawled, and comes back when a crawl
// finds it fresh again.
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, assert, describe, it } from "vitest"
import { call, mirrorlist, newDatabase, REPOMD, setUpContent, TOKEN } from "./support/Nodes.ts"
import { startNode, tempDir } from "./support/Process.ts"

const servers: Array<http.Server> = []
afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))))

/** A mirror of pub/epel on 127.0.0.<n>; `state.repomd` is what it serves as repomd.xml. */
const mirror = (n: number, state: { repomd: string }) =>
  new Promise<string>((resolve) => {
    const server = http.createServer((request, response) => {
      const path = request.url ?? "/"
      if (path.endsWith("/")) return void response.writeHead(200, { "content-length": 0 }).end()
      if (path === "/pub/epel/9/Everything/x86_64/repodata/repomd.xml") {
        response.writeHead(200, { "content-length": Buffer.byteLength(state.repomd) })
        return void response.end(request.method === "HEAD" ? undefined : state.repomd)
      }
      response.writeHead(404).end()
    })
    servers.push(server)
    server.listen(0, `127.0.0.${n}`, () => resolve(`http://127.0.0.${n}:${(server.address() as AddressInfo).port}`))
  })

describe("crawling through a running node", () => {
  it("takes a stale mirror out of the metalink and the mirrorlist, and puts it back when it is fresh", async () => {
    const database = await newDatabase()
    const node = await startNode({
      DATABASE_URL: database,
      MM_ADMIN_TOKEN: TOKEN,
      MM_DATA_DIR: tempDir(),
      MM_ACCESS_LOG: "off",
      MM_CRAWL_INTERVAL: "0 seconds",
      MM_CRAWL_PRIVATE_ADDRESSES: "true"
    })
    const categoryId = await setUpContent(node)
    const fresh = { repomd: REPOMD }
    const stale = { repomd: REPOMD.replace("1700000000", "1600000000") }
    const hosts: Array<{ id: number; url: string }> = []
    for (const [n, state] of [
      [31, fresh],
      [32, stale]
    ] as const) {
      const base = await mirror(n, state)
      const site = await call(node, "POST", "/api/sites", { name: `site-${n}`, password: "site-password-123456" })
      const host = await call(node, "POST", `/api/sites/${site.id}/hosts`, { name: `mirror-${n}`, country: "SE" })
      const hc = await call(node, "POST", `/api/hosts/${host.id}/categories`, { categoryId })
      await call(node, "POST", `/api/host-categories/${hc.id}/urls`, { url: `${base}/pub/epel` })
      hosts.push({ id: host.id, url: `${base}/pub/epel/9/Everything/x86_64/repodata` })
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
