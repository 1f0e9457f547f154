// Check-in benchmark (issue 5): 500 private hosts, each reporting a 2,000-directory tree, check in at once through a
// three-node cluster on one embedded PostgreSQL (any node accepts a check-in; the host's entity applies it wherever
// it lives). Prints check-ins/s, p50/p99 latency, and the time until every node's redirector serves every host.
// Requests are built as report_mirror builds them (Python's json, bz2, base64: test-support/checkin_wire.py).
// First, in this process, a burst of 100,000-directory bodies read by CheckinDecoder's workers and, for comparison,
// on the event loop, each with the event loop's largest delay meanwhile (issue 15: decoding is off the event loop).
// BENCH_CHECKIN_HOSTS=0 runs only that part.

import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { setImmediate as nextTurn } from "node:timers/promises"
import { countBits, databaseLayer, NO_BITS } from "@mirrormanager/actors/db"
import { directoryNumbersOf, type NumberedCategory } from "@mirrormanager/actors/numbering"
import { hashPassword } from "@mirrormanager/actors/registry"
import { type RunningPostgres, startEmbeddedPostgres } from "@mirrormanager/cluster-node/db"
import { freePort, NODE_RUNTIME_FLAGS, withRuntimeEnv } from "@mirrormanager/cluster-node/node"
import type { CategoryId } from "@mirrormanager/domain/registry"
import { CheckinDecoder, readCheckinCall } from "@mirrormanager/http/checkin"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"

const ROOT = path.resolve(import.meta.dirname, "..")
const MAIN = path.join(ROOT, "packages/cluster-node/src/main.ts")
const WIRE = path.join(ROOT, "test-support/checkin_wire.py")

const HOSTS = Number(process.env.BENCH_CHECKIN_HOSTS ?? 500)
const DIRECTORIES = Number(process.env.BENCH_CHECKIN_DIRECTORIES ?? 2_000)
const NODES = 3
const DECODES = Number(process.env.BENCH_CHECKIN_DECODES ?? 30)
const DECODE_DIRECTORIES = Number(process.env.BENCH_CHECKIN_DECODE_DIRECTORIES ?? 100_000)
const PASSWORD = "bench-site-password"
const TOPDIR = "pub/bench"

const line = (label: string, text: string) => console.log(`${`  ${label}`.padEnd(40)}${text}`)
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The category's directories: the top, 40 groups, and leaves below them (DIRECTORIES in all). */
const directoryNames = () => {
  const names = [TOPDIR]
  for (let i = 1; names.length < DIRECTORIES; i++) {
    const group = `${TOPDIR}/g${String(i % 40).padStart(2, "0")}`
    if (!names.includes(group)) names.push(group)
    else names.push(`${group}/d${String(i).padStart(5, "0")}`)
  }
  return names
}

/** One site per host, one private host per site, each with a /24 in 10.0.0.0/8 and one URL; no directories yet. */
const world = (names: ReadonlyArray<string>, passwordHash: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO products (name) VALUES ('Bench')`
    yield* sql`INSERT INTO directories (name) SELECT value FROM jsonb_array_elements_text(${JSON.stringify(names)}::jsonb)`
    yield* sql`INSERT INTO categories (name, product_id, topdir_id)
      SELECT 'Bench', p.id, d.id FROM products p, directories d WHERE p.name = 'Bench' AND d.name = ${TOPDIR}`
    yield* sql`INSERT INTO category_directories (category_id, directory_id) SELECT c.id, d.id FROM categories c, directories d`
    yield* sql`INSERT INTO sites (name, password_hash)
      SELECT 'site' || n, ${passwordHash} FROM generate_series(1, ${HOSTS}) n`
    yield* sql`INSERT INTO hosts (site_id, name, country, private)
      SELECT s.id, 'mirror.' || s.name || '.example', 'DE', true FROM sites s`
    yield* sql`INSERT INTO host_netblocks (host_id, netblock)
      SELECT h.id, '10.' || (h.id / 256) || '.' || (h.id % 256) || '.0/24' FROM hosts h`
    yield* sql`INSERT INTO host_categories (host_id, category_id) SELECT h.id, c.id FROM hosts h, categories c`
    yield* sql`INSERT INTO host_category_urls (host_category_id, url)
      SELECT hc.id, 'https://' || h.name || '/bench' FROM host_categories hc JOIN hosts h ON h.id = hc.host_id`
    return yield* sql<{ id: number; site: string; name: string }>`
      SELECT h.id, s.name AS site, h.name FROM hosts h JOIN sites s ON s.id = h.site_id ORDER BY h.id`
  })

interface Node {
  readonly url: string
  readonly child: ChildProcess
  readonly exited: Promise<unknown>
}

const startNode = async (env: NodeJS.ProcessEnv, log: string): Promise<Node> => {
  const http = await freePort()
  const out = fs.openSync(log, "a")
  const child = spawn(process.execPath, [...NODE_RUNTIME_FLAGS, MAIN, "serve"], {
    cwd: ROOT,
    env: withRuntimeEnv({
      ...env,
      MM_HTTP_HOST: "127.0.0.1",
      MM_HTTP_PORT: String(http),
      MM_RUNNER_PORT: String(await freePort())
    }),
    stdio: ["ignore", out, out],
    detached: true
  })
  fs.closeSync(out)
  const exited = new Promise((resolve) => child.once("exit", resolve))
  const url = `http://127.0.0.1:${http}`
  const deadline = Date.now() + 120_000
  for (;;) {
    const ready = await fetch(`${url}/healthz/ready`)
      .then(async (r) => ((await r.json()) as { status?: string }).status === "ready")
      .catch(() => false)
    if (ready) return { url, child, exited }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`a node did not start:\n${fs.readFileSync(log, "utf8").split("\n").slice(-20).join("\n")}`)
    }
    await sleep(200)
  }
}

/** The XML-RPC call report_mirror sends with a payload (as Python's xmlrpc.client lays it out). */
export const checkinCall = (payload: string) =>
  `<?xml version='1.0'?>\n<methodCall>\n<methodName>checkin</methodName>\n<params>\n<param>\n<value><string>${payload}</string></value>\n</param>\n</params>\n</methodCall>\n`

/** POSTs an XML-RPC body on a connection of its own; the reply's text ("" when the request failed). */
export const post = (url: string, body: string) =>
  new Promise<string>((resolve) => {
    const request = http.request(
      url,
      {
        method: "POST",
        agent: false,
        headers: { "content-type": "text/xml", "content-length": Buffer.byteLength(body) }
      },
      (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (text += chunk))
        response.on("end", () => resolve(text))
        response.on("error", () => resolve(""))
      }
    )
    request.on("error", (error) => resolve(`request failed: ${error.message}`))
    request.end(body)
  })

export const percentile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0

/** Runs `work` with the event loop's delay sampled every 10 ms; its largest delay in ms, and the time taken. */
const withLoopDelay = async (work: () => Promise<void>) => {
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const start = performance.now()
  await work()
  const ms = performance.now() - start
  delay.disable()
  return { ms, maxDelayMs: delay.max / 1e6, p99DelayMs: delay.percentile(99) / 1e6 }
}

/** DECODES bodies of DECODE_DIRECTORIES directories each, read at once by the workers, then one by one on the loop. */
const decodeBurst = async () => {
  const dirtree: Record<string, object> = { "": {} }
  for (let i = 1; i < DECODE_DIRECTORIES; i++) dirtree[`releases/${i % 40}/Everything/x86_64/os/Packages/d${i}`] = {}
  const config = {
    version: 0,
    global: { enabled: "1", server: "http://127.0.0.1/xmlrpc" },
    site: { enabled: "1", name: "site", password: PASSWORD },
    host: { enabled: "1", name: "mirror.example" },
    stats: {},
    bench: { enabled: "1", dirtree }
  }
  const [payload] = JSON.parse(
    spawnSync("python3", [WIRE, "payloads"], { input: JSON.stringify([config]), maxBuffer: 1024 ** 3 }).stdout.toString(
      "utf8"
    )
  ) as [string]
  const body = `<?xml version='1.0'?>\n<methodCall>\n<methodName>checkin</methodName>\n<params>\n<param>\n<value><string>${payload}</string></value>\n</param>\n</params>\n</methodCall>\n`
  // The category's directories as a node numbers them: every path of the bodies.
  const paths = Object.keys(dirtree)
  const numbers: ReadonlyArray<NumberedCategory> = [
    {
      categoryId: 1 as CategoryId,
      key: "bench",
      version: "1",
      numbers: directoryNumbersOf(
        paths,
        paths.map((_, i) => i)
      )
    }
  ]
  line(
    "decoding: bodies",
    `${DECODES} of ${DECODE_DIRECTORIES} directories, ${(body.length / 1024).toFixed(1)} KiB each`
  )
  const workers = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const decoder = yield* CheckinDecoder
        let read = 0
        const burst = yield* Effect.promise(() =>
          withLoopDelay(() =>
            Effect.runPromise(
              Effect.forEach(
                Array.from({ length: DECODES }, () => body),
                (each) =>
                  Effect.map(decoder.decode(each, numbers), (decoded) => {
                    if (decoded._tag === "Report")
                      read += countBits(decoded.report.sections[0]?.category?.directories ?? NO_BITS)
                  }),
                { concurrency: "unbounded", discard: true }
              )
            )
          )
        )
        return { ...burst, read, stats: decoder.stats() }
      }).pipe(Effect.provide(CheckinDecoder.layer()))
    )
  )
  line(
    "decoding on workers",
    `${seconds(workers.ms)} (${workers.stats.workers} workers, ${workers.read} directories read); event-loop delay max ${workers.maxDelayMs.toFixed(1)} ms, p99 ${workers.p99DelayMs.toFixed(1)} ms (target max <= 50 ms)`
  )
  // The same measure with nothing to do: what the machine's other work alone costs the event loop.
  const idle = await withLoopDelay(async () => {
    await sleep(5_000)
  })
  line(
    "event loop idle for 5 s",
    `event-loop delay max ${idle.maxDelayMs.toFixed(1)} ms, p99 ${idle.p99DelayMs.toFixed(1)} ms`
  )
  const onLoop = await withLoopDelay(async () => {
    for (let i = 0; i < Math.min(DECODES, 5); i++) {
      readCheckinCall(body)
      await nextTurn()
    }
  })
  line(
    "decoding on the event loop",
    `${seconds(onLoop.ms / Math.min(DECODES, 5))} each; event-loop delay max ${onLoop.maxDelayMs.toFixed(1)} ms (for comparison)`
  )
}

export const run = async () => {
  await decodeBurst()
  if (HOSTS === 0) return
  const began = performance.now()
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), "mm-bench-checkin-"))
  fs.chmodSync(temp, 0o755)
  let postgres: RunningPostgres | undefined
  const nodes: Array<Node> = []
  try {
    postgres = await startEmbeddedPostgres({
      dataDir: path.join(temp, "postgres"),
      port: await freePort(),
      database: "mirrormanager_bench"
    })
    const names = directoryNames()
    let start = performance.now()
    const hosts = await Effect.runPromise(
      Effect.gen(function* () {
        return yield* world(names, yield* hashPassword(PASSWORD))
      }).pipe(Effect.provide(databaseLayer(Redacted.make(postgres.url), { maxConnections: 2 })))
    )
    line("world", `${seconds(performance.now() - start)}   ${hosts.length} private hosts, ${names.length} directories`)

    start = performance.now()
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith("MM_") && key !== "DATABASE_URL")
    )
    Object.assign(env, {
      DATABASE_URL: postgres.url,
      MM_ADMIN_TOKEN: "mm_bench-checkin-admin-token",
      MM_LOG_LEVEL: "Warn",
      MM_SCAN_INTERVAL: "0 seconds",
      MM_ACCESS_LOG: "off"
    })
    for (let i = 0; i < NODES; i++) {
      nodes.push(
        await startNode({ ...env, MM_DATA_DIR: path.join(temp, `node-${i + 1}`) }, path.join(temp, `node-${i + 1}.log`))
      )
    }
    line("three nodes started", seconds(performance.now() - start))

    // Every host reports the whole tree, as report_mirror would after its rsync.
    start = performance.now()
    const dirtree = Object.fromEntries(names.map((name) => [name === TOPDIR ? "" : name.slice(TOPDIR.length + 1), {}]))
    const configs = hosts.map((host) => ({
      version: 0,
      global: { enabled: "1", server: "http://127.0.0.1/xmlrpc" },
      site: { enabled: "1", name: host.site, password: PASSWORD },
      host: { enabled: "1", name: host.name },
      stats: {},
      bench: { enabled: "1", dirtree }
    }))
    const payloads = JSON.parse(
      spawnSync("python3", [WIRE, "payloads"], {
        input: JSON.stringify(configs),
        maxBuffer: 1024 ** 3
      }).stdout.toString("utf8")
    ) as ReadonlyArray<string>
    const bodies = payloads.map(checkinCall)
    line(
      "payloads built (python3)",
      `${seconds(performance.now() - start)}   ${(bodies.reduce((n, b) => n + b.length, 0) / bodies.length / 1024).toFixed(1)} KiB each`
    )

    // All at once, spread over the three nodes.
    const latencies: Array<number> = []
    const replies: Record<string, number> = {}
    start = performance.now()
    await Promise.all(
      bodies.map(async (body, i) => {
        const sent = performance.now()
        // A connection per check-in, as report_mirror (a new process each time) makes one.
        const text = await post(`${nodes[i % NODES]!.url}/xmlrpc`, body)
        latencies.push(performance.now() - sent)
        const result = /checked in successful/.test(text) ? "checked in successful" : text.slice(0, 200)
        replies[result] = (replies[result] ?? 0) + 1
      })
    )
    const allMs = performance.now() - start
    latencies.sort((a, b) => a - b)
    line("check-ins", `${hosts.length} in ${seconds(allMs)}: ${(hosts.length / (allMs / 1000)).toFixed(1)} check-ins/s`)
    line(
      "latency",
      `p50 ${seconds(percentile(latencies, 0.5))}, p99 ${seconds(percentile(latencies, 0.99))}, max ${seconds(latencies.at(-1) ?? 0)}`
    )
    line("replies", JSON.stringify(replies))

    // Until every node lists every host for a client in its netblock.
    const probe = `${names.at(-1)}`
    const pending = new Set(nodes.flatMap((node) => hosts.map((host) => `${node.url} ${host.id} ${host.name}`)))
    while (pending.size > 0 && performance.now() - start < 300_000) {
      await Promise.all(
        [...pending].slice(0, 300).map(async (key) => {
          const [url, id, name] = key.split(" ") as [string, string, string]
          const ip = `10.${Math.floor(Number(id) / 256)}.${Number(id) % 256}.7`
          const text = await fetch(`${url}/mirrorlist?path=${probe}&ip=${ip}`)
            .then((r) => r.text())
            .catch(() => "")
          if (text.includes(`https://${name}/bench/`)) pending.delete(key)
        })
      )
      if (pending.size > 0) await sleep(50)
    }
    line(
      "every node serves every host",
      pending.size === 0
        ? `${seconds(performance.now() - start)} after the first check-in was sent`
        : `NOT within 300 s: ${pending.size} (node, host) pairs missing`
    )
  } finally {
    for (const node of nodes) node.child.kill("SIGTERM")
    await Promise.all(nodes.map((node) => node.exited))
    await postgres?.stop()
    fs.rmSync(temp, { recursive: true, force: true })
    line("whole run", seconds(performance.now() - began))
  }
}
