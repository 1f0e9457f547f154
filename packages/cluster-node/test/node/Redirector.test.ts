// The redirector of real node processes: answers from the index, changes reaching every node within a second,
// and serving on while the database is down, also after a restart (from the snapshot on disk).
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { startEmbeddedPostgres } from "../../src/db/EmbeddedPostgres.ts"
import {
  addMirror,
  call,
  mirrorlist,
  NO_CRAWLS,
  newDatabase,
  REPOMD,
  setUpContent,
  TOKEN,
  until
} from "../support/Nodes.ts"
import { api, freePort, type RunningNode, startNode, stop, tempDir } from "../support/Process.ts"

const readiness = async (node: RunningNode) => {
  const response = await fetch(`${node.url}/healthz/ready`).catch(() => undefined)
  if (response === undefined) return "down"
  return ((await response.json()) as { status?: string }).status ?? `http ${response.status}`
}

describe("the redirector of a cluster of nodes", () => {
  it("answers from its index, and a change written through one node reaches the other within a second", async () => {
    const database = await newDatabase()
    const env = { ...NO_CRAWLS, DATABASE_URL: database, MM_ADMIN_TOKEN: TOKEN, MM_ACCESS_LOG: "off" }
    const first = await startNode({ ...env, MM_DATA_DIR: tempDir() })
    const second = await startNode({ ...env, MM_DATA_DIR: tempDir() })
    const categoryId = await setUpContent(first)
    await addMirror(first, categoryId, "mirror-se", "SE", "https://mirror.example.se/pub/epel")

    const expected = "https://mirror.example.se/pub/epel/9/Everything/x86_64/\n"
    await until("the second node lists the first mirror", 10_000, async () =>
      (await mirrorlist(second)).text.includes(expected)
    )
    const listed = await mirrorlist(second)
    assert.strictEqual(listed.status, 200)
    assert.strictEqual(listed.text, `# repo = epel-9 arch = x86_64 country = SE country = global \n${expected}`)

    const metalink = await (await fetch(`${second.url}/metalink?repo=epel-9&arch=x86_64&countme=1`)).text()
    const sha256 = createHash("sha256").update(REPOMD).digest("hex")
    assert.include(metalink, `<hash type="sha256">${sha256}</hash>`)
    assert.include(metalink, "<mm0:timestamp>1700000000</mm0:timestamp>")
    assert.include(
      metalink,
      `<url protocol="https" type="https" location="SE" preference="100">https://mirror.example.se/pub/epel/9/Everything/x86_64/repodata/repomd.xml</url>`
    )

    // Many at once, over several connections: every answer whole, its length as declared, metalinks (kept ones
    // too, written in pieces around the response time) well formed.
    const replies = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const route =
          i % 2 === 0
            ? `/mirrorlist?repo=epel-9&arch=x86_64&ip=89.160.20.${i % 7}`
            : `/metalink?repo=epel-9&arch=x86_64&ip=89.160.20.${i % 7}`
        const response = await fetch(`${second.url}${route}`)
        const body = Buffer.from(await response.arrayBuffer())
        return { i, status: response.status, length: response.headers.get("content-length"), body }
      })
    )
    for (const reply of replies) {
      assert.strictEqual(reply.status, 200)
      assert.strictEqual(reply.length, String(reply.body.length))
      const text = reply.body.toString("utf8")
      if (reply.i % 2 === 0)
        assert.strictEqual(text, `# repo = epel-9 arch = x86_64 country = SE country = global \n${expected}`)
      else {
        assert.match(text, /^<\?xml version="1\.0" encoding="utf-8"\?>\n<metalink version="3\.0" /)
        assert.match(text, / pubdate="\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT" generator=/)
        assert.isTrue(text.endsWith("</metalink>\n"))
        assert.include(text, `<hash type="sha256">${sha256}</hash>`)
      }
    }

    // HEAD: the headers of GET, no body.
    for (const route of [
      "/mirrorlist?repo=epel-9&arch=x86_64",
      "/download/pub/epel/9/Everything/x86_64/repodata/repomd.xml"
    ]) {
      const get = await fetch(`${second.url}${route}`, { redirect: "manual" })
      const getBody = await get.text()
      const head = await fetch(`${second.url}${route}`, { method: "HEAD", redirect: "manual" })
      assert.strictEqual(head.status, get.status, route)
      assert.strictEqual(head.headers.get("location"), get.headers.get("location"), route)
      assert.strictEqual(head.headers.get("content-length"), String(Buffer.byteLength(getBody)), route)
      assert.strictEqual(await head.text(), "", route)
    }
    const download = await fetch(`${second.url}/download/pub/epel/9/Everything/x86_64/repodata/repomd.xml`, {
      redirect: "manual"
    })
    assert.strictEqual(download.status, 302)
    assert.strictEqual(
      download.headers.get("location"),
      "https://mirror.example.se/pub/epel/9/Everything/x86_64/repodata/repomd.xml"
    )
    assert.strictEqual(download.headers.get("digest"), `SHA-256=${Buffer.from(sha256, "hex").toString("base64")}`)
    // A `#` (or `?`) asked for percent-encoded stays encoded in Location and Link: it cannot end the mirror's path.
    for (const name of ["repomd.xml%23@evil.example.com", "repomd.xml%3F@evil.example.com"]) {
      const hostile = await fetch(`${second.url}/download/pub/epel/9/Everything/x86_64/repodata/${name}`, {
        redirect: "manual"
      })
      const expected = `https://mirror.example.se/pub/epel/9/Everything/x86_64/repodata/${name}`
      assert.strictEqual(hostile.status, 302, name)
      assert.strictEqual(hostile.headers.get("location"), expected)
      assert.strictEqual(hostile.headers.get("link"), `<${expected}>; rel=duplicate; pri=1; geo=se`)
    }

    // A change through the first node's API, seen in the second node's answers.
    const added = await addMirror(first, categoryId, "mirror-de", "DE", "https://mirror.example.de/epel")
    await until("the second node lists the new mirror", 5_000, async () =>
      (await mirrorlist(second)).text.includes("https://mirror.example.de/epel/9/Everything/x86_64/")
    )
    const changed = Date.now()
    await call(first, "PATCH", `/api/hosts/${added.host.id}`, { userActive: false })
    const took = await until(
      "the second node drops the deactivated mirror",
      1_000,
      async () => !(await mirrorlist(second)).text.includes("mirror.example.de")
    )
    assert.isAtMost(took, 1_000, `applied after ${Date.now() - changed} ms`)

    const metrics = await (await fetch(`${second.url}/metrics`)).text()
    assert.match(metrics, /^mm_index_hosts 1$/m)
    assert.match(metrics, /^mm_redirector_requests_total\{endpoint="mirrorlist",status="200"\} \d+$/m)
    assert.match(metrics, /^mm_changes_following 1$/m)
    assert.match(metrics, /^mm_answer_cache_bytes [1-9]\d*$/m)
    assert.match(metrics, /^mm_answer_cache_answers_total\{source="fresh"\} [1-9]\d*$/m)
    assert.match(metrics, /^mm_answer_cache_answers_total\{source="kept"\} \d+$/m)
    assert.match(metrics, /^mm_answer_cache_declined_total \d+$/m)
    assert.match(metrics, /^mm_index_built_at_seconds [1-9][\d.]*$/m)
    assert.match(metrics, /^mm_event_loop_delay_max_seconds \d[\d.e-]*$/m)
    // The heap within the resident memory: both measured, the heap the smaller.
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(metrics)?.[1])
    assert.isAbove(gauge("nodejs_heap_size_used_bytes"), 0)
    assert.isAbove(gauge("nodejs_external_memory_bytes"), 0)
    assert.isAbove(gauge("process_resident_memory_bytes"), gauge("nodejs_heap_size_total_bytes"))
  })

  it("keeps answering while the database is down, and from its snapshot after a restart", async () => {
    const dir = tempDir()
    const port = await freePort()
    let postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, "postgres"), port, database: "mirrors" })
    const env = {
      DATABASE_URL: postgres.url,
      MM_ADMIN_TOKEN: TOKEN,
      MM_DATA_DIR: path.join(dir, "node"),
      MM_INDEX_SNAPSHOT_INTERVAL: "200 millis"
    }
    // A snapshot of the format before, as an earlier version left it: removed at the start.
    const oldSnapshot = path.join(dir, "node", "redirector-index.json.gz")
    fs.mkdirSync(path.dirname(oldSnapshot), { recursive: true })
    fs.writeFileSync(oldSnapshot, "old")
    try {
      let node = await startNode(env)
      assert.isFalse(fs.existsSync(oldSnapshot))
      const categoryId = await setUpContent(node)
      await addMirror(node, categoryId, "mirror-se", "SE", "https://mirror.example.se/pub/epel")
      const expected = `# repo = epel-9 arch = x86_64 country = SE country = global \nhttps://mirror.example.se/pub/epel/9/Everything/x86_64/\n`
      await until("the mirror is listed", 10_000, async () => (await mirrorlist(node)).text === expected)

      await postgres.stop()
      await until("readiness says degraded", 20_000, async () => (await readiness(node)) === "degraded")
      assert.deepStrictEqual(await mirrorlist(node), { status: 200, text: expected })

      // Restarted while the database is still down: the snapshot on disk is served.
      await stop(node)
      node = await startNode(env, ["degraded"])
      assert.strictEqual(await readiness(node), "degraded")
      assert.deepStrictEqual(await mirrorlist(node), { status: 200, text: expected })
      assert.match(await (await fetch(`${node.url}/metrics`)).text(), /^mm_index_from_snapshot 1$/m)
      const admin = await api(node, TOKEN, "GET", "/api/me")
      assert.strictEqual(admin.status, 503)
      assert.include(node.output(), "serving the index snapshot")

      // The database comes back: the node catches up by itself.
      postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, "postgres"), port, database: "mirrors" })
      await until("the node is ready again", 40_000, async () => (await readiness(node)) === "ready")
      assert.strictEqual((await api(node, TOKEN, "GET", "/api/me")).status, 200)
      await stop(node)
    } finally {
      await postgres.stop()
    }
  })
})
