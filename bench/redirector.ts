// Redirector benchmark (docs/operations.md#performance-targets): a generated world of 2,000 hosts, 2,000 repo/arch
// pairs and 20,000 netblocks in an embedded PostgreSQL, served by a real node (`mirrormanager serve`, its own process)
// and loaded by autocannon (its own process) with /mirrorlist and /metalink requests spread over repositories and
// client addresses (`ip=`). Beside it, in the same run, a bare node:http server answering each request with the bytes
// the node answered it with. Prints requests/s, latencies, the ratio to the baseline, p99 at half the measured maximum rate, the
// index build time and the node's resident memory, and one verdict line per target. A second node, the same but for
// MM_ACCESS_STATS=off, is loaded in the same rounds: the access statistics' cost is the ratio of the two (and, apart
// from the noise of a shared machine, what counting one request costs, timed alone in this process). A missed
// target is reported, not fatal; a node that cannot start (or does not serve the redirector) fails the run.

import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { databaseLayer } from "@mirrormanager/actors/db"
import { AccessCounter } from "@mirrormanager/actors/statistics"
import { pseudoRandom } from "@mirrormanager/actors/testing"
import { type RunningPostgres, startEmbeddedPostgres } from "@mirrormanager/cluster-node/db"
import { freePort, NODE_RUNTIME_FLAGS, withRuntimeEnv } from "@mirrormanager/cluster-node/node"
import { Cause, Effect, Exit, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import type { LoadConfig, LoadResult } from "./redirectorLoad.ts"
import {
  generateWorld,
  IPV4_FIRST_OCTETS,
  IPV6_FIRST_GROUPS,
  NETBLOCK_COUNTRIES,
  type RepoTarget,
  requestMaterial
} from "./redirectorWorld.ts"

const ROOT = path.resolve(import.meta.dirname, "..")
const CONFIG_SOURCE = path.join(ROOT, "packages/cluster-node/src/node/Config.ts")

const CONNECTIONS = 50
const WARMUP_SECONDS = 2
/** Length of the autocannon half-rate run (BENCH_REDIRECTOR_SECONDS); the full-speed rounds take half of it. */
const SECONDS = Number(process.env.BENCH_REDIRECTOR_SECONDS) > 0 ? Number(process.env.BENCH_REDIRECTOR_SECONDS) : 10
const PACED_SECONDS = Math.max(1, Math.round(SECONDS / 2))
/**
 * Full speed is measured in rounds, node then baseline, each round `ROUND_SECONDS` long; the verdict takes the
 * median round's ratio. On a shared two-core machine both figures drift by a fifth or more from one run to the
 * next: the ratio of runs taken side by side drifts much less.
 */
const ROUNDS = Number(process.env.BENCH_REDIRECTOR_ROUNDS) > 0 ? Number(process.env.BENCH_REDIRECTOR_ROUNDS) : 3
const ROUND_SECONDS = Math.max(1, Math.round(SECONDS / 2))
/** Distinct requests per endpoint (repo/arch/client address), shared out among the connections. */
const REQUESTS = 4_000
const ADMIN_TOKEN = "mm_bench-redirector-admin"

const TARGET_MIRRORLIST_RATIO = 0.5
const TARGET_METALINK_RATIO = 0.35
const TARGET_P99_MS = 10
const TARGET_INDEX_SECONDS = 5
const TARGET_RSS_BYTES = 1024 ** 3
/** Counting requests for the access statistics must not cost measurable throughput: within the rounds' noise. */
const TARGET_COUNTERS_RATIO = 0.95
/** ...and counting a request costs a small share of what answering it costs, measured alone (not drowned in noise). */
const TARGET_COUNTER_SHARE = 0.02

const ALL_ENDPOINTS = ["mirrorlist", "metalink"] as const
export type Endpoint = (typeof ALL_ENDPOINTS)[number]
/** BENCH_REDIRECTOR_ENDPOINTS=metalink measures one endpoint only (for profiling); verdicts then cover that one. */
const ENDPOINTS = ALL_ENDPOINTS.filter((endpoint) =>
  (process.env.BENCH_REDIRECTOR_ENDPOINTS ?? ALL_ENDPOINTS.join(",")).split(",").includes(endpoint)
)
/** BENCH_REDIRECTOR_FULL_SPEED_ONLY=1 skips the half-rate runs (for profiling the node at full speed). */
const FULL_SPEED_ONLY = process.env.BENCH_REDIRECTOR_FULL_SPEED_ONLY === "1"

// ---------------------------------------------------------------------------------------------------------------
// Printing

export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`
export const thousands = (n: number) => Math.round(n).toLocaleString("en-US")
export const pad = (label: string) => `  ${label}`.padEnd(40)
export const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MB`
export const ms = (value: number) => `${value.toFixed(2)} ms`
/** A share of one core as a percentage ("95 %"), "?" where it could not be measured. */
export const cores = (value: number) => (Number.isNaN(value) ? "?" : `${(value * 100).toFixed(0)} %`)
export const line = (label: string, text: string) => console.log(`${pad(label)}${text}`)
export const verdict = (label: string, met: boolean, text: string) =>
  console.log(`  ${met ? "met    " : "NOT met"}  ${label.padEnd(44)}${text}`)

// ---------------------------------------------------------------------------------------------------------------
// Requests

interface RequestMix {
  /** Query strings (`repo=…&arch=…&ip=…`), the same for both endpoints. */
  readonly queries: ReadonlyArray<string>
  readonly kinds: Readonly<Record<string, number>>
}

/**
 * Repositories drawn in proportion to how many hosts carry their category (popular content is asked for more), 2 %
 * by a redirected (end-of-life) name; clients: 50 % random public IPv4, 20 % inside a host netblock, 15 % random
 * IPv6, 10 % inside a netblock country, 5 % IPv4-mapped IPv6.
 */
export const requestMix = (
  repos: ReadonlyArray<RepoTarget>,
  netblocks: ReadonlyArray<string>,
  redirected: ReadonlyArray<string>
): RequestMix => {
  const rand = pseudoRandom(20_261_125)
  const pick = <A>(items: ReadonlyArray<A>) => items[Math.floor(rand() * items.length)]!
  const byte = () => Math.floor(rand() * 256)
  const host = () => 1 + Math.floor(rand() * 254)
  const group = () => (1 + Math.floor(rand() * 65535)).toString(16)
  const publicV4 = () => `${pick(IPV4_FIRST_OCTETS)}.${byte()}.${byte()}.${host()}`
  const insideV4 = (cidr: string, prefix: number) => {
    const octets = cidr.split("/")[0]!.split(".")
    const keep = prefix / 8
    return octets.map((octet, i) => (i < keep ? octet : i === 3 ? String(host()) : String(byte()))).join(".")
  }
  const insideV6 = (cidr: string) => {
    const [address, prefix] = cidr.split("/") as [string, string]
    const groups = address.replace(/::$/, "").split(":")
    const fixed = Number(prefix) / 16
    while (groups.length < fixed) groups.push("0")
    return `${groups.slice(0, fixed).join(":")}:${group()}::${group()}`
  }
  const inside = (cidr: string) => (cidr.includes(":") ? insideV6(cidr) : insideV4(cidr, Number(cidr.split("/")[1])))
  const cumulative: Array<number> = []
  let total = 0
  for (const repo of repos) {
    total += repo.carriers + 1
    cumulative.push(total)
  }
  const drawRepo = () => {
    const x = rand() * total
    let lo = 0
    let hi = cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cumulative[mid]! > x) hi = mid
      else lo = mid + 1
    }
    return repos[lo]!
  }
  const kinds: Record<string, number> = {}
  const queries: Array<string> = []
  for (let i = 0; i < REQUESTS; i++) {
    const repo = drawRepo()
    const r = rand()
    const [kind, ip] =
      r < 0.5
        ? ["public IPv4", publicV4()]
        : r < 0.7
          ? ["in a host netblock", inside(pick(netblocks))]
          : r < 0.85
            ? ["public IPv6", `${pick(IPV6_FIRST_GROUPS)}:${group()}:${group()}:${group()}::${group()}`]
            : r < 0.95
              ? ["in a netblock country", inside(pick(NETBLOCK_COUNTRIES)[0])]
              : ["IPv4-mapped IPv6", `::ffff:${publicV4()}`]
    kinds[kind] = (kinds[kind] ?? 0) + 1
    const prefix = rand() < 0.02 && redirected.length > 0 ? pick(redirected) : repo.prefix
    queries.push(`repo=${encodeURIComponent(prefix)}&arch=${encodeURIComponent(repo.arch)}&ip=${ip}`)
  }
  return { queries, kinds }
}

/**
 * What counting one request costs, in this process: nanoseconds per `AccessCounter.record` over the mix's queries,
 * each request's repo and arch fresh strings (sliced from its query, as the node's are), so every lookup hashes anew.
 */
export const accessCounterCost = (queries: ReadonlyArray<string>): number => {
  const countries = ["DE", "US", "FR", "SE", "BR", "JP", "CN", "IN", undefined]
  const counter = new AccessCounter(true)
  const round = (n: number) => {
    for (let i = 0; i < n; i++) {
      const query = queries[i % queries.length]!
      const repoAt = query.indexOf("repo=") + 5
      const repoEnd = query.indexOf("&", repoAt)
      const archAt = query.indexOf("arch=", repoEnd) + 5
      const archEnd = query.indexOf("&", archAt)
      counter.record(Date.now(), {
        endpoint: i % 2 === 0 ? "mirrorlist" : "metalink",
        status: 200,
        log: {
          country: countries[i % countries.length],
          repo: query.slice(repoAt, repoEnd),
          arch: query.slice(archAt, archEnd < 0 ? undefined : archEnd),
          countme: i % 7 === 0 ? "2" : undefined
        }
      })
    }
  }
  round(200_000)
  const n = 2_000_000
  const began = process.hrtime.bigint()
  round(n)
  const ns = Number(process.hrtime.bigint() - began) / n
  // The batch is taken as the flusher takes it: what counting kept is what was asked.
  if (counter.takeBatch() === undefined) throw new Error("the access counter counted nothing")
  return ns
}

// ---------------------------------------------------------------------------------------------------------------
// Processes

export interface Spawned {
  readonly child: ChildProcess
  readonly logFile: string
  readonly exited: Promise<number | null>
}

export const children = new Set<ChildProcess>()

/** A child in its own process group (a Ctrl-C reaches only this process, which stops the children in order). */
export const spawnChild = (
  args: ReadonlyArray<string>,
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
  /** A channel to the child (`child.on("message")`), for children that report as they run. */
  ipc = false
): Spawned => {
  const log = fs.openSync(logFile, "a")
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ipc ? ["ignore", log, log, "ipc"] : ["ignore", log, log],
    detached: true
  })
  fs.closeSync(log)
  children.add(child)
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code, signal) => {
      children.delete(child)
      resolve(code ?? (signal === null ? null : 128))
    })
  )
  return { child, logFile, exited }
}

export const stopChild = async (spawned: Spawned | undefined, graceMs = 10_000) => {
  if (spawned === undefined || spawned.child.exitCode !== null || spawned.child.signalCode !== null) return
  spawned.child.kill("SIGTERM")
  const timer = setTimeout(() => spawned.child.kill("SIGKILL"), graceMs)
  await spawned.exited
  clearTimeout(timer)
}

// If this process dies without cleaning up, its children must not outlive it.
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL")
})

export const tail = (file: string, lines = 30) => {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
  } catch {
    return "(no log)"
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * On Ctrl-C or SIGTERM: says what it does, runs `cleanup`, and exits with 130. Returns what forgets the signals (the
 * run cleans up itself at its end).
 */
export const cleanUpOnSignal = (doing: string, cleanup: () => Promise<unknown>) => {
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: ${doing}`)
    void cleanup().finally(() => process.exit(130))
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  return () => {
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
  }
}

/**
 * A bare node:http server answering each probed path with the node's own answer to it (the throughput baseline): the
 * same bytes, so that the ratio is the node's work beside the cost of sending what it sends.
 */
export const startBaseline = async (temp: string, answers: ReadonlyArray<ReadonlyMap<string, Buffer>>) => {
  const answersFile = path.join(temp, "baseline.answers")
  const records: Array<Buffer> = []
  for (const each of answers) {
    for (const [requestPath, body] of each) {
      const pathBytes = Buffer.from(requestPath, "utf8")
      const head = Buffer.alloc(4)
      head.writeUInt32BE(pathBytes.length)
      const length = Buffer.alloc(4)
      length.writeUInt32BE(body.length)
      records.push(head, pathBytes, length, body)
    }
  }
  fs.writeFileSync(answersFile, Buffer.concat(records))
  const port = await freePort()
  const spawned = spawnChild([baselineScript, String(port), answersFile], path.join(temp, "baseline.log"))
  await waitFor("baseline listening", spawned, 10_000, async () =>
    fs.readFileSync(spawned.logFile, "utf8").includes("listening") ? true : undefined
  )
  return { spawned, origin: `http://127.0.0.1:${port}` }
}

/** How many CPUs were busy, on average, over one second (Linux /proc/stat; NaN elsewhere). */
export const machineBusy = async () => {
  const sample = () => {
    try {
      const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
      const idle = fields[3]! + fields[4]! // idle + iowait
      return { idle, total: fields.reduce((sum, value) => sum + value, 0) }
    } catch {
      return { idle: Number.NaN, total: Number.NaN }
    }
  }
  const before = sample()
  await sleep(1000)
  const after = sample()
  const total = after.total - before.total
  return ((total - (after.idle - before.idle)) / total) * os.availableParallelism()
}

/** An answer that waiting longer will not change. */
export class Fatal extends Error {}

/**
 * Polls `probe` every 100 ms until it returns a value; fails when it throws `Fatal`, when the process exits or after
 * `timeoutMs` (other errors, such as a refused connection, mean "not yet").
 */
export const waitFor = async <A>(
  what: string,
  spawned: Spawned,
  timeoutMs: number,
  probe: () => Promise<A | undefined>
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  let exitCode: number | null | undefined
  void spawned.exited.then((code) => {
    exitCode = code
  })
  for (;;) {
    const value = await probe().catch((error: unknown) => {
      if (error instanceof Fatal) throw error
      return undefined
    })
    if (value !== undefined) return value
    if (exitCode !== undefined) {
      throw new Error(`the process exited (${exitCode}) before ${what}; its log:\n${tail(spawned.logFile)}`)
    }
    if (Date.now() > deadline) {
      throw new Error(`no ${what} within ${timeoutMs / 1000} s; the log:\n${tail(spawned.logFile)}`)
    }
    await sleep(100)
  }
}

export const get = (url: string) => fetch(url, { signal: AbortSignal.timeout(10_000) })

export const parseMetrics = (text: string) => {
  const metrics = new Map<string, number>()
  for (const row of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(row)
    if (match === null) continue
    // A series by its name with its labels, and the first of its name by the name alone.
    if (match[2] !== undefined) metrics.set(`${match[1]!}${match[2]}`, Number(match[3]))
    if (!metrics.has(match[1]!)) metrics.set(match[1]!, Number(match[3]))
  }
  return metrics
}

/** VmRSS and VmHWM (peak) of a process, in bytes, from /proc. */
export const procMemory = (pid: number | undefined) => {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN)
    return { rss: kb("VmRSS") * 1024, peak: kb("VmHWM") * 1024 }
  } catch {
    return { rss: Number.NaN, peak: Number.NaN }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Probing the node's answers: status codes, sizes, which selection paths the requests took

export interface Probe {
  readonly statuses: Readonly<Record<string, number>>
  readonly contentType: string
  /** Each path asked (`/endpoint?query`) and the body it was answered with (200s only): what the baseline serves. */
  readonly answers: ReadonlyMap<string, Buffer>
  readonly sizes: { readonly p10: number; readonly p50: number; readonly p90: number; readonly mean: number }
  readonly urls: { readonly p50: number; readonly max: number }
  readonly headerTokens: Readonly<Record<string, number>>
  readonly ms: number
}

export const probe = async (origin: string, endpoint: Endpoint, queries: ReadonlyArray<string>): Promise<Probe> => {
  const began = performance.now()
  const statuses: Record<string, number> = {}
  const bodies: Array<Buffer> = []
  const answers = new Map<string, Buffer>()
  const urlCounts: Array<number> = []
  const headerTokens: Record<string, number> = {}
  let contentType = ""
  let next = 0
  const worker = async () => {
    while (next < queries.length) {
      const query = queries[next++]!
      const response = await get(`${origin}/${endpoint}?${query}`)
      const body = Buffer.from(await response.arrayBuffer())
      statuses[response.status] = (statuses[response.status] ?? 0) + 1
      if (response.status !== 200) continue
      answers.set(`/${endpoint}?${query}`, body)
      contentType = response.headers.get("content-type") ?? contentType
      bodies.push(body)
      const text = body.toString("utf8")
      if (endpoint === "mirrorlist") {
        const header = text.slice(0, text.indexOf("\n"))
        urlCounts.push(text.split("\n").filter((row) => row.length > 0 && !row.startsWith("#")).length)
        for (const [token, pattern] of [
          ["netblock", /Using preferred netblock/],
          ["ASN", /Using ASN/],
          ["country = global", /country = global/]
        ] as const) {
          if (pattern.test(header)) headerTokens[token] = (headerTokens[token] ?? 0) + 1
        }
      } else {
        urlCounts.push(text.split("<url ").length - 1)
        if (text.includes('mm0:private="True"')) headerTokens["private URLs"] = (headerTokens["private URLs"] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  if (bodies.length === 0) {
    throw new Error(`no /${endpoint} request answered 200: ${JSON.stringify(statuses)}`)
  }
  bodies.sort((a, b) => a.length - b.length)
  urlCounts.sort((a, b) => a - b)
  const at = <A>(items: ReadonlyArray<A>, q: number) => items[Math.min(items.length - 1, Math.floor(q * items.length))]!
  return {
    statuses,
    contentType,
    answers,
    sizes: {
      p10: at(bodies, 0.1).length,
      p50: at(bodies, 0.5).length,
      p90: at(bodies, 0.9).length,
      mean: bodies.reduce((sum, body) => sum + body.length, 0) / bodies.length
    },
    urls: { p50: at(urlCounts, 0.5), max: urlCounts[urlCounts.length - 1]! },
    headerTokens,
    ms: performance.now() - began
  }
}

/**
 * Every request once more, one at a time over one keep-alive connection: the node's time per answer without load
 * (client and loopback included), and the slowest request.
 */
export const oneByOne = async (origin: string, endpoint: Endpoint, queries: ReadonlyArray<string>) => {
  const url = new URL(origin)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const times: Array<{ readonly ms: number; readonly query: string; readonly bytes: number }> = []
  try {
    for (const query of queries) {
      const began = performance.now()
      const bytes = await new Promise<number>((resolve, reject) => {
        http
          .get({ agent, host: url.hostname, port: url.port, path: `/${endpoint}?${query}` }, (response) => {
            let size = 0
            response.on("data", (chunk: Buffer) => {
              size += chunk.length
            })
            response.on("end", () => resolve(size))
            response.on("error", reject)
          })
          .on("error", reject)
      })
      times.push({ ms: performance.now() - began, query, bytes })
    }
  } finally {
    agent.destroy()
  }
  const sorted = times.toSorted((a, b) => a.ms - b.ms)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.ms
  return { p50: at(0.5), p99: at(0.99), slowest: sorted[sorted.length - 1]! }
}

// ---------------------------------------------------------------------------------------------------------------
// Load

const loadScript = path.join(import.meta.dirname, "redirectorLoad.ts")
export const baselineScript = path.join(import.meta.dirname, "redirectorBaseline.ts")

export const load = async (temp: string, label: string, config: LoadConfig): Promise<LoadResult> => {
  const file = path.join(temp, `load-${label.replace(/[^a-z0-9]+/gi, "-")}.json`)
  fs.writeFileSync(file, JSON.stringify(config))
  const log = `${file}.log`
  const output = `${file}.out`
  const out = fs.openSync(output, "w")
  const errors = fs.openSync(log, "w")
  const child = spawn(process.execPath, [loadScript, file], {
    cwd: ROOT,
    stdio: ["ignore", out, errors],
    detached: true
  })
  fs.closeSync(out)
  fs.closeSync(errors)
  children.add(child)
  const code = await new Promise<number | null>((resolve) =>
    child.once("exit", (exitCode) => {
      children.delete(child)
      resolve(exitCode)
    })
  )
  if (code !== 0) throw new Error(`load generator (${label}) exited ${code}:\n${tail(log)}`)
  return JSON.parse(fs.readFileSync(output, "utf8")) as LoadResult
}

/** A node that died under load fails the run, with the end of its log. */
export const assertRunning = (spawned: Spawned, what: string) => {
  const { exitCode, signalCode } = spawned.child
  if (exitCode !== null || signalCode !== null) {
    throw new Error(`the node exited (${exitCode ?? signalCode}) during ${what}; its log:\n${tail(spawned.logFile)}`)
  }
}

export const describeLoad = (result: LoadResult) => {
  const bad = Object.entries(result.statusCounts).filter(([status]) => !status.startsWith("2"))
  const problems = [
    ...bad.map(([status, count]) => `${thousands(count)} × ${status}`),
    ...(result.errors > 0 ? [`${thousands(result.errors)} errors`] : []),
    ...(result.timeouts > 0 ? [`${thousands(result.timeouts)} timeouts`] : [])
  ]
  return (
    `${thousands(result.requestsPerSecond).padStart(7)} req/s   p50 ${ms(result.latencyMs.p50).padStart(9)}   ` +
    `p99 ${ms(result.latencyMs.p99).padStart(9)}   max ${ms(result.latencyMs.max).padStart(10)}   CPU ` +
    `${cores(result.cpu.server)} server, ${cores(result.cpu.loadGenerator)} load` +
    (problems.length > 0 ? `   (${problems.join(", ")})` : "")
  )
}

interface EndpointFigures {
  readonly node: LoadResult
  readonly baseline: LoadResult
  readonly halfRate: number
  /** Undefined with BENCH_REDIRECTOR_FULL_SPEED_ONLY=1. */
  readonly halfRuns:
    | { readonly nodeAtHalf: LoadResult; readonly nodePaced: LoadResult; readonly baselinePaced: LoadResult }
    | undefined
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * A benchmark node's environment: this process's, without its MM_ settings and DATABASE_URL, plus a node on `port`
 * of 127.0.0.1 over `databaseUrl`, quiet logs and no master scans.
 */
export const benchNodeEnv = async (options: {
  readonly databaseUrl: string
  readonly port: number
  readonly dataDir: string
  readonly adminToken: string
}): Promise<NodeJS.ProcessEnv> => ({
  ...Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("MM_") && key !== "DATABASE_URL")
  ),
  DATABASE_URL: options.databaseUrl,
  MM_HTTP_HOST: "127.0.0.1",
  MM_HTTP_PORT: String(options.port),
  MM_RUNNER_PORT: String(await freePort()),
  MM_DATA_DIR: options.dataDir,
  MM_ADMIN_TOKEN: options.adminToken,
  MM_LOG_LEVEL: "Warn",
  MM_SCAN_INTERVAL: "0 seconds"
})

export const run = async () => {
  const began = performance.now()
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), "mm-bench-redirector-"))
  // As root, the embedded PostgreSQL runs as the `postgres` user, which must reach its data directory below this.
  fs.chmodSync(temp, 0o755)
  let postgres: RunningPostgres | undefined
  let node: Spawned | undefined
  /** The same node with MM_ACCESS_STATS=off. */
  let nodeOff: Spawned | undefined
  let baseline: Spawned | undefined
  let cleaned: Promise<void> | undefined
  // e.g. BENCH_REDIRECTOR_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/profiles" to profile the node under load.
  const nodeArgs = (process.env.BENCH_REDIRECTOR_NODE_ARGS ?? "").split(/\s+/).filter((arg) => arg.length > 0)
  const cleanup = () =>
    (cleaned ??= (async () => {
      for (const child of children) {
        if (child !== node?.child && child !== nodeOff?.child && child !== baseline?.child) child.kill("SIGKILL")
      }
      await stopChild(baseline, 2_000)
      await stopChild(nodeOff)
      await stopChild(node)
      if (postgres !== undefined) await postgres.stop().catch((error) => console.error("stopping PostgreSQL:", error))
      if (nodeArgs.length > 0 && node !== undefined) {
        // Node flags such as --trace-gc write to the node's log: keep it.
        const kept = path.join(os.tmpdir(), "mm-bench-redirector-node.log")
        try {
          fs.copyFileSync(node.logFile, kept)
          console.log(`${pad("node log kept")}${kept}`)
        } catch (error) {
          console.error("keeping the node's log:", error)
        }
      }
      fs.rmSync(temp, { recursive: true, force: true })
    })())
  const forgetSignals = cleanUpOnSignal(`stopping the node and PostgreSQL, removing ${temp}`, cleanup)

  try {
    // 1. The world, straight into a fresh, migrated database.
    let start = performance.now()
    postgres = await startEmbeddedPostgres({
      dataDir: path.join(temp, "postgres"),
      port: await freePort(),
      database: "mirrormanager_bench"
    })
    line("embedded PostgreSQL started", seconds(performance.now() - start).padStart(9))
    const packageDirectories = process.env.BENCH_REDIRECTOR_PACKAGES === "1"
    start = performance.now()
    const exit = await Effect.runPromiseExit(
      Effect.gen(function* () {
        const migratedAt = performance.now()
        const counts = yield* generateWorld({ packageDirectories })
        const material = yield* requestMaterial
        return { counts, material, migrateMs: migratedAt - start }
      }).pipe(Effect.provide(databaseLayer(Redacted.make(postgres.url), { maxConnections: 2 })))
    )
    if (Exit.isFailure(exit)) throw new Error(`generating the world failed:\n${Cause.pretty(exit.cause)}`)
    const { counts, material, migrateMs } = exit.value
    const generateMs = performance.now() - start - migrateMs
    line(
      "generated world (SQL)",
      `${seconds(generateMs).padStart(9)}   after ${seconds(migrateMs)} of migrations` +
        (packageDirectories ? " (BENCH_REDIRECTOR_PACKAGES=1: with Packages/ directories)" : "")
    )
    console.log(
      `${pad("")}  ${Object.entries(counts)
        .map(([table, count]) => `${table} ${thousands(count)}`)
        .join(", ")}`
    )

    // 2. The node, its own process, on the generated database.
    const configSource = fs.readFileSync(CONFIG_SOURCE, "utf8")
    const port = await freePort()
    const origin = `http://127.0.0.1:${port}`
    const env = await benchNodeEnv({
      databaseUrl: postgres.url,
      port,
      dataDir: path.join(temp, "node"),
      adminToken: ADMIN_TOKEN
    })
    Object.assign(env, {
      // Two runners would share the crawl work unevenly: neither node crawls during the measurement.
      MM_CRAWL_INTERVAL: "0 seconds",
      MM_CRAWL_REPODATA_INTERVAL: "0 seconds",
      MM_CRAWL_CANARY_INTERVAL: "0 seconds",
      // BENCH_REDIRECTOR_ACCESS_STATS=off: both nodes without counters, a control of how far two alike nodes differ.
      MM_ACCESS_STATS: process.env.BENCH_REDIRECTOR_ACCESS_STATS === "off" ? "off" : "on"
    })
    // Settings that only some versions of the node have.
    const optional = { MM_ACCESS_LOG: "off" }
    for (const [key, value] of Object.entries(optional)) if (configSource.includes(`"${key}"`)) env[key] = value
    start = performance.now()
    node = spawnChild(
      [...NODE_RUNTIME_FLAGS, ...nodeArgs, "packages/cluster-node/src/main.ts", "serve"],
      path.join(temp, "node.log"),
      withRuntimeEnv(env)
    )
    await waitFor("/healthz/ready answered 200", node, 90_000, async () =>
      (await get(`${origin}/healthz/ready`)).status === 200 ? true : undefined
    )
    const readyMs = performance.now() - start
    const [first] = material.repos
    if (first === undefined) throw new Error("the world has no repositories")
    const sample = `${origin}/metalink?repo=${first.prefix}&arch=${first.arch}`
    let metrics = await waitFor(
      "index (mm_index_ready 1 in /metrics, or /metalink answering)",
      node,
      120_000,
      async () => {
        const response = await get(`${origin}/metrics`)
        if (response.status === 200) {
          const parsed = parseMetrics(await response.text())
          if (parsed.get("mm_index_ready") === 1) return parsed
          if (parsed.has("mm_index_ready")) return undefined
        }
        const redirector = await get(sample)
        if (redirector.status === 503) return undefined
        if (redirector.status === 404 && !(redirector.headers.get("content-type") ?? "").includes("metalink")) {
          throw new Fatal(`the node does not serve /metalink (404 ${await redirector.text()})`)
        }
        return new Map<string, number>()
      }
    ).catch((error: Error) => {
      throw new Error(`the node did not serve the redirector: ${error.message}`)
    })
    const indexReadyMs = performance.now() - start
    // The node without access counters: same database and settings, its own ports and data directory.
    const portOff = await freePort()
    const originOff = `http://127.0.0.1:${portOff}`
    nodeOff = spawnChild(
      [...NODE_RUNTIME_FLAGS, ...nodeArgs, "packages/cluster-node/src/main.ts", "serve"],
      path.join(temp, "node-off.log"),
      withRuntimeEnv({
        ...env,
        MM_HTTP_PORT: String(portOff),
        MM_RUNNER_PORT: String(await freePort()),
        MM_DATA_DIR: path.join(temp, "node-off"),
        MM_ACCESS_STATS: "off"
      })
    )
    await waitFor("the second node (counters off) ready with its index", nodeOff, 120_000, async () => {
      const response = await get(`${originOff}/metrics`)
      return response.status === 200 && parseMetrics(await response.text()).get("mm_index_ready") === 1
        ? true
        : undefined
    })
    const indexSeconds = metrics.get("mm_index_build_seconds")
    const memoryBefore = procMemory(node.child.pid)
    const rssBefore = metrics.get("process_resident_memory_bytes") ?? memoryBefore.rss
    line(
      "node started",
      `${seconds(readyMs).padStart(9)}   ready (/healthz/ready), index ready after ${seconds(indexReadyMs)}`
    )
    line(
      "index build (mm_index_build_seconds)",
      `${indexSeconds === undefined ? "(not reported)" : seconds(indexSeconds * 1000).padStart(9)}   ` +
        `hosts in index ${metrics.get("mm_index_hosts") ?? "(not reported)"}`
    )
    line("node RSS after start", `${mb(rssBefore).padStart(9)}   peak so far ${mb(memoryBefore.peak)} (/proc VmHWM)`)

    // 3. The requests, and what the node answers to them.
    const mix = requestMix(material.repos, material.netblocks, material.redirectedRepos)
    console.log(
      `${pad("requests")}${thousands(REQUESTS)} per endpoint over ${thousands(material.repos.length)} repo/arch ` +
        `pairs; clients ${Object.entries(mix.kinds)
          .map(([kind, count]) => `${kind} ${thousands(count)}`)
          .join(", ")}`
    )
    const probes = {} as Record<Endpoint, Probe>
    for (const endpoint of ALL_ENDPOINTS) {
      const p = await probe(origin, endpoint, mix.queries)
      probes[endpoint] = p
      line(
        `/${endpoint} answers`,
        `statuses ${JSON.stringify(p.statuses)}; body p10/p50/p90 ${thousands(p.sizes.p10)}/` +
          `${thousands(p.sizes.p50)}/${thousands(p.sizes.p90)} bytes (mean ${thousands(p.sizes.mean)}); URLs ` +
          `p50 ${p.urls.p50}, max ${p.urls.max}; ${Object.entries(p.headerTokens)
            .map(([token, count]) => `${token} ${thousands(count)}`)
            .join(", ")} (${seconds(p.ms)} for all, 8 at a time)`
      )
      const single = await oneByOne(origin, endpoint, mix.queries)
      line(
        `/${endpoint} one at a time`,
        `p50 ${ms(single.p50)}, p99 ${ms(single.p99)}, slowest ${ms(single.slowest.ms)} ` +
          `(${thousands(single.slowest.bytes)} bytes: ${single.slowest.query})`
      )
    }

    // The node without counters is asked the same requests as the node was (twice: its answer cache admits what is
    // asked again), so that both are warmed alike.
    for (const endpoint of ALL_ENDPOINTS) {
      await probe(originOff, endpoint, mix.queries)
      await oneByOne(originOff, endpoint, mix.queries)
    }

    // 4. The baseline: a bare node:http server answering each path with the node's answer to it.
    const started = await startBaseline(
      temp,
      Object.values(probes).map((probe) => probe.answers)
    )
    baseline = started.spawned
    const baselineOrigin = started.origin

    // 5. Load: full speed, node and baseline; then half the node's rate, autocannon and evenly paced.
    const busy = await machineBusy()
    line(
      "machine",
      `${os.availableParallelism()} CPUs; ${busy.toFixed(2)} of them busy in the second before the load` +
        (busy > 0.25 ? " (other processes are running: expect lower and noisier figures)" : "")
    )
    const figures: Partial<Record<Endpoint, EndpointFigures>> = {}
    /** Per endpoint, requests/s over all rounds, counters on and off (rounds drift apart more than counting costs). */
    const counters: Partial<Record<Endpoint, { readonly on: number; readonly off: number }>> = {}
    for (const endpoint of ENDPOINTS) {
      console.log(
        `  /${endpoint}: ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up, ${ROUNDS} rounds of ` +
          `${ROUND_SECONDS} s each at full speed`
      )
      const paths = mix.queries.map((query) => `/${endpoint}?${query}`)
      const base = { paths, connections: CONNECTIONS, warmupSeconds: WARMUP_SECONDS, durationSeconds: SECONDS }
      const atNode = { origin, ...(node.child.pid === undefined ? {} : { serverPid: node.child.pid }) }
      const atNodeOff = {
        origin: originOff,
        ...(nodeOff.child.pid === undefined ? {} : { serverPid: nodeOff.child.pid })
      }
      const atBaseline = {
        origin: baselineOrigin,
        ...(baseline.child.pid === undefined ? {} : { serverPid: baseline.child.pid })
      }
      const rounds: Array<{
        readonly node: LoadResult
        readonly nodeOff: LoadResult
        readonly baseline: LoadResult
        readonly ratio: number
        /** Counters on to counters off. */
        readonly counters: number
      }> = []
      for (let round = 1; round <= ROUNDS; round++) {
        const full = { ...base, mode: "max" as const, durationSeconds: ROUND_SECONDS }
        const warmup = round === 1 ? WARMUP_SECONDS : 0
        const loadNode = async () => {
          const run = await load(temp, `${endpoint}-node-${round}`, { ...full, ...atNode, warmupSeconds: warmup })
          assertRunning(node!, `the /${endpoint} load`)
          line(`  node, round ${round}`, describeLoad(run))
          return run
        }
        const loadNodeOff = async () => {
          const run = await load(temp, `${endpoint}-node-off-${round}`, {
            ...full,
            ...atNodeOff,
            warmupSeconds: warmup
          })
          assertRunning(nodeOff!, `the /${endpoint} load`)
          line(`  node, counters off, round ${round}`, describeLoad(run))
          return run
        }
        // Which of the two goes first alternates, so that neither has the other's leftovers (GC, caches) each round.
        let nodeRun: LoadResult
        let nodeOffRun: LoadResult
        if (round % 2 === 1) {
          nodeRun = await loadNode()
          nodeOffRun = await loadNodeOff()
        } else {
          nodeOffRun = await loadNodeOff()
          nodeRun = await loadNode()
        }
        const baselineRun = await load(temp, `${endpoint}-baseline-${round}`, {
          ...full,
          ...atBaseline,
          warmupSeconds: warmup
        })
        line(`  baseline, round ${round}`, describeLoad(baselineRun))
        rounds.push({
          node: nodeRun,
          nodeOff: nodeOffRun,
          baseline: baselineRun,
          ratio: nodeRun.requestsPerSecond / baselineRun.requestsPerSecond,
          counters: nodeRun.requestsPerSecond / nodeOffRun.requestsPerSecond
        })
      }
      const median = rounds.toSorted((a, b) => a.ratio - b.ratio)[Math.floor((rounds.length - 1) / 2)]!
      const nodeMax = median.node
      const baselineMax = median.baseline
      line(
        "  ratio, node to baseline",
        `${rounds.map((r) => `${(r.ratio * 100).toFixed(0)} %`).join(", ")} (median ${(median.ratio * 100).toFixed(0)} %)`
      )
      const on = rounds.reduce((sum, r) => sum + r.node.requestsPerSecond, 0) / rounds.length
      const off = rounds.reduce((sum, r) => sum + r.nodeOff.requestsPerSecond, 0) / rounds.length
      line(
        "  access counters, on to off",
        `${rounds.map((r) => `${thousands(r.node.requestsPerSecond)} vs ${thousands(r.nodeOff.requestsPerSecond)} req/s (${(r.counters * 100).toFixed(0)} %)`).join(", ")}; all rounds ${thousands(on)} vs ${thousands(off)} req/s (${((100 * on) / off).toFixed(0)} %)`
      )
      counters[endpoint] = { on, off }
      const halfRate = Math.max(1, Math.round(nodeMax.requestsPerSecond / 2))
      if (FULL_SPEED_ONLY) {
        figures[endpoint] = { node: nodeMax, baseline: baselineMax, halfRate, halfRuns: undefined }
        continue
      }
      const nodeAtHalf = await load(temp, `${endpoint}-half`, {
        ...base,
        ...atNode,
        mode: "rate",
        rate: halfRate,
        warmupSeconds: 0
      })
      line(`  node at ${thousands(halfRate)}/s (autocannon)`, describeLoad(nodeAtHalf))
      const paced = {
        ...base,
        mode: "paced" as const,
        rate: halfRate,
        warmupSeconds: 1,
        durationSeconds: PACED_SECONDS
      }
      const nodePaced = await load(temp, `${endpoint}-paced`, { ...paced, ...atNode })
      line(`  node at ${thousands(halfRate)}/s (paced)`, describeLoad(nodePaced))
      const baselinePaced = await load(temp, `${endpoint}-baseline-paced`, { ...paced, ...atBaseline })
      line(`  baseline at ${thousands(halfRate)}/s (paced)`, describeLoad(baselinePaced))
      figures[endpoint] = {
        node: nodeMax,
        baseline: baselineMax,
        halfRate,
        halfRuns: { nodeAtHalf, nodePaced, baselinePaced }
      }
    }

    // What counting costs per request, beside what a request costs the node (its CPU over its rate).
    const counterNs = accessCounterCost(mix.queries)
    const perRequest = ENDPOINTS.map((endpoint) => {
      const f = figures[endpoint]
      if (f === undefined || Number.isNaN(f.node.cpu.server)) return ""
      const requestNs = (f.node.cpu.server * 1e9) / f.node.requestsPerSecond
      return `; /${endpoint} ${thousands(requestNs / 1000)} µs of CPU per request (counting ${((100 * counterNs) / requestNs).toFixed(2)} % of it)`
    }).join("")
    const counterShare = Math.max(
      0,
      ...ENDPOINTS.map((endpoint) => {
        const f = figures[endpoint]
        return f === undefined || Number.isNaN(f.node.cpu.server)
          ? 0
          : (counterNs * f.node.requestsPerSecond) / (f.node.cpu.server * 1e9)
      })
    )
    line(
      "access counter, per request",
      `${counterNs.toFixed(0)} ns (AccessCounter.record, in this process, fresh repo/arch strings)${perRequest}`
    )

    // 6. Memory after the load.
    const afterResponse = await get(`${origin}/metrics`)
    metrics = afterResponse.status === 200 ? parseMetrics(await afterResponse.text()) : new Map()
    const memoryAfter = procMemory(node.child.pid)
    const rssAfter = metrics.get("process_resident_memory_bytes") ?? memoryAfter.rss
    line(
      "node RSS after load",
      `${mb(rssAfter).padStart(9)}   (/metrics; /proc VmRSS ${mb(memoryAfter.rss)}, peak VmHWM ${mb(memoryAfter.peak)})` +
        (metrics.has("mm_answer_cache_bytes") ? `; answers kept ${mb(metrics.get("mm_answer_cache_bytes")!)}` : "")
    )

    // What the counting node added to the access statistics so far (every minute; the rest as it stops).
    const added = await Effect.runPromiseExit(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ readonly requests: number | null }>`
          SELECT sum(requests)::float8 AS requests FROM access_stats WHERE kind = 'arches'`
        return rows[0]?.requests ?? 0
      }).pipe(Effect.provide(databaseLayer(Redacted.make(postgres.url), { maxConnections: 1 })))
    )
    line(
      "access statistics in the database",
      Exit.isSuccess(added)
        ? `${thousands(added.value)} requests added by the counting node (every minute; the last minute as it stops)`
        : `not read: ${Cause.pretty(added.cause).split("\n")[0]}`
    )

    // 7. Verdicts.
    console.log("  targets (docs/operations.md#performance-targets):")
    for (const [endpoint, target] of [
      ["mirrorlist", TARGET_MIRRORLIST_RATIO],
      ["metalink", TARGET_METALINK_RATIO]
    ] as const) {
      const f = figures[endpoint]
      if (f === undefined) continue
      const ratio = f.node.requestsPerSecond / f.baseline.requestsPerSecond
      verdict(
        `/${endpoint} ≥ ${target * 100} % of bare node:http`,
        ratio >= target,
        `${(ratio * 100).toFixed(0)} % (${thousands(f.node.requestsPerSecond)} vs ${thousands(f.baseline.requestsPerSecond)} req/s)`
      )
    }
    for (const endpoint of ENDPOINTS) {
      const f = figures[endpoint]
      if (f?.halfRuns === undefined) continue
      verdict(
        `/${endpoint} p99 < ${TARGET_P99_MS} ms at half rate`,
        f.halfRuns.nodeAtHalf.latencyMs.p99 < TARGET_P99_MS,
        `${ms(f.halfRuns.nodeAtHalf.latencyMs.p99)} at ${thousands(f.halfRate)}/s (autocannon: bursts each second); ` +
          `evenly paced ${ms(f.halfRuns.nodePaced.latencyMs.p99)}`
      )
    }
    verdict(
      `counting < ${TARGET_COUNTER_SHARE * 100} % of a request's CPU`,
      counterShare < TARGET_COUNTER_SHARE,
      `${(counterShare * 100).toFixed(2)} % at most (${counterNs.toFixed(0)} ns per request)`
    )
    for (const endpoint of ENDPOINTS) {
      const c = counters[endpoint]
      if (c === undefined) continue
      verdict(
        `/${endpoint} counters on ≥ ${TARGET_COUNTERS_RATIO * 100} % of off`,
        c.on >= TARGET_COUNTERS_RATIO * c.off,
        `${((100 * c.on) / c.off).toFixed(0)} % (${thousands(c.on)} vs ${thousands(c.off)} req/s, mean of the rounds)`
      )
    }
    verdict(
      `index build < ${TARGET_INDEX_SECONDS} s`,
      indexSeconds !== undefined && indexSeconds < TARGET_INDEX_SECONDS,
      indexSeconds === undefined ? "mm_index_build_seconds not reported" : seconds(indexSeconds * 1000)
    )
    const peak = Math.max(rssAfter, Number.isNaN(memoryAfter.peak) ? 0 : memoryAfter.peak)
    verdict(
      "resident memory < 1 GiB",
      peak < TARGET_RSS_BYTES,
      `peak ${mb(peak)}; ${mb(rssBefore)} after start, ${mb(rssAfter)} after load`
    )
  } finally {
    forgetSignals()
    const cleanupStart = performance.now()
    await cleanup()
    line("cleaned up", seconds(performance.now() - cleanupStart).padStart(9))
    line("whole run", seconds(performance.now() - began).padStart(9))
  }
}
