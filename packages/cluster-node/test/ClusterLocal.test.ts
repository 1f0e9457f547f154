// `npm run cluster:local` (infra/cluster-local.ts): nodes on one database, their URLs printed, all of them ready, a
// redirector node fed by the full nodes answering mirrorlists, and Ctrl-C stopping them and exiting 0.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { serveMirror } from "../src/demo/DemoRepository.ts"
import { addMirror, call, newDatabase, REPOMD, setUpContent, TOKEN, until } from "./support/Nodes.ts"
import { freePort, postgresServing, type RunningNode, tempDir } from "./support/Process.ts"

const SCRIPT = path.resolve(import.meta.dirname, "../../../infra/cluster-local.ts")

/** A node of the cluster, for the helpers that call a node's API (they need only its URL). */
const nodeAt = (port: number) => ({ url: `http://127.0.0.1:${port}` }) as RunningNode

/**
 * `npm run cluster:local` with two nodes on `http`, in a process group of its own as a shell runs it in a terminal
 * (Ctrl-C is SIGINT to the whole group); its data directory, its output so far, and its exit status once it has
 * ended.
 */
const startCluster = async (http: ReadonlyArray<number>, env: Record<string, string>) => {
  const dataDir = tempDir()
  const child = spawn(process.execPath, [SCRIPT], {
    detached: true,
    env: {
      ...process.env,
      CLUSTER_NODES: "2",
      CLUSTER_HTTP_PORTS: http.join(","),
      CLUSTER_RUNNER_PORTS: `${await freePort()},${await freePort()}`,
      CLUSTER_DATA_DIR: dataDir,
      MM_ACCESS_LOG: "off",
      ...env
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, exited, dataDir, output: () => output }
}

describe("npm run cluster:local", () => {
  it("starts the nodes on one database and a redirector node fed by them, prints their URLs, and stops them all on SIGINT", async () => {
    const database = await newDatabase()
    const http = [await freePort(), await freePort()]
    const redirectorPort = await freePort()
    const cluster = await startCluster(http, {
      DATABASE_URL: database,
      MM_ADMIN_TOKEN: TOKEN,
      CLUSTER_REDIRECTORS: "1",
      CLUSTER_REDIRECTOR_PORTS: String(redirectorPort),
      // Nothing to crawl here: the mirror below is up to date by its setting.
      MM_CRAWL_INTERVAL: "0 seconds",
      MM_CRAWL_REPODATA_INTERVAL: "0 seconds",
      MM_CRAWL_CANARY_INTERVAL: "0 seconds"
    })
    const { child, exited } = cluster
    const deadline = Date.now() + 90_000
    while (!cluster.output().includes("2 nodes and 1 redirector nodes ready")) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`not ready:\n${cluster.output()}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const token = /nodes ready; admin token: (\S+)/.exec(cluster.output())?.[1]
    assert.strictEqual(token, TOKEN)
    for (const port of http) {
      assert.include(cluster.output(), `http://127.0.0.1:${port}`)
      const ready = await (await fetch(`http://127.0.0.1:${port}/healthz/ready`)).json()
      assert.strictEqual(ready.status, "ready")
      const me = await fetch(`http://127.0.0.1:${port}/api/me`, { headers: { authorization: `Bearer ${token}` } })
      assert.strictEqual(me.status, 200)
    }

    // The redirector node takes its index from the full nodes' feed: no database connection (it has no
    // DATABASE_URL), no admin API, and a mirror added through node-1 reaches its mirrorlist.
    const redirector = nodeAt(redirectorPort)
    assert.include(cluster.output(), `redirector-1 ready: ${redirector.url} (redirector only, fed by the full nodes`)
    assert.include(
      cluster.output(),
      `role: redirector (fed by http://127.0.0.1:${http[0]}, http://127.0.0.1:${http[1]}, no database connections)`
    )
    const me = await fetch(`${redirector.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    assert.strictEqual(me.status, 404)
    await me.text()
    const categoryId = await setUpContent(nodeAt(http[0]!))
    await addMirror(nodeAt(http[0]!), categoryId, "mirror.example.org", "SE", "https://mirror.example.org/pub/epel/")
    await until("the redirector node lists the mirror", 30_000, async () => {
      const response = await fetch(`${redirector.url}/mirrorlist?repo=epel-9&arch=x86_64`)
      const text = await response.text()
      return response.status === 200 && text.includes("https://mirror.example.org/pub/epel/9/Everything/x86_64/")
    })

    child.kill("SIGINT")
    assert.strictEqual(await exited, 0, cluster.output().split("\n").slice(-20).join("\n"))
    assert.include(cluster.output(), "[cluster] stopped")
    for (const port of [...http, redirectorPort]) {
      assert.isTrue(
        await fetch(`http://127.0.0.1:${port}/healthz/live`).then(
          () => false,
          () => true
        ),
        "node stopped"
      )
    }
  })
})

describe("npm run cluster:local, a node killed", () => {
  it("keeps the others serving, reports and restarts the dead node, and stops everything on Ctrl-C", async () => {
    const http = [await freePort(), await freePort()]
    // A mirror carrying the repository, served on loopback.
    const mirrorRoot = tempDir()
    fs.mkdirSync(path.join(mirrorRoot, "pub/epel/9/Everything/x86_64/repodata"), { recursive: true })
    fs.writeFileSync(path.join(mirrorRoot, "pub/epel/9/Everything/x86_64/repodata/repomd.xml"), REPOMD)
    const mirror = await serveMirror(mirrorRoot, "127.0.0.1")
    const cluster = await startCluster(http, {
      CLUSTER_PG_PORT: String(await freePort()),
      MM_ADMIN_TOKEN: TOKEN,
      // The mirror is on a loopback address; the nodes crawl it as they go (its base URL is checked).
      MM_CRAWL_PRIVATE_ADDRESSES: "true"
    })
    const { child, exited } = cluster
    try {
      const waitFor = async (pattern: RegExp, ms: number) => {
        const deadline = Date.now() + ms
        while (!pattern.test(cluster.output())) {
          if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern}:\n${cluster.output()}`)
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
        return pattern.exec(cluster.output())!
      }
      await waitFor(/2 nodes ready/, 120_000)
      const [first, survivor] = [nodeAt(http[0]!), nodeAt(http[1]!)]
      // Content and a mirror, registered through node-1; node-2's redirector lists the mirror.
      const categoryId = await setUpContent(first)
      const mirrorUrl = `${mirror.url}/pub/epel/`
      const { host } = await addMirror(first, categoryId, "mirror.example.org", "SE", mirrorUrl)
      const listed = `${mirrorUrl}9/Everything/x86_64/`
      const mirrorlist = async () => {
        const response = await fetch(`${survivor.url}/mirrorlist?repo=epel-9&arch=x86_64`)
        return { status: response.status, text: await response.text() }
      }
      await until("node-2 lists the mirror", 30_000, async () => (await mirrorlist()).text.includes(listed))

      const pid = Number((await waitFor(/node-1 ready: \S+ \(cluster runner \S+, pid (\d+)\)/, 1_000))[1])
      process.kill(pid, "SIGKILL")
      await waitFor(/node-1 exited killed by SIGKILL; the other nodes keep serving; restarting it in 1 s/, 10_000)
      assert.strictEqual(child.exitCode, null, "the cluster is still running")
      // While node-1 is down (its port refuses connections before and after), node-2 answers the redirector's
      // mirrorlist and the admin API, which need its index, its cluster and the database, not only its front server.
      const down = () =>
        fetch(`${first.url}/healthz/live`).then(
          () => false,
          () => true
        )
      let answeredWhileDown = 0
      while (!/node-1 ready again/.test(cluster.output())) {
        const downBefore = await down()
        const list = await mirrorlist()
        assert.strictEqual(list.status, 200, list.text)
        assert.include(
          list.text,
          listed,
          `node-2 keeps answering with the mirror (${answeredWhileDown} answers before):\n${list.text}\n${cluster.output().split("\n").slice(-40).join("\n")}`
        )
        const read = await call(survivor, "GET", `/api/hosts/${host.id}`)
        assert.strictEqual(read.name, "mirror.example.org")
        if (downBefore && (await down())) answeredWhileDown++
        if (child.exitCode !== null) throw new Error(cluster.output())
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      assert.isAbove(answeredWhileDown, 0, "node-2 answered while node-1 was down")
      assert.strictEqual((await fetch(`http://127.0.0.1:${http[0]}/healthz/live`)).status, 200, "node-1 is back")

      process.kill(-child.pid!, "SIGINT")
      const code = await Promise.race([
        exited,
        new Promise<string>((resolve) => setTimeout(() => resolve("still running after 10 s"), 10_000))
      ])
      assert.strictEqual(code, 0, cluster.output().split("\n").slice(-30).join("\n"))
      assert.match(cluster.output(), /\[cluster\] stopped: 2 nodes and PostgreSQL/)
      assert.deepStrictEqual(postgresServing(path.join(cluster.dataDir, "postgres")), [], "no postgres left")
      assert.notInclude(cluster.output(), "Could not release shards, retrying")
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL")
      await mirror.close()
    }
  })
})
