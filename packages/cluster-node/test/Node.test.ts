// The node as operators run it: a real process with embedded PostgreSQL, restarted, stopped and killed.
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, inject, it } from "vitest"

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

const MAIN = path.resolve(import.meta.dirname, "../src/main.ts")
const SITE_PASSWORD = "site-secret-password-123"

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

interface RunningNode {
  readonly process: ChildProcess
  readonly url: string
  readonly output: () => string
  readonly exited: Promise<number | null>
}

const startNode = async (env: Record<string, string>): Promise<RunningNode> => {
  const port = await freePort()
  let output = ""
  const child = spawn(process.execPath, [MAIN, "serve"], {
    env: { ...process.env, MM_HTTP_HOST: "127.0.0.1", MM_HTTP_PORT: String(port), MM_LOG_FORMAT: "logfmt", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 90_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`node exited early:\n${output}`)
    const ready = await fetch(`${url}/healthz/ready`).then(
      (r) => r.status,
      () => 0
    )
    if (ready === 200) return { process: child, url, output: () => output, exited }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  child.kill("SIGKILL")
  throw new Error(`node did not become ready:\n${output}`)
}

const stop = async (node: RunningNode, signal: NodeJS.Signals = "SIGTERM") => {
  node.process.kill(signal)
  return node.exited
}

/** PostgreSQL processes serving a data directory, found through /proc. */
const postgresServing = (dataDir: string) =>
  fs
    .readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
        return cmdline[0]?.endsWith("/postgres") === true && cmdline.includes(dataDir)
      } catch {
        return false
      }
    })

const api = async (node: RunningNode, token: string, method: string, route: string, body?: unknown) => {
  const response = await fetch(`${node.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : undefined, text }
}

const dirs: Array<string> = []
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mm-node-"))
  fs.chmodSync(dir, 0o755)
  dirs.push(dir)
  return dir
}
const nodes: Array<RunningNode> = []
afterAll(async () => {
  for (const node of nodes) if (node.process.exitCode === null) await stop(node, "SIGKILL")
  for (const dir of dirs) {
    for (const pid of postgresServing(path.join(dir, "postgres"))) process.kill(Number(pid), "SIGKILL")
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

describe("a node with embedded PostgreSQL", () => {
  it("generates an admin token once, keeps its data across restarts and stops cleanly", async () => {
    const dataDir = tempDir()
    const env = { MM_DATA_DIR: dataDir, MM_EMBEDDED_PG_PORT: String(await freePort()) }

    const first = await startNode(env)
    nodes.push(first)
    assert.match(first.output(), /listening on http:\/\/127\.0\.0\.1:\d+/)
    assert.include(first.output(), dataDir)
    const token = /shown this once and stored hashed: (mm_[A-Za-z0-9_-]+)/.exec(first.output())?.[1]
    assert.isDefined(token, first.output())

    const site = await api(first, token!, "POST", "/api/sites", { name: "Example Mirrors", password: SITE_PASSWORD })
    assert.strictEqual(site.status, 201, site.text)
    const host = await api(first, token!, "POST", `/api/sites/${site.body.id}/hosts`, {
      name: "mirror.example.org",
      country: "SE",
      bandwidth: 1000
    })
    assert.strictEqual(host.status, 201, host.text)

    assert.strictEqual(await stop(first), 0, first.output())
    assert.deepStrictEqual(postgresServing(path.join(dataDir, "postgres")), [], "no stray postgres after SIGTERM")
    assert.include(first.output(), "embedded PostgreSQL stopped")

    const second = await startNode(env)
    nodes.push(second)
    assert.notMatch(second.output(), /shown this once/, "the token is generated only once")
    const again = await api(second, token!, "GET", `/api/hosts/${host.body.id}`)
    assert.strictEqual(again.status, 200, again.text)
    assert.strictEqual(again.body.name, "mirror.example.org")
    assert.strictEqual(again.body.country, "SE")
    assert.strictEqual(await stop(second, "SIGINT"), 0, second.output())
    assert.deepStrictEqual(postgresServing(path.join(dataDir, "postgres")), [])

    for (const output of [first.output(), second.output()]) {
      assert.notInclude(output, SITE_PASSWORD)
      assert.notInclude(output, "scrypt$")
    }
  })

  it("takes over after kill -9 and loses nothing that was acknowledged", async () => {
    const dataDir = tempDir()
    const env = { MM_DATA_DIR: dataDir, MM_EMBEDDED_PG_PORT: String(await freePort()), MM_ADMIN_TOKEN: "mm_killtest" }
    const first = await startNode(env)
    nodes.push(first)
    const product = await api(first, "mm_killtest", "POST", "/api/products", { name: "Fedora" })
    assert.strictEqual(product.status, 201, product.text)
    await stop(first, "SIGKILL")
    assert.lengthOf(postgresServing(path.join(dataDir, "postgres")), 1, "the orphaned postgres is still running")

    const second = await startNode(env)
    nodes.push(second)
    const read = await api(second, "mm_killtest", "GET", `/api/products/${product.body.id}`)
    assert.strictEqual(read.status, 200, read.text)
    assert.strictEqual(read.body.name, "Fedora")
    assert.strictEqual(await stop(second), 0)
    assert.deepStrictEqual(postgresServing(path.join(dataDir, "postgres")), [])
  })
})

describe("a node on DATABASE_URL", () => {
  it("uses that server, authenticates MM_ADMIN_TOKEN and rotates it when it changes", async () => {
    const dataDir = tempDir()
    const env = { MM_DATA_DIR: dataDir, DATABASE_URL: inject("databaseUrl") }
    const first = await startNode({ ...env, MM_ADMIN_TOKEN: "mm_first-token" })
    nodes.push(first)
    assert.include(first.output(), "database: DATABASE_URL 127.0.0.1:")
    assert.notInclude(first.output(), new URL(inject("databaseUrl")).password, "the database password is not logged")
    assert.isFalse(fs.existsSync(path.join(dataDir, "postgres")), "no embedded server was started")
    assert.strictEqual((await api(first, "mm_first-token", "GET", "/api/me")).status, 200)
    await stop(first)

    const second = await startNode({ ...env, MM_ADMIN_TOKEN: "mm_second-token" })
    nodes.push(second)
    assert.strictEqual((await api(second, "mm_second-token", "GET", "/api/me")).status, 200)
    assert.strictEqual((await api(second, "mm_first-token", "GET", "/api/me")).status, 401)
    await stop(second)
  })
})
