// `npm run cluster:local`: one PostgreSQL (embedded under var/cluster-local, or DATABASE_URL) and three nodes on
// loopback ports, each with its own data directory and cluster runner; their URLs printed; Ctrl-C (or SIGTERM) stops
// the nodes, then PostgreSQL, and exits 0.
//
// Settings (environment): CLUSTER_NODES (3), CLUSTER_HTTP_PORTS (8081,8082,8083), CLUSTER_RUNNER_PORTS
// (34441,34442,34443), CLUSTER_DATA_DIR (var/cluster-local), CLUSTER_PG_PORT (54339), DATABASE_URL, MM_ADMIN_TOKEN
// (default: generated, printed), and any other MM_* setting, passed to every node.
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { type RunningPostgres, startEmbeddedPostgres } from "../packages/cluster-node/src/EmbeddedPostgres.ts"

const ROOT = path.resolve(import.meta.dirname, "..")
const MAIN = path.join(ROOT, "packages/cluster-node/src/main.ts")

const count = Number(process.env.CLUSTER_NODES ?? 3)
const ports = (variable: string, base: number) => {
  const listed = process.env[variable]?.split(",").map((p) => Number(p.trim()))
  const result = listed ?? Array.from({ length: count }, (_, i) => base + i)
  if (result.length < count || result.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    console.error(`${variable} must list ${count} ports`)
    process.exit(2)
  }
  return result
}
const httpPorts = ports("CLUSTER_HTTP_PORTS", 8081)
const runnerPorts = ports("CLUSTER_RUNNER_PORTS", 34441)
const dataDir = path.resolve(process.env.CLUSTER_DATA_DIR ?? path.join(ROOT, "var/cluster-local"))
const token = process.env.MM_ADMIN_TOKEN ?? `mm_local-${randomBytes(18).toString("base64url")}`

const log = (line: string) => console.log(`[cluster] ${line}`)

interface Node {
  readonly name: string
  readonly url: string
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
}

const nodes: Array<Node> = []
let postgres: RunningPostgres | undefined
let stopping: Promise<void> | undefined

/** Lines of a child's output, prefixed with its name. */
const relay = (name: string, stream: NodeJS.ReadableStream, to: NodeJS.WritableStream) => {
  let rest = ""
  stream.on("data", (chunk: Buffer) => {
    const lines = (rest + chunk.toString("utf8")).split("\n")
    rest = lines.pop() ?? ""
    for (const line of lines) to.write(`[${name}] ${line}\n`)
  })
}

const ready = async (url: string) => {
  try {
    const response = await fetch(`${url}/healthz/ready`, { signal: AbortSignal.timeout(2_000) })
    return response.status === 200 && ((await response.json()) as { status?: string }).status === "ready"
  } catch {
    return false
  }
}

const stop = (code: number) =>
  (stopping ??= (async () => {
    log("stopping the nodes")
    for (const node of nodes) node.child.kill("SIGTERM")
    await Promise.all(
      nodes.map(async (node) => {
        const timer = setTimeout(() => node.child.kill("SIGKILL"), 15_000)
        await node.exited
        clearTimeout(timer)
      })
    )
    if (postgres !== undefined) {
      log("stopping PostgreSQL")
      await postgres.stop()
    }
    log("stopped")
    process.exit(code)
  })())

process.on("SIGINT", () => void stop(0))
process.on("SIGTERM", () => void stop(0))

const main = async () => {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 })
  // As root, the embedded PostgreSQL runs as `postgres`, which must reach its directory.
  fs.chmodSync(dataDir, 0o755)
  let databaseUrl = process.env.DATABASE_URL
  if (databaseUrl === undefined) {
    const port = Number(process.env.CLUSTER_PG_PORT ?? 54339)
    postgres = await startEmbeddedPostgres({ dataDir: path.join(dataDir, "postgres"), port, database: "mirrormanager" })
    databaseUrl = postgres.url
    log(`PostgreSQL (embedded) on 127.0.0.1:${port}, data in ${path.join(dataDir, "postgres")}`)
  } else {
    log("PostgreSQL: DATABASE_URL")
  }
  // One after the other: the first one migrates the database, the next ones find it migrated.
  for (let i = 0; i < count; i++) {
    const name = `node-${i + 1}`
    const url = `http://127.0.0.1:${httpPorts[i]}`
    const child = spawn(process.execPath, [MAIN, "serve"], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        MM_ADMIN_TOKEN: token,
        MM_HTTP_HOST: "127.0.0.1",
        MM_HTTP_PORT: String(httpPorts[i]),
        MM_RUNNER_HOST: "127.0.0.1",
        MM_RUNNER_PORT: String(runnerPorts[i]),
        MM_DATA_DIR: path.join(dataDir, name)
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    relay(name, child.stdout!, process.stdout)
    relay(name, child.stderr!, process.stderr)
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    const node = { name, url, child, exited }
    nodes.push(node)
    void exited.then((code) => {
      if (stopping === undefined) {
        log(`${name} exited (${code}) on its own`)
        void stop(1)
      }
    })
    const deadline = Date.now() + 120_000
    while (!(await ready(url))) {
      if (stopping !== undefined) return
      if (Date.now() > deadline) {
        log(`${name} did not become ready within 2 minutes`)
        return void stop(1)
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    log(`${name} ready: ${url} (cluster runner 127.0.0.1:${runnerPorts[i]})`)
  }
  log(`${count} nodes ready; admin token: ${token}`)
  for (const node of nodes) log(`  ${node.name}  ${node.url}   (API: ${node.url}/docs)`)
  log("check-ins: POST <any node>/xmlrpc; Ctrl-C stops everything")
}

main().catch((error: unknown) => {
  console.error("[cluster] failed:", error)
  void stop(1)
})
