// `npm run cluster:local`: one PostgreSQL (embedded under var/cluster-local, or DATABASE_URL) and three full nodes on
// loopback ports, each with its own data directory and cluster runner, then any redirector nodes asked for
// (MM_ROLE=redirector: no runner, no database; their index from the full nodes' index feed, with a token made for the
// run, as docs/operations.md#topology lays a cluster out); their URLs printed. A node that dies is reported and restarted with backoff while
// the others keep serving. Ctrl-C (or SIGTERM) stops the nodes, then PostgreSQL, within 10 s and exits 0 with a
// closing line; a second Ctrl-C stops everything at once.
//
// Settings (environment): CLUSTER_NODES (3 full nodes), CLUSTER_HTTP_PORTS (8081,8082,8083), CLUSTER_RUNNER_PORTS
// (34441,34442,34443), CLUSTER_REDIRECTORS (0 redirector nodes), CLUSTER_REDIRECTOR_PORTS (8091,8092,…),
// CLUSTER_DATA_DIR (var/cluster-local), CLUSTER_PG_PORT (54339), DATABASE_URL, MM_ADMIN_TOKEN (default: generated,
// printed), MM_INDEX_FEED_TOKEN (default: generated, with redirector nodes only), and any other MM_* setting, passed
// to every node.
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { OperatorError, type RunningPostgres, startEmbeddedPostgres } from "@mirrormanager/cluster-node/db"
import {
  handleStopSignals,
  NODE_RUNTIME_FLAGS,
  SHUTDOWN_BOUND_MS,
  waitUntilReady,
  withRuntimeEnv
} from "@mirrormanager/cluster-node/node"

const ROOT = path.resolve(import.meta.dirname, "..")
const MAIN = path.join(ROOT, "packages/cluster-node/src/main.ts")

const countOf = (variable: string, fallback: number, least: number) => {
  const count = Number(process.env[variable] ?? fallback)
  if (!Number.isInteger(count) || count < least || count > 100) {
    console.error(`${variable} must be a whole number from ${least} to 100`)
    process.exit(2)
  }
  return count
}
const count = countOf("CLUSTER_NODES", 3, 1)
const redirectorCount = countOf("CLUSTER_REDIRECTORS", 0, 0)
const ports = (variable: string, base: number, count: number) => {
  const listed = process.env[variable]?.split(",").map((p) => Number(p.trim()))
  const result = listed ?? Array.from({ length: count }, (_, i) => base + i)
  if (result.length < count || result.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    console.error(`${variable} must list ${count} ports`)
    process.exit(2)
  }
  return result
}
const httpPorts = ports("CLUSTER_HTTP_PORTS", 8081, count)
const runnerPorts = ports("CLUSTER_RUNNER_PORTS", 34441, count)
const redirectorPorts = ports("CLUSTER_REDIRECTOR_PORTS", 8091, redirectorCount)
const dataDir = path.resolve(process.env.CLUSTER_DATA_DIR ?? path.join(ROOT, "var/cluster-local"))
const token = process.env.MM_ADMIN_TOKEN ?? `mm_local-${randomBytes(18).toString("base64url")}`
/** The index feed's token, new each run: the full nodes serve the feed with it, the redirector nodes send it. */
const feed =
  redirectorCount === 0
    ? {}
    : { MM_INDEX_FEED_TOKEN: process.env.MM_INDEX_FEED_TOKEN ?? `feed-${randomBytes(18).toString("base64url")}` }

const log = (line: string) => console.log(`[cluster] ${line}`)

interface Node {
  readonly name: string
  readonly url: string
  /** A full node's cluster runner port; none for a redirector node. */
  readonly runnerPort: number | undefined
  readonly env: NodeJS.ProcessEnv
  child: ChildProcess
  exited: Promise<void>
  /** Restarts in a row without staying up a minute, for the backoff. */
  restarts: number
}

const nodes: Array<Node> = []
let postgres: RunningPostgres | undefined
let stopping: Promise<void> | undefined
/** All nodes were ready once: from then on a node that dies is restarted. */
let started = false

/** Lines of a child's output, prefixed with its name. */
const relay = (name: string, stream: NodeJS.ReadableStream, to: NodeJS.WritableStream) => {
  let rest = ""
  stream.on("data", (chunk: Buffer) => {
    const lines = (rest + chunk.toString("utf8")).split("\n")
    rest = lines.pop() ?? ""
    for (const line of lines) to.write(`[${name}] ${line}\n`)
  })
}

/** Waits until the node is ready; false when it exited or the cluster stops first, or after 2 minutes. */
const becomeReady = async (node: Node, child: ChildProcess) => {
  const gone = () => stopping !== undefined || child.exitCode !== null || child.signalCode !== null
  if (await waitUntilReady(node.url, Date.now() + 120_000, { giveUp: gone })) return true
  if (!gone()) log(`${node.name} did not become ready within 2 minutes`)
  return false
}

/**
 * A node that dies after the cluster is up (a crash, kill -9) is reported and started again after 1 s, 2 s, 4 s, …
 * at most 30 s; the count starts over once it has stayed up a minute. The other nodes keep serving meanwhile: they
 * take over its hosts within seconds. A node that dies while the cluster starts stops the cluster (exit 1): that is
 * a configuration problem its own output explains (a port in use, …).
 */
const launch = (node: Node) => {
  const child = spawn(process.execPath, [...NODE_RUNTIME_FLAGS, MAIN, "serve"], {
    cwd: ROOT,
    env: withRuntimeEnv(node.env),
    stdio: ["ignore", "pipe", "pipe"]
  })
  relay(node.name, child.stdout!, process.stdout)
  relay(node.name, child.stderr!, process.stderr)
  node.child = child
  node.exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      resolve()
      if (stopping !== undefined) return
      const how = signal === null ? `with status ${code}` : `killed by ${signal}`
      if (!started) {
        log(`${node.name} exited ${how} while the cluster was starting`)
        return void stop(1)
      }
      const delay = Math.min(30_000, 1_000 * 2 ** node.restarts)
      node.restarts++
      log(`${node.name} exited ${how}; the other nodes keep serving; restarting it in ${delay / 1000} s`)
      setTimeout(() => {
        if (stopping !== undefined) return
        launch(node)
        void becomeReady(node, node.child).then((ok) => {
          if (!ok) return
          log(`${node.name} ready again: ${node.url} (pid ${node.child.pid})`)
          const again = node.child
          setTimeout(() => {
            if (node.child === again && again.exitCode === null) node.restarts = 0
          }, 60_000).unref()
        })
      }, delay)
    })
  )
}

const stop = (code: number) =>
  (stopping ??= (async () => {
    log("stopping the nodes")
    // Nodes run in our process group: after a Ctrl-C they got the terminal's SIGINT too, and take this SIGTERM
    // for the same request.
    for (const node of nodes)
      if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill("SIGTERM")
    await Promise.all(nodes.map((node) => node.exited))
    if (postgres !== undefined) {
      log("stopping PostgreSQL")
      await postgres.stop()
    }
    log(`stopped: ${nodes.length} nodes${postgres === undefined ? "" : " and PostgreSQL"}`)
    process.exit(code)
  })())

// The first Ctrl-C/SIGTERM stops the nodes then PostgreSQL within 10 s; a second one (or the 10 s passing) kills
// the nodes and PostgreSQL at once.
handleStopSignals({
  what: "the cluster",
  boundMs: SHUTDOWN_BOUND_MS + 1_000,
  onFirst: () => void stop(0),
  onForce: () => {
    for (const node of nodes) if (node.child.exitCode === null) node.child.kill("SIGKILL")
    log("stopped at once")
  },
  write: log
})

const main = async () => {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 })
  // As root, the embedded PostgreSQL runs as `postgres`, which must reach its directory.
  fs.chmodSync(dataDir, 0o755)
  let databaseUrl = process.env.DATABASE_URL
  if (databaseUrl === undefined) {
    const port = Number(process.env.CLUSTER_PG_PORT ?? 54339)
    postgres = await startEmbeddedPostgres({
      dataDir: path.join(dataDir, "postgres"),
      port,
      database: "mirrormanager",
      ownProcessGroup: true,
      dataDirSetting: "CLUSTER_DATA_DIR",
      portSetting: "CLUSTER_PG_PORT"
    })
    databaseUrl = postgres.url
    log(`PostgreSQL (embedded) on 127.0.0.1:${port}, data in ${path.join(dataDir, "postgres")}`)
  } else {
    log("PostgreSQL: DATABASE_URL")
  }
  // One after the other: the first one migrates the database, the next ones find it migrated.
  for (let i = 0; i < count; i++) {
    const name = `node-${i + 1}`
    const node: Node = {
      name,
      url: `http://127.0.0.1:${httpPorts[i]}`,
      runnerPort: runnerPorts[i]!,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        MM_ADMIN_TOKEN: token,
        MM_HTTP_HOST: "127.0.0.1",
        MM_HTTP_PORT: String(httpPorts[i]),
        MM_RUNNER_HOST: "127.0.0.1",
        MM_RUNNER_PORT: String(runnerPorts[i]),
        MM_DATA_DIR: path.join(dataDir, name),
        ...feed
      },
      child: undefined as unknown as ChildProcess,
      exited: Promise.resolve(),
      restarts: 0
    }
    nodes.push(node)
    launch(node)
    if (!(await becomeReady(node, node.child))) return void stop(1)
    log(`${name} ready: ${node.url} (cluster runner 127.0.0.1:${node.runnerPort}, pid ${node.child.pid})`)
  }
  // Redirector nodes after the full nodes: they take their index from the full nodes' feed, tried in turn, and open no
  // database connection (no DATABASE_URL).
  const feedUrls = nodes.map((node) => node.url).join(",")
  for (let i = 0; i < redirectorCount; i++) {
    const name = `redirector-${i + 1}`
    const { DATABASE_URL: _database, ...environment } = process.env
    const node: Node = {
      name,
      url: `http://127.0.0.1:${redirectorPorts[i]}`,
      runnerPort: undefined,
      env: {
        ...environment,
        ...feed,
        MM_ROLE: "redirector",
        MM_INDEX_FEED: feedUrls,
        MM_HTTP_HOST: "127.0.0.1",
        MM_HTTP_PORT: String(redirectorPorts[i]),
        MM_DATA_DIR: path.join(dataDir, name)
      },
      child: undefined as unknown as ChildProcess,
      exited: Promise.resolve(),
      restarts: 0
    }
    nodes.push(node)
    launch(node)
    if (!(await becomeReady(node, node.child))) return void stop(1)
    log(`${name} ready: ${node.url} (redirector only, fed by the full nodes, pid ${node.child.pid})`)
  }
  started = true
  const redirectors = redirectorCount === 0 ? "" : ` and ${redirectorCount} redirector nodes`
  log(`${count} nodes${redirectors} ready; admin token: ${token}`)
  for (const node of nodes) {
    log(
      `  ${node.name}  ${node.url}   ${node.runnerPort === undefined ? "(mirrorlists only)" : `(API: ${node.url}/docs)`}`
    )
  }
  log(
    `check-ins: POST <any full node>/xmlrpc; a node that dies is restarted; Ctrl-C stops everything${redirectorCount === 0 ? "" : ". Redirector nodes answer /mirrorlist, /metalink and redirects only, from the full nodes' index feed"}`
  )
}

main().catch((error: unknown) => {
  const message = error instanceof OperatorError ? error.message : error
  console.error("[cluster] failed:", message)
  void stop(1)
})
