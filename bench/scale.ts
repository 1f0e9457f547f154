// Scale benchmark (issue 15; docs/operations.md#performance-targets): Fedora's size in an embedded PostgreSQL
// (bench/scaleWorld.ts: 800 hosts, 150,000 directories, ~70 million up-to-date pairs) served by real nodes
// (`mirrormanager serve`, each its own process), in one run:
// - the index: full build time, resident memory (sampled from /proc, peak from VmHWM) through start, build, a forced
//   rebuild, check-ins, a snapshot write and a restart from the snapshot, and that restart's time to ready;
// - stalls: the node's longest event-loop delay (mm_event_loop_delay_max_seconds, scraped every half second) and the
//   p99 of /mirrorlist requests at half the node's maximum rate (autocannon's overallRate, as the redirector bench's
//   verdict), through a forced rebuild, the check-ins at once and snapshot writes;
// - the write path: private hosts checking in 90,000 directories each through /xmlrpc, encoded as report_mirror
//   does (JSON, bz2, URL-safe base64: test-support/checkin_wire.py), one alone (nothing else running), then all at
//   once (in the stall phase);
// - a change reaching every node: with two nodes, from a check-in's reply to the host in both nodes' answers (a
//   client in its netblock), and the database time each node spends per change (the change follower's own
//   mm_changes_read_seconds_total; pg_stat_statements per node role beside it);
// - throughput: /mirrorlist and /metalink against a bare node:http server in the same run.
// Every figure is printed with its target and a verdict; what cannot be measured says why. A missed target does not
// fail the run; a node that cannot start does. Everything lives in var/bench-scale-<pid>/, removed at the end and on
// Ctrl-C, but the encoded check-ins, kept in var/bench-scale-payloads/ for the next run, and the nodes' logs, copied
// to var/bench-scale-logs/. BENCH_SCALE_CHECKINS (default 100) sets how many hosts check in at once (the issue's
// figure is for 300); BENCH_SCALE_THROUGHPUT_ONLY=1 ends the run after the throughput rounds.

import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { databaseLayer } from "@mirrormanager/actors/db"
import { snapshotFile as snapshotFileOf } from "@mirrormanager/actors/redirector"
import { hashPassword } from "@mirrormanager/actors/registry"
import { pseudoRandom } from "@mirrormanager/actors/testing"
import { type RunningPostgres, startEmbeddedPostgres } from "@mirrormanager/cluster-node/db"
import { freePort, NODE_RUNTIME_FLAGS, withRuntimeEnv } from "@mirrormanager/cluster-node/node"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { checkinCall, percentile, post } from "./checkin.ts"
import {
  assertRunning,
  children,
  cleanUpOnSignal,
  describeLoad,
  get,
  line,
  load,
  mb,
  ms,
  parseMetrics,
  probe,
  procMemory,
  requestMix,
  type Spawned,
  seconds,
  sleep,
  spawnChild,
  startBaseline,
  stopChild,
  thousands,
  waitFor
} from "./redirector.ts"
import type { LoadResult } from "./redirectorLoad.ts"
import { requestMaterial } from "./redirectorWorld.ts"
import {
  CATEGORIES,
  categoryTrees,
  generateScaleWorld,
  type PrivateHost,
  privateHosts,
  SITE_PASSWORD
} from "./scaleWorld.ts"

const ROOT = path.resolve(import.meta.dirname, "..")
const WIRE = path.join(ROOT, "test-support/checkin_wire.py")
const ADMIN_TOKEN = "mm_bench-scale-admin"

/** BENCH_SCALE_THROUGHPUT_ONLY=1 stops after the throughput rounds (for working on the answers' speed). */
const THROUGHPUT_ONLY = process.env.BENCH_SCALE_THROUGHPUT_ONLY === "1"
const CHECKINS = Number(process.env.BENCH_SCALE_CHECKINS) > 0 ? Number(process.env.BENCH_SCALE_CHECKINS) : 100
/** Share of each category a checking-in host reports (90,000 of 150,000 directories). */
const CHECKIN_SHARE = 0.6
const CHANGES = 20
const CONNECTIONS = 50
const ROUND_SECONDS = 5
const ROUNDS = 2

const TARGET = {
  buildSeconds: 10,
  rssBytes: 1024 ** 3,
  restartSeconds: 10,
  eventLoopMs: 50,
  p99Ms: 10,
  oneCheckinSeconds: 2,
  allCheckinsSeconds: 180,
  changeSeconds: 1,
  changeDatabaseMs: 50,
  mirrorlistRatio: 0.5,
  metalinkRatio: 0.35
}

// ---------------------------------------------------------------------------------------------------------------
// Verdicts: every figure with its target; "not measured" with the reason where there is no figure.

interface Verdict {
  readonly label: string
  readonly target: string
  readonly figure: string
  /** undefined: not measured. */
  readonly pass: boolean | undefined
}

const verdicts: Array<Verdict> = []

/** Recorded; printed together at the end of the run, after the clean-up. */
const judge = (label: string, target: string, figure: string, pass: boolean | undefined) => {
  verdicts.push({ label, target, figure, pass })
}
const notMeasured = (label: string, target: string, why: string) =>
  judge(label, target, `not measured: ${why}`, undefined)
const show = (v: Verdict) =>
  `${v.pass === undefined ? "-   " : v.pass ? "PASS" : "FAIL"}  ${v.label.padEnd(46)}${v.figure} (target ${v.target})`

// ---------------------------------------------------------------------------------------------------------------
// Nodes

interface RunningNode {
  readonly spawned: Spawned
  readonly origin: string
}

const nodeEnv = (databaseUrl: string, dataDir: string): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("MM_") && key !== "DATABASE_URL")
  )
  return Object.assign(env, {
    DATABASE_URL: databaseUrl,
    MM_HTTP_HOST: "127.0.0.1",
    MM_DATA_DIR: dataDir,
    MM_ADMIN_TOKEN: ADMIN_TOKEN,
    MM_LOG_LEVEL: "Warn",
    MM_SCAN_INTERVAL: "0 seconds",
    // No crawls: the world's public hosts are names that lead nowhere, and a crawl's cost is the crawler bench's.
    MM_CRAWL_INTERVAL: "0 seconds",
    MM_CRAWL_REPODATA_INTERVAL: "0 seconds",
    MM_CRAWL_CANARY_INTERVAL: "0 seconds",
    MM_ACCESS_LOG: "off",
    // Snapshots follow changes within seconds, so that the stall phase sees one written.
    MM_INDEX_SNAPSHOT_INTERVAL: "5 seconds"
  })
}

/** Spawns a node on fresh ports; resolves once /healthz/ready answers 200 (timings from the spawn). */
const startNode = async (label: string, env: NodeJS.ProcessEnv, logDir: string) => {
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const full = { ...env, MM_HTTP_PORT: String(port), MM_RUNNER_PORT: String(await freePort()) }
  const began = performance.now()
  // BENCH_SCALE_NODE_ARGS: flags for the nodes, e.g. "--trace-gc" or "--cpu-prof --cpu-prof-dir=/tmp/profiles".
  const nodeArgs = (process.env.BENCH_SCALE_NODE_ARGS ?? "").split(/\s+/).filter((arg) => arg.length > 0)
  const spawned = spawnChild(
    [...NODE_RUNTIME_FLAGS, ...nodeArgs, "packages/cluster-node/src/main.ts", "serve"],
    path.join(logDir, `${label}.log`),
    withRuntimeEnv(full)
  )
  const memory = memorySampler(spawned)
  await waitFor("/healthz/ready answered 200", spawned, 180_000, async () =>
    (await get(`${origin}/healthz/ready`)).status === 200 ? true : undefined
  )
  const readyMs = performance.now() - began
  const node: RunningNode = { spawned, origin }
  return { node, readyMs, began, memory }
}

const metricsOf = async (node: RunningNode) => {
  const response = await get(`${node.origin}/metrics`)
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`)
  return parseMetrics(await response.text())
}

/** Waits until the node's index is ready (from `origin`: "database" or either); its metrics then. */
const indexReady = (node: RunningNode, origin: "database" | "any", timeoutMs = 600_000) =>
  waitFor(`index ready (${origin})`, node.spawned, timeoutMs, async () => {
    const metrics = await metricsOf(node)
    if (metrics.get("mm_index_ready") !== 1) return undefined
    if (origin === "database" && metrics.get("mm_index_from_snapshot") === 1) return undefined
    return metrics
  })

/** Resident memory of a process sampled every 100 ms (VmRSS) until it exits, and its peak (VmHWM). */
const memorySampler = (spawned: Spawned) => {
  let maxRss = 0
  let peak = 0
  const sample = () => {
    const memory = procMemory(spawned.child.pid)
    if (!Number.isNaN(memory.rss)) maxRss = Math.max(maxRss, memory.rss)
    if (!Number.isNaN(memory.peak)) peak = Math.max(peak, memory.peak)
  }
  const timer = setInterval(sample, 100)
  void spawned.exited.then(() => clearInterval(timer))
  return {
    /** The largest VmRSS sampled and the peak VmHWM read so far. */
    read: () => {
      sample()
      return { maxRss, peak }
    }
  }
}

/**
 * Scrapes the node's event-loop gauge every half second (each scrape resets it): the largest delay seen, and the
 * longest few with when they were scraped (seconds after `since`), to set beside the phase's steps.
 */
const eventLoopWatch = (node: RunningNode, since: number) => {
  let max: number | undefined
  let scrapes = 0
  let stopped = false
  const seen: Array<{ readonly at: number; readonly ms: number }> = []
  /** The scrape with the largest resident memory: what the heap and the buffers were then. */
  let fullest:
    | { readonly at: number; readonly rss: number; readonly heap: number; readonly external: number }
    | undefined
  const done = (async () => {
    while (!stopped) {
      const metrics = await metricsOf(node).catch(() => undefined)
      const delay = metrics?.get("mm_event_loop_delay_max_seconds")
      const at = (performance.now() - since) / 1000
      if (delay !== undefined) {
        max = Math.max(max ?? 0, delay)
        scrapes++
        seen.push({ at, ms: delay * 1000 })
      }
      const rss = metrics?.get("process_resident_memory_bytes")
      if (rss !== undefined && rss > (fullest?.rss ?? 0)) {
        fullest = {
          at,
          rss,
          heap: metrics?.get("nodejs_heap_size_total_bytes") ?? Number.NaN,
          external: metrics?.get("nodejs_external_memory_bytes") ?? Number.NaN
        }
      }
      await sleep(500)
    }
  })()
  return {
    stop: async () => {
      stopped = true
      await done
      return { maxSeconds: max, scrapes, longest: seen.toSorted((a, b) => b.ms - a.ms).slice(0, 6), fullest }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Check-ins

interface Checkin {
  readonly host: PrivateHost
  readonly body: string
  readonly directories: number
}

/** The report_mirror JSON of a host reporting `trees` (section name → relative paths). */
const checkinJson = (host: PrivateHost, trees: ReadonlyMap<string, ReadonlyArray<string>>) =>
  JSON.stringify({
    version: 0,
    global: { enabled: "1", server: "http://127.0.0.1/xmlrpc" },
    site: { enabled: "1", name: host.site, password: SITE_PASSWORD },
    host: { enabled: "1", name: host.name },
    stats: {},
    ...Object.fromEntries(
      [...trees].map(([section, paths]) => [
        section.toLowerCase(),
        { enabled: "1", dirtree: Object.fromEntries(paths.map((p) => [p, {}])) }
      ])
    )
  })

/**
 * bz2 and URL-safe base64 by Python's own modules (as report_mirror), in the XML-RPC call it sends. A minute or two
 * of both cores for a hundred hosts: kept in `cacheDir` by the JSON's hash, for the next run.
 */
const encode = (cacheDir: string) => async (json: string) => {
  const cached = path.join(cacheDir, `${createHash("sha256").update(json).digest("hex")}.xml`)
  if (fs.existsSync(cached)) return fs.readFileSync(cached, "utf8")
  const body = await encodeNow(json)
  fs.writeFileSync(cached, body)
  return body
}

const encodeNow = (json: string) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn("python3", [WIRE, "bz2"], { stdio: ["pipe", "pipe", "pipe"] })
    children.add(child)
    const out: Array<Buffer> = []
    const errors: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => errors.push(chunk))
    child.once("exit", (code) => {
      children.delete(child)
      if (code !== 0) return reject(new Error(`checkin_wire.py bz2 exited ${code}: ${Buffer.concat(errors)}`))
      resolve(checkinCall(Buffer.concat(out).toString("ascii")))
    })
    child.stdin.end(json)
  })

/** Runs `work` over `items`, `parallel` at a time, in order of the results. */
const inParallel = async <A, B>(items: ReadonlyArray<A>, parallel: number, work: (item: A) => Promise<B>) => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < items.length) {
        const i = next++
        results[i] = await work(items[i]!)
      }
    })
  )
  return results
}

const SUCCESS = /checked in successful/

/** The reply's string (a fault's or a failed request's text as it came). */
const checkinReply = (text: string) =>
  SUCCESS.test(text)
    ? "checked in successful"
    : (/<string>([^<]*)<\/string>/.exec(text)?.[1] ?? (text === "" ? "(no reply)" : text)).slice(0, 160)

// ---------------------------------------------------------------------------------------------------------------

export const run = async () => {
  const began = performance.now()
  const varDir = path.join(ROOT, "var")
  fs.mkdirSync(varDir, { recursive: true })
  const temp = path.join(varDir, `bench-scale-${process.pid}`)
  const logsDir = path.join(varDir, "bench-scale-logs")
  fs.mkdirSync(temp, { recursive: true })
  // As root, the embedded PostgreSQL runs as the `postgres` user, which must reach its data directory below this.
  fs.chmodSync(varDir, 0o755)
  fs.chmodSync(temp, 0o755)
  let postgres: RunningPostgres | undefined
  const nodes: Array<RunningNode> = []
  let baseline: Spawned | undefined
  let cleaned: Promise<void> | undefined
  const cleanup = () =>
    (cleaned ??= (async () => {
      for (const child of children) {
        if (child !== baseline?.child && !nodes.some((node) => node.spawned.child === child)) child.kill("SIGKILL")
      }
      await stopChild(baseline, 2_000)
      await Promise.all(nodes.map((node) => stopChild(node.spawned)))
      if (postgres !== undefined) await postgres.stop().catch((error) => console.error("stopping PostgreSQL:", error))
      // The nodes' logs (warnings and errors) outlive the run, for a look at what a figure came from.
      fs.rmSync(logsDir, { recursive: true, force: true })
      fs.mkdirSync(logsDir, { recursive: true })
      for (const file of fs.readdirSync(temp).filter((name) => name.startsWith("node-") && name.endsWith(".log"))) {
        fs.copyFileSync(path.join(temp, file), path.join(logsDir, file))
      }
      fs.rmSync(temp, { recursive: true, force: true })
    })())
  const forgetSignals = cleanUpOnSignal(`stopping the nodes and PostgreSQL, removing ${temp}`, cleanup)
  const startPostgres = async () =>
    startEmbeddedPostgres({
      dataDir: path.join(temp, "postgres"),
      port: await freePort(),
      database: "mirrormanager_bench"
    })
  const withDatabase = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
    Effect.runPromise(
      effect.pipe(Effect.provide(databaseLayer(Redacted.make(postgres!.url), { maxConnections: 2 }))) as Effect.Effect<
        A,
        E
      >
    )

  try {
    // 1. The world.
    console.log("  1. the world")
    let start = performance.now()
    postgres = await startPostgres()
    line("embedded PostgreSQL started", seconds(performance.now() - start))
    start = performance.now()
    const passwordHash = await Effect.runPromise(hashPassword(SITE_PASSWORD))
    const counts = await withDatabase(
      generateScaleWorld(passwordHash, (what, took) => {
        if (took > 500) line(`  ${what}`, seconds(took))
      })
    )
    line("world generated (SQL)", `${seconds(performance.now() - start)} (migrations included)`)
    console.log(
      `${"".padEnd(40)}${Object.entries(counts)
        .map(([table, count]) => `${table} ${thousands(count)}`)
        .join(", ")}`
    )
    const { hosts, trees, material } = await withDatabase(
      Effect.all({ hosts: privateHosts, trees: categoryTrees, material: requestMaterial })
    )
    // pg_stat_statements (for the database time of changes) needs a restart with the library preloaded; one role
    // per node tells their statements apart.
    start = performance.now()
    await withDatabase(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        for (const role of ["node_a", "node_b"]) {
          yield* sql.unsafe(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD 'bench-${role}'`)
        }
      })
    )
    await postgres.stop()
    postgres = await startPostgres()
    const statements = await withDatabase(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        return yield* sql.unsafe("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").pipe(
          Effect.as(true),
          Effect.catch((error) =>
            Effect.as(
              Effect.sync(() => console.log(`  pg_stat_statements: ${error}`)),
              false
            )
          )
        )
      })
    )
    line(
      "PostgreSQL restarted",
      `${seconds(performance.now() - start)} (pg_stat_statements ${statements ? "on" : "off"})`
    )
    /** pg_stat_statements from now on (nothing without it). */
    const resetStatements = async () => {
      if (!statements) return
      await withDatabase(
        Effect.asVoid(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe("SELECT pg_stat_statements_reset()")))
      )
    }
    /** The nodes' statements since the reset: time per node role, and the costliest few (printed). */
    const statementTimes = async () => {
      if (!statements) return undefined
      const { totals, top } = await withDatabase(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const totals = yield* sql.unsafe<{ role: string; ms: number; calls: string }>(
            `SELECT r.rolname AS role, sum(s.total_exec_time)::float8 AS ms, sum(s.calls)::text AS calls
             FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
             WHERE r.rolname IN ('node_a', 'node_b') GROUP BY r.rolname ORDER BY r.rolname`
          )
          const top = yield* sql.unsafe<{ role: string; ms: number; calls: string; query: string }>(
            `SELECT r.rolname AS role, s.total_exec_time::float8 AS ms, s.calls::text AS calls,
                    regexp_replace(left(s.query, 90), '\\s+', ' ', 'g') AS query
             FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
             WHERE r.rolname IN ('node_a', 'node_b') ORDER BY s.total_exec_time DESC LIMIT 5`
          )
          return { totals, top }
        })
      )
      for (const row of top) line(`    ${row.role} ${ms(row.ms)}`, `${row.calls}× ${row.query}`)
      return totals
    }
    const roleUrl = (role: string) => {
      const url = new URL(postgres!.url)
      url.username = role
      url.password = `bench-${role}`
      return url.toString()
    }

    // 2. Check-in payloads, built before any node runs (they take both cores for a while).
    start = performance.now()
    const rand = pseudoRandom(15_000_015)
    const checkinHosts = hosts.filter((host) => host.netblock !== undefined).slice(0, CHECKINS + 1)
    /** What each host reported, per category: what the change phase adds to. */
    const reported = new Map<number, Map<string, ReadonlyArray<string>>>()
    const jsons = checkinHosts.map((host) => {
      const sections = new Map<string, ReadonlyArray<string>>()
      for (const tree of trees)
        sections.set(
          tree.category,
          tree.paths.filter((p) => p === "" || rand() < CHECKIN_SHARE)
        )
      reported.set(host.id, sections)
      return checkinJson(host, sections)
    })
    const cacheDir = path.join(varDir, "bench-scale-payloads")
    fs.mkdirSync(cacheDir, { recursive: true })
    const bodies = await inParallel(jsons, os.availableParallelism(), encode(cacheDir))
    const checkins: Array<Checkin> = checkinHosts.map((host, i) => ({
      host,
      body: bodies[i]!,
      directories: [...reported.get(host.id)!.values()].reduce((n, paths) => n + paths.length, 0)
    }))
    jsons.length = 0
    line(
      "check-in payloads (python3 bz2)",
      `${seconds(performance.now() - start)}   ${checkins.length} hosts, ~${thousands(checkins[0]?.directories ?? 0)} ` +
        `directories each, ${(bodies.reduce((n, b) => n + b.length, 0) / bodies.length / 1024).toFixed(0)} KiB a request`
    )
    // The change phase: each of the first hosts adds to one category, EPEL's, a directory it is not served for.
    const changeCategory = CATEGORIES[1]!
    const changeTree = trees.find((tree) => tree.category === changeCategory.name)!

    // 3. A node on the world: its index build and memory.
    console.log("  2. a node on the world")
    const nodeADir = path.join(temp, "node-a")
    const envA = nodeEnv(roleUrl("node_a"), nodeADir)
    const first = await startNode("node-a", envA, temp)
    let nodeA = first.node
    nodes.push(nodeA)
    let metrics = await indexReady(nodeA, "database")
    const firstIndexMs = performance.now() - first.began
    const buildSeconds = metrics.get("mm_index_build_seconds")
    line(
      "node started",
      `${seconds(first.readyMs)} to ready, index after ${seconds(firstIndexMs)}: ${thousands(metrics.get("mm_index_hosts") ?? 0)} ` +
        `hosts, ${thousands(metrics.get("mm_index_directories") ?? 0)} directories`
    )
    line("RSS after the build", `${mb(procMemory(nodeA.spawned.child.pid).rss)}, peak ${mb(first.memory.read().peak)}`)
    const hasEventLoopGauge = metrics.has("mm_event_loop_delay_max_seconds")

    // 4. Throughput against a bare node:http server.
    console.log("  3. throughput")
    const mix = requestMix(material.repos, material.netblocks, material.redirectedRepos)
    const probes = {
      mirrorlist: await probe(nodeA.origin, "mirrorlist", mix.queries),
      metalink: await probe(nodeA.origin, "metalink", mix.queries)
    }
    for (const [endpoint, p] of Object.entries(probes)) {
      line(
        `/${endpoint} answers`,
        `statuses ${JSON.stringify(p.statuses)}; body p50 ${thousands(p.sizes.p50)}, p90 ${thousands(p.sizes.p90)}, ` +
          `mean ${thousands(p.sizes.mean)} bytes; URLs p50 ${p.urls.p50}, max ${p.urls.max}`
      )
    }
    const started = await startBaseline(temp, [probes.mirrorlist.answers, probes.metalink.answers])
    baseline = started.spawned
    const baselineOrigin = started.origin
    const ratios: Record<string, { ratio: number; node: LoadResult; baseline: LoadResult }> = {}
    const answerCounts = async () => {
      const m = await metricsOf(nodeA)
      return {
        kept: m.get('mm_answer_cache_answers_total{source="kept"}') ?? 0,
        fresh: m.get('mm_answer_cache_answers_total{source="fresh"}') ?? 0,
        declined: m.get("mm_answer_cache_declined_total") ?? 0
      }
    }
    for (const endpoint of ["mirrorlist", "metalink"] as const) {
      const paths = mix.queries.map((query) => `/${endpoint}?${query}`)
      const rounds: Array<{ ratio: number; node: LoadResult; baseline: LoadResult }> = []
      const countsBefore = await answerCounts()
      for (let round = 1; round <= ROUNDS; round++) {
        const config = {
          paths,
          connections: CONNECTIONS,
          mode: "max" as const,
          warmupSeconds: round === 1 ? 2 : 0,
          durationSeconds: ROUND_SECONDS
        }
        const atNode = await load(temp, `${endpoint}-node-${round}`, {
          ...config,
          origin: nodeA.origin,
          ...(nodeA.spawned.child.pid === undefined ? {} : { serverPid: nodeA.spawned.child.pid })
        })
        assertRunning(nodeA.spawned, `the /${endpoint} load`)
        const atBaseline = await load(temp, `${endpoint}-baseline-${round}`, {
          ...config,
          origin: baselineOrigin,
          ...(baseline.child.pid === undefined ? {} : { serverPid: baseline.child.pid })
        })
        line(`  /${endpoint} node, round ${round}`, describeLoad(atNode))
        line(`  /${endpoint} baseline, round ${round}`, describeLoad(atBaseline))
        rounds.push({
          ratio: atNode.requestsPerSecond / atBaseline.requestsPerSecond,
          node: atNode,
          baseline: atBaseline
        })
      }
      ratios[endpoint] = rounds.toSorted((a, b) => a.ratio - b.ratio)[Math.floor((rounds.length - 1) / 2)]!
      const counts = await answerCounts()
      const kept = counts.kept - countsBefore.kept
      const fresh = counts.fresh - countsBefore.fresh
      line(
        `  /${endpoint} answers kept`,
        `${((100 * kept) / Math.max(1, kept + fresh)).toFixed(0)} % sent as kept; ${thousands(fresh)} made afresh, ` +
          `${thousands(counts.declined - countsBefore.declined)} of them not kept for want of room`
      )
    }
    await stopChild(baseline, 2_000)
    const memoryNow = (what: string) => {
      const { peak } = first.memory.read()
      line(`RSS ${what}`, `${mb(procMemory(nodeA.spawned.child.pid).rss)}, peak so far ${mb(peak)}`)
    }
    memoryNow("after the load")
    const judgeThroughput = () => {
      for (const [endpoint, target] of [
        ["mirrorlist", TARGET.mirrorlistRatio],
        ["metalink", TARGET.metalinkRatio]
      ] as const) {
        const r = ratios[endpoint]!
        judge(
          `/${endpoint} vs bare node:http`,
          `≥ ${target * 100} %`,
          `${(r.ratio * 100).toFixed(0)} % (${thousands(r.node.requestsPerSecond)} vs ${thousands(r.baseline.requestsPerSecond)} req/s, median of ${ROUNDS})`,
          r.ratio >= target
        )
      }
    }
    if (THROUGHPUT_ONLY) {
      judgeThroughput()
      return
    }
    const halfRate = Math.max(1, Math.round(ratios.mirrorlist!.node.requestsPerSecond / 2))

    // 5. The write path: one check-in alone, nothing else running. The burst (the first CHECKINS hosts) comes in the
    // stall phase; the one alone is the host after them (or, with no host left, the first).
    console.log("  4. one check-in alone")
    const all = checkins.slice(0, CHECKINS)
    const alone = checkins[CHECKINS] ?? checkins[0]
    await resetStatements()
    start = performance.now()
    const aloneReply = checkinReply(await post(`${nodeA.origin}/xmlrpc`, alone!.body))
    const aloneMs = performance.now() - start
    line("one check-in alone", `${seconds(aloneMs)} (${thousands(alone!.directories)} directories): ${aloneReply}`)
    await statementTimes()

    // 6. Stalls: a forced rebuild, all at once, a snapshot write, under requests at half the maximum rate.
    console.log(
      `  5. rebuild, ${all.length} check-ins at once and snapshots under /mirrorlist at ${thousands(halfRate)}/s ` +
        "(half the max; autocannon)"
    )
    const paths = mix.queries.map((query) => `/mirrorlist?${query}`)
    let loading = true
    const halfRateRuns: Array<LoadResult> = []
    /** When each chunk started and ended, in seconds from the phase's start. */
    const halfRateSpans: Array<readonly [number, number]> = []
    const phaseStart = performance.now()
    /** Where in the phase a step ended (to set beside the chunks of requests). */
    const at = () => `[${((performance.now() - phaseStart) / 1000).toFixed(0)} s]`
    const halfRateLoad = (async () => {
      for (let chunk = 1; loading; chunk++) {
        const from = (performance.now() - phaseStart) / 1000
        halfRateRuns.push(
          await load(temp, `half-rate-${chunk}`, {
            origin: nodeA.origin,
            ...(nodeA.spawned.child.pid === undefined ? {} : { serverPid: nodeA.spawned.child.pid }),
            paths,
            connections: CONNECTIONS,
            mode: "rate",
            rate: halfRate,
            warmupSeconds: 0,
            durationSeconds: 5
          })
        )
        halfRateSpans.push([from, (performance.now() - phaseStart) / 1000])
      }
    })()
    await metricsOf(nodeA) // resets the event-loop gauge
    const watch = eventLoopWatch(nodeA, phaseStart)
    const snapshotFile = snapshotFileOf(nodeADir)
    const snapshotStamp = () => (fs.existsSync(snapshotFile) ? fs.statSync(snapshotFile).mtimeMs : 0)
    /**
     * A change that may touch anything (`content`, as a renamed directory records): the node reads every row again
     * and compares them with its index, as its scheduled rebuild does.
     */
    const forceRebuild = async (what: string) => {
      const before = (await metricsOf(nodeA)).get("mm_index_built_at_seconds")
      const stampBefore = snapshotStamp()
      const asked = performance.now()
      await withDatabase(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* sql.unsafe(
            "WITH c AS (INSERT INTO changes (kind, payload) VALUES ('content', '{}') RETURNING seq) SELECT pg_notify('mm_changes', seq::text) FROM c"
          )
        })
      )
      if (before === undefined) {
        notMeasured(what, `≤ ${TARGET.buildSeconds} s`, "the node has no mm_index_built_at_seconds")
        return
      }
      const after = await waitFor(`a rebuild (${what})`, nodeA.spawned, 300_000, async () => {
        const m = await metricsOf(nodeA)
        return m.get("mm_index_built_at_seconds") !== before ? m : undefined
      })
      const took = after.get("mm_index_build_seconds") ?? Number.NaN
      line(
        what,
        `${seconds(took * 1000)} (mm_index_build_seconds; ${seconds(performance.now() - asked)} from the change) ${at()}`
      )
      // A rebuild that found nothing to change has nothing to snapshot: the snapshot comes within its interval (5 s)
      // only when something differed.
      const snapshotWritten = await waitFor("the snapshot written", nodeA.spawned, 10_000, async () =>
        snapshotStamp() !== stampBefore ? true : undefined
      ).catch(() => false)
      line(
        "  snapshot written after it",
        snapshotWritten
          ? `${seconds(performance.now() - asked)} from the change`
          : "none within 10 s (nothing differed: none due)"
      )
      return took
    }
    const rebuildSeconds = await forceRebuild("forced rebuild")

    // All at once (the issue's write path), while requests are answered.
    await resetStatements()
    const latencies: Array<number> = []
    const replies: Record<string, number> = {}
    start = performance.now()
    await Promise.all(
      all.map(async (checkin) => {
        const sent = performance.now()
        const reply = checkinReply(await post(`${nodeA.origin}/xmlrpc`, checkin.body))
        latencies.push(performance.now() - sent)
        replies[reply] = (replies[reply] ?? 0) + 1
      })
    )
    const allMs = performance.now() - start
    latencies.sort((a, b) => a - b)
    line(
      `${all.length} check-ins at once`,
      `${seconds(allMs)}; latency p50 ${seconds(percentile(latencies, 0.5))}, p99 ${seconds(percentile(latencies, 0.99))}; ` +
        `replies ${JSON.stringify(replies)} ${at()}`
    )
    memoryNow("after the check-ins")
    const stampAfterBurst = snapshotStamp()
    const burstSnapshot = await waitFor("a snapshot after the check-ins", nodeA.spawned, 60_000, async () =>
      snapshotStamp() !== stampAfterBurst ? true : undefined
    ).catch(() => false)
    line("snapshot after the check-ins", `${burstSnapshot ? "written" : "none within 60 s"} ${at()}`)
    console.log("    the costliest statements of the check-ins (pg_stat_statements):")
    await statementTimes()
    const secondRebuild = await forceRebuild("second forced rebuild")
    loading = false
    await halfRateLoad
    const loop = await watch.stop()
    const worstHalfRate = halfRateRuns.toSorted((a, b) => b.latencyMs.p99 - a.latencyMs.p99)[0]
    for (const [i, r] of halfRateRuns.entries()) {
      const [from, to] = halfRateSpans[i]!
      line(`  5 s from ${from.toFixed(0)} s (to ${to.toFixed(0)} s)`, describeLoad(r))
    }
    line(
      "  longest event-loop delays",
      loop.longest.map((each) => `${ms(each.ms)} [${each.at.toFixed(0)} s]`).join(", ")
    )
    if (loop.fullest !== undefined)
      line(
        "  most resident memory scraped",
        `${mb(loop.fullest.rss)} [${loop.fullest.at.toFixed(0)} s]: main heap ${mb(loop.fullest.heap)}, ` +
          `outside it ${mb(loop.fullest.external)} (buffers)`
      )

    // 7. A restart from the snapshot.
    console.log("  6. restart from the snapshot")
    const memoryFirst = first.memory.read()
    await stopChild(nodeA.spawned)
    nodes.splice(nodes.indexOf(nodeA), 1)
    const hasSnapshot = fs.existsSync(snapshotFile)
    const second = await startNode("node-a-restarted", envA, temp)
    nodeA = second.node
    nodes.push(nodeA)
    metrics = await indexReady(nodeA, "any")
    const restartMs = performance.now() - second.began
    const fromSnapshot = metrics.get("mm_index_from_snapshot") === 1
    line(
      "restarted",
      `index ready ${seconds(restartMs)} after the spawn (${fromSnapshot ? "from the snapshot" : "from the database"}); ` +
        `/healthz/ready after ${seconds(second.readyMs)}`
    )
    await indexReady(nodeA, "database")
    line("  then built from the database", `${seconds(performance.now() - second.began)} after the spawn`)
    const memorySecond = second.memory.read()

    // 8. A change reaching every node: two nodes, one check-in at a time.
    console.log(`  7. ${CHANGES} changes reaching two nodes`)
    const nodeB = (await startNode("node-b", nodeEnv(roleUrl("node_b"), path.join(temp, "node-b")), temp)).node
    nodes.push(nodeB)
    await indexReady(nodeB, "database")
    const carries = async (node: RunningNode, change: { readonly host: PrivateHost; readonly added: string }) => {
      const ip = change.host.netblock!.replace(/\.0\/24$/, ".7")
      const text = await get(`${node.origin}/mirrorlist?path=${encodeURIComponent(change.added)}&ip=${ip}`)
        .then((r) => r.text())
        .catch(() => "")
      return text.includes(`://${change.host.name}/`)
    }
    await resetStatements()
    /** The follower's own count of the time its reads of changes take (mm_changes_read_seconds_total). */
    const changeReads = async () =>
      Promise.all(
        [nodeA, nodeB].map(async (node) => {
          const m = await metricsOf(node)
          return { seconds: m.get("mm_changes_read_seconds_total"), reads: m.get("mm_changes_reads_total") }
        })
      )
    const readsBefore = await changeReads()
    const delays: Array<number> = []
    /** Per change, when each node served it ("-": not within 5 s). */
    const inOrder: Array<string> = []
    let missed = 0
    let alreadyThere = 0
    for (const { host } of checkins.slice(0, CHANGES)) {
      // A directory the host did not report, and that neither node serves it for (its check-in in the burst may
      // have failed, leaving it up to date on 60 % of the category).
      const had = reported.get(host.id)!.get(changeCategory.name)!
      const hadSet = new Set(had)
      let change: { readonly host: PrivateHost; readonly added: string; readonly path: string } | undefined
      for (const candidate of changeTree.paths.filter((p) => p.includes("/Packages/") && !hadSet.has(p)).slice(0, 8)) {
        const c = { host, added: `${changeTree.topdir}/${candidate}`, path: candidate }
        if (!(await carries(nodeA, c)) && !(await carries(nodeB, c))) {
          change = c
          break
        }
      }
      if (change === undefined) {
        alreadyThere++
        continue
      }
      const body = await encode(cacheDir)(checkinJson(host, new Map([[changeCategory.name, [...had, change.path]]])))
      const reply = checkinReply(await post(`${nodeA.origin}/xmlrpc`, body))
      const replied = performance.now()
      if (reply !== "checked in successful") {
        line("  a change's check-in", reply)
        missed++
        continue
      }
      const pending = new Set([nodeA, nodeB])
      const seen = new Map<RunningNode, number>()
      while (pending.size > 0 && performance.now() - replied < 5_000) {
        for (const node of [...pending]) {
          if (!(await carries(node, change))) continue
          seen.set(node, performance.now() - replied)
          pending.delete(node)
        }
        if (pending.size > 0) await sleep(10)
      }
      inOrder.push([nodeA, nodeB].map((node) => (seen.has(node) ? seen.get(node)!.toFixed(0) : "-")).join("/"))
      if (pending.size > 0) missed++
      else delays.push(Math.max(...seen.values()))
      if (missed >= 3 && delays.length === 0) break
    }
    line("  each change, ms (node a/node b)", inOrder.join(", "))
    delays.sort((a, b) => a - b)
    line(
      "changes",
      `${delays.length} reached both nodes` +
        (delays.length > 0
          ? `: p50 ${ms(percentile(delays, 0.5))}, p99 ${ms(percentile(delays, 0.99))}, max ${ms(delays.at(-1)!)}`
          : "") +
        `; ${missed} not within 5 s; ${alreadyThere} skipped (served for every directory tried before the change)`
    )
    const readsAfter = await changeReads()
    const readMsPerChange = readsAfter.map((after, i) => {
      const before = readsBefore[i]!
      if (after.seconds === undefined || before.seconds === undefined || delays.length === 0) return undefined
      return {
        ms: ((after.seconds - before.seconds) * 1000) / delays.length,
        reads: (after.reads ?? 0) - (before.reads ?? 0)
      }
    })
    for (const [i, read] of readMsPerChange.entries()) {
      if (read === undefined) continue
      line(
        `  change reads, node ${i === 0 ? "a" : "b"}`,
        `${ms(read.ms)} a change (mm_changes_read_seconds_total over ${delays.length} changes, ${read.reads} reads)`
      )
    }
    const applied = delays.length + missed
    const databasePerNode = applied > 0 ? await statementTimes() : undefined
    for (const row of databasePerNode ?? []) {
      line(`  database time, ${row.role}`, `${ms(row.ms)} in ${row.calls} statements: ${ms(row.ms / applied)} a change`)
    }

    // 9. Memory: the node's two lives (first start to restart, then restart to now).
    const rssNow = procMemory(nodeA.spawned.child.pid)
    const peak = Math.max(memoryFirst.peak, memoryFirst.maxRss, memorySecond.peak, memorySecond.maxRss, rssNow.peak)

    // 10. Verdicts.
    judge(
      "full index build",
      `≤ ${TARGET.buildSeconds} s`,
      buildSeconds === undefined
        ? "mm_index_build_seconds not reported"
        : `${seconds(buildSeconds * 1000)} at start` +
            [rebuildSeconds, secondRebuild]
              .filter((s) => s !== undefined)
              .map((s) => `, ${seconds(s * 1000)} forced`)
              .join(""),
      buildSeconds === undefined
        ? undefined
        : Math.max(buildSeconds, rebuildSeconds ?? 0, secondRebuild ?? 0) <= TARGET.buildSeconds
    )
    judge(
      "resident memory, peak",
      "≤ 1024 MB",
      `${mb(peak)} (VmHWM; first life ${mb(memoryFirst.peak)}, after the restart ${mb(memorySecond.peak)})`,
      peak <= TARGET.rssBytes
    )
    if (!hasSnapshot)
      notMeasured("restart from the snapshot to ready", `≤ ${TARGET.restartSeconds} s`, "no snapshot was written")
    else
      judge(
        "restart from the snapshot to ready",
        `≤ ${TARGET.restartSeconds} s`,
        `${seconds(restartMs)}${fromSnapshot ? "" : " (served from the database first: the snapshot was not used)"}`,
        fromSnapshot && restartMs <= TARGET.restartSeconds * 1000
      )
    if (!hasEventLoopGauge || loop.maxSeconds === undefined)
      notMeasured(
        "event loop, longest delay",
        `≤ ${TARGET.eventLoopMs} ms`,
        "the node has no mm_event_loop_delay_max_seconds"
      )
    else
      judge(
        "event loop, longest delay",
        `≤ ${TARGET.eventLoopMs} ms`,
        `${ms(loop.maxSeconds * 1000)} over ${loop.scrapes} scrapes (rebuilds, check-ins, snapshots)`,
        loop.maxSeconds * 1000 <= TARGET.eventLoopMs
      )
    if (worstHalfRate === undefined)
      notMeasured("/mirrorlist p99 at half rate", `≤ ${TARGET.p99Ms} ms`, "no run at half rate")
    else
      judge(
        "/mirrorlist p99 at half rate, during them",
        `≤ ${TARGET.p99Ms} ms`,
        `${ms(worstHalfRate.latencyMs.p99)} worst 5 s chunk of ${halfRateRuns.length} at ${thousands(halfRate)}/s (max ${ms(
          Math.max(...halfRateRuns.map((r) => r.latencyMs.max))
        )}; ${thousands(halfRateRuns.reduce((n, r) => n + r.errors + r.timeouts, 0))} requests failed or timed out ` +
          `(10 s), ${thousands(halfRateRuns.reduce((n, r) => n + (r.statusCounts["200"] ?? 0), 0))} answered 200)`,
        halfRateRuns.every((r) => r.latencyMs.p99 <= TARGET.p99Ms && r.errors + r.timeouts === 0)
      )
    judge(
      "one check-in alone, end to end",
      `≤ ${TARGET.oneCheckinSeconds} s`,
      `${seconds(aloneMs)} for ${thousands(alone!.directories)} directories (${aloneReply})`,
      aloneReply === "checked in successful" && aloneMs <= TARGET.oneCheckinSeconds * 1000
    )
    const succeeded = replies["checked in successful"] ?? 0
    judge(
      `${all.length} check-ins at once`,
      `≤ ${TARGET.allCheckinsSeconds} s for 300${all.length === 300 ? "" : `; ${all.length} run (BENCH_SCALE_CHECKINS)`}`,
      `${seconds(allMs)}, ${succeeded} of ${all.length} successful`,
      succeeded === all.length && allMs <= TARGET.allCheckinsSeconds * 1000
    )
    if (delays.length === 0)
      notMeasured(
        "a change in both nodes' answers, p99",
        `≤ ${TARGET.changeSeconds} s`,
        `no change reached both nodes within 5 s (${missed} tried; check-ins must write the up-to-date bits)`
      )
    else
      judge(
        "a change in both nodes' answers, p99",
        `≤ ${TARGET.changeSeconds} s`,
        `${ms(percentile(delays, 0.99))} over ${delays.length} changes${missed > 0 ? `, ${missed} missed` : ""}`,
        missed === 0 && percentile(delays, 0.99) <= TARGET.changeSeconds * 1000
      )
    const followerMs = readMsPerChange.every((read) => read !== undefined)
      ? Math.max(...readMsPerChange.map((read) => read!.ms))
      : undefined
    if (followerMs !== undefined)
      judge(
        "database time per change per node",
        `≤ ${TARGET.changeDatabaseMs} ms`,
        `${ms(followerMs)} (worst node; its change reads, mm_changes_read_seconds_total)`,
        followerMs <= TARGET.changeDatabaseMs
      )
    else if (databasePerNode === undefined || applied === 0)
      notMeasured(
        "database time per change per node",
        `≤ ${TARGET.changeDatabaseMs} ms`,
        databasePerNode === undefined ? "pg_stat_statements could not be loaded" : "no change applied"
      )
    else {
      const worst = Math.max(...databasePerNode.map((row) => row.ms / applied))
      judge(
        "database time per change per node",
        `≤ ${TARGET.changeDatabaseMs} ms`,
        `${ms(worst)} (worst node; every statement of its role, check-in writes included where the host's entity lives)`,
        worst <= TARGET.changeDatabaseMs
      )
    }
    judgeThroughput()
  } finally {
    forgetSignals()
    const cleanupStart = performance.now()
    await cleanup()
    line("cleaned up", seconds(performance.now() - cleanupStart))
    line("whole run", seconds(performance.now() - began))
    if (verdicts.length > 0) {
      console.log("  targets (issue 15):")
      for (const v of verdicts) console.log(`  ${show(v)}`)
    }
  }
}
