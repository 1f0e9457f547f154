// Many redirector nodes, one primary (docs/redirector.md#the-index-feed, docs/operations.md#topology): what N nodes
// that follow changes cost the database, for N = 1 and N = 20. One embedded PostgreSQL with the redirector
// benchmark's world (bench/redirectorWorld.ts), one full node (`mirrormanager serve`, its own process) and N followers
// (each its own process: a Redirector kept current by the feed follower, or for contrast by the change follower
// reading the database), a TCP proxy in front of PostgreSQL for the full node and one for the followers, each counting
// the bytes both ways and the queries (the frontend's Query 'Q' and Execute 'E' messages). While one change a second
// is written straight into the database (not through a proxy: a host's bandwidth, then a flipped up-to-date bit,
// as a check-in would), the proxies count what the nodes that follow cost: queries/s and bytes/minute, for N = 1 and
// N = 20, their ratio against the target (≤ 2×) and a verdict; the start-up (the index load) separately.
// BENCH_FOLLOWERS_SECONDS (default 60) sets the length of a run, BENCH_FOLLOWERS_COUNTS (default "1,20") the Ns.
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { PgClient } from "@effect/sql-pg"
import { databaseLayer } from "@mirrormanager/actors/db"
import { GeoIp, NetworkData } from "@mirrormanager/actors/ipdata"
import {
  ChangeFollowerLayer,
  defaultChangeFollowerOptions,
  defaultFeedFollowerOptions,
  defaultRedirectorSettings,
  FeedFollowerLayer,
  Redirector
} from "@mirrormanager/actors/redirector"
import { type RunningPostgres, startEmbeddedPostgres } from "@mirrormanager/cluster-node/db"
import { freePort, NODE_RUNTIME_FLAGS, withRuntimeEnv } from "@mirrormanager/cluster-node/node"
import { Cause, Effect, Exit, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { type Spawned, sleep, spawnChild, stopChild, tail } from "./redirector.ts"
import { generateWorld } from "./redirectorWorld.ts"

const FEED_TOKEN = "mm_bench-followers-feed-token-0123456789"
const ADMIN_TOKEN = "mm_bench-followers-admin"
/** The target: the database's work for 20 followers at most this many times that for one. */
const TARGET_RATIO = 2

type Mode = "feed" | "database"

interface FollowerConfig {
  readonly mode: Mode
  readonly feed: string
  readonly databaseUrl: string
  readonly asnFile: string
}

interface FollowerReport {
  readonly ready: boolean
  readonly applied: number
  readonly rss: number
}

// ---------------------------------------------------------------------------------------------------------------
// A follower: its own process, its Redirector kept current by the feed or by the database, its state sent to the
// bench every half second.

const follower = (config: FollowerConfig) => {
  const following =
    config.mode === "feed"
      ? FeedFollowerLayer({
          ...defaultFeedFollowerOptions,
          upstreams: [config.feed],
          token: Redacted.make(FEED_TOKEN),
          snapshotFile: undefined
        })
      : ChangeFollowerLayer({ ...defaultChangeFollowerOptions, snapshotFile: undefined }).pipe(
          Layer.provide(
            PgClient.layer({
              url: Redacted.make(config.databaseUrl),
              maxConnections: 3,
              applicationName: "mirrormanager bench follower"
            })
          )
        )
  const layer = following.pipe(
    Layer.provideMerge(Redirector.layer(defaultRedirectorSettings)),
    Layer.provide([GeoIp.layer, NetworkData.layer({ asnFile: config.asnFile })])
  )
  const program = Effect.gen(function* () {
    const redirector = yield* Redirector
    while (true) {
      const status = redirector.status()
      const report: FollowerReport = {
        ready: status.index !== undefined && status.following,
        applied: status.changesApplied,
        rss: process.memoryUsage().rss
      }
      process.send?.(report)
      yield* Effect.sleep("500 millis")
    }
  }).pipe(Effect.provide(layer))
  Effect.runFork(program)
  process.on("disconnect", () => process.exit(0))
}

// ---------------------------------------------------------------------------------------------------------------
// The counting proxy.

interface ProxyCounts {
  queries: number
  toDatabase: number
  fromDatabase: number
  connections: number
}

interface Proxy {
  readonly port: number
  readonly counts: ProxyCounts
  readonly reset: () => void
  readonly close: () => Promise<void>
}

const SSL_REQUEST = 80877103
const GSS_REQUEST = 80877104
const QUERY = "Q".charCodeAt(0)
const EXECUTE = "E".charCodeAt(0)

/** A TCP proxy to `target` that counts bytes both ways and the frontend's Query and Execute messages. */
const startProxy = (target: number) =>
  new Promise<Proxy>((resolve, reject) => {
    const counts: ProxyCounts = { queries: 0, toDatabase: 0, fromDatabase: 0, connections: 0 }
    const sockets = new Set<net.Socket>()
    const server = net.createServer((client) => {
      counts.connections++
      const database = net.connect(target, "127.0.0.1")
      sockets.add(client)
      sockets.add(database)
      // The frontend's messages: a start-up message (length, code), then type byte + length; bodies are skipped.
      let started = false
      let header = Buffer.alloc(0)
      let skip = 0
      client.on("data", (chunk: Buffer) => {
        counts.toDatabase += chunk.length
        let i = 0
        while (i < chunk.length) {
          if (skip > 0) {
            const n = Math.min(skip, chunk.length - i)
            skip -= n
            i += n
            continue
          }
          const need = started ? 5 : 8
          const n = Math.min(need - header.length, chunk.length - i)
          header = Buffer.concat([header, chunk.subarray(i, i + n)])
          i += n
          if (header.length < need) break
          if (!started) {
            const length = header.readInt32BE(0)
            const code = header.readInt32BE(4)
            header = Buffer.alloc(0)
            if (length === 8 && (code === SSL_REQUEST || code === GSS_REQUEST)) continue
            started = true
            skip = length - 8
          } else {
            const type = header[0]!
            const length = header.readInt32BE(1)
            header = Buffer.alloc(0)
            if (type === QUERY || type === EXECUTE) counts.queries++
            skip = length - 4
          }
        }
      })
      database.on("data", (chunk: Buffer) => {
        counts.fromDatabase += chunk.length
      })
      client.pipe(database)
      database.pipe(client)
      const end = () => {
        client.destroy()
        database.destroy()
        sockets.delete(client)
        sockets.delete(database)
      }
      client.on("error", end).on("close", end)
      database.on("error", end).on("close", end)
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      resolve({
        port: address.port,
        counts,
        reset: () => {
          counts.queries = 0
          counts.toDatabase = 0
          counts.fromDatabase = 0
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })

// ---------------------------------------------------------------------------------------------------------------
// Processes.

/** A follower process and the last report it sent. */
interface Follower extends Spawned {
  last: FollowerReport | undefined
}

const spawnFollower = (args: ReadonlyArray<string>, logFile: string, env: NodeJS.ProcessEnv): Follower => {
  const follower: Follower = { ...spawnChild(args, logFile, env, true), last: undefined }
  follower.child.on("message", (message) => {
    follower.last = message as FollowerReport
  })
  return follower
}

const until = async (what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, logs: () => string) => {
  const deadline = Date.now() + timeoutMs
  while (!(await Promise.resolve(check()).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs / 1000} s:\n${logs()}`)
    await sleep(200)
  }
}

const viaPort = (url: string, port: number) => {
  const parsed = new URL(url)
  parsed.port = String(port)
  return parsed.href
}

// ---------------------------------------------------------------------------------------------------------------
// The changes: one a second, straight into the database.

const writeChanges = (url: string, seconds: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const hosts = yield* sql<{ id: number }>`SELECT id FROM hosts ORDER BY id LIMIT 100`
    const bits = yield* sql<{ id: number }>`SELECT host_category_id AS id FROM host_category_up2date
      WHERE length(bits) > 0 ORDER BY 1 LIMIT 100`
    const [before] = yield* sql<{ seq: number }>`SELECT coalesce(max(seq), 0)::float8 AS seq FROM changes`
    const began = Date.now()
    for (let i = 0; i < seconds; i++) {
      if (i % 2 === 0 || bits.length === 0) {
        yield* sql`UPDATE hosts SET bandwidth = bandwidth + 1 WHERE id = ${hosts[i % hosts.length]!.id}`
      } else {
        yield* sql`UPDATE host_category_up2date SET bits = set_bit(bits, 0, 1 - get_bit(bits, 0))
          WHERE host_category_id = ${bits[i % bits.length]!.id}`
      }
      const wait = began + (i + 1) * 1000 - Date.now()
      if (wait > 0) yield* Effect.sleep(wait)
    }
    const [after] = yield* sql<{ count: number }>`SELECT count(*)::int AS count FROM changes WHERE seq > ${before!.seq}`
    return after!.count
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })))

// ---------------------------------------------------------------------------------------------------------------

interface Figures {
  readonly mode: Mode
  readonly n: number
  readonly seconds: number
  readonly changes: number
  readonly full: ProxyCounts
  readonly followers: ProxyCounts
  /** Bytes (both ways) the followers' start-up cost the database, per follower. */
  readonly loadBytesPerFollower: number
  readonly loadQueriesPerFollower: number
  /** The fewest changes a follower applied in the run. */
  readonly minApplied: number
  readonly rssMiB: number
  readonly readyMs: number
}

const thousands = (n: number) => Math.round(n).toLocaleString("en-US")
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`

export const run = async () => {
  const seconds = Number(process.env.BENCH_FOLLOWERS_SECONDS ?? 60)
  const counts = (process.env.BENCH_FOLLOWERS_COUNTS ?? "1,20").split(",").map(Number)
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), "mm-bench-followers-"))
  fs.chmodSync(temp, 0o755)
  const asnFile = path.join(temp, "asn.txt")
  fs.writeFileSync(asnFile, "192.0.2.0/24 64500\n")
  let postgres: RunningPostgres | undefined
  let full: Spawned | undefined
  const proxies: Array<Proxy> = []
  const running: Array<Follower> = []
  const cleanup = async () => {
    await Promise.all(running.map((child) => stopChild(child, 3_000)))
    if (full !== undefined) await stopChild(full)
    for (const proxy of proxies) await proxy.close()
    if (postgres !== undefined) await postgres.stop().catch((error) => console.error("stopping PostgreSQL:", error))
    fs.rmSync(temp, { recursive: true, force: true })
  }
  try {
    postgres = await startEmbeddedPostgres({
      dataDir: path.join(temp, "postgres"),
      port: await freePort(),
      database: "mirrormanager_bench"
    })
    const directUrl = postgres.url
    const started = performance.now()
    const world = await Effect.runPromiseExit(
      generateWorld({ packageDirectories: false }).pipe(
        Effect.provide(databaseLayer(Redacted.make(directUrl), { maxConnections: 2 }))
      )
    )
    if (Exit.isFailure(world)) throw new Error(`generating the world failed:\n${Cause.pretty(world.cause)}`)
    console.log(
      `world: ${Object.entries(world.value)
        .map(([table, count]) => `${table} ${thousands(count)}`)
        .join(", ")} (${((performance.now() - started) / 1000).toFixed(1)} s)`
    )

    const fullProxy = await startProxy(Number(new URL(directUrl).port))
    const followerProxy = await startProxy(Number(new URL(directUrl).port))
    proxies.push(fullProxy, followerProxy)

    // The full node.
    const port = await freePort()
    const origin = `http://127.0.0.1:${port}`
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith("MM_") && key !== "DATABASE_URL")
    )
    full = spawnChild(
      [...NODE_RUNTIME_FLAGS, "packages/cluster-node/src/main.ts", "serve"],
      path.join(temp, "full.log"),
      withRuntimeEnv({
        ...env,
        DATABASE_URL: viaPort(directUrl, fullProxy.port),
        MM_HTTP_HOST: "127.0.0.1",
        MM_HTTP_PORT: String(port),
        MM_RUNNER_PORT: String(await freePort()),
        MM_DATA_DIR: path.join(temp, "full"),
        MM_ADMIN_TOKEN: ADMIN_TOKEN,
        MM_INDEX_FEED_TOKEN: FEED_TOKEN,
        MM_LOG_LEVEL: "Warn",
        MM_ACCESS_LOG: "off",
        MM_SCAN_INTERVAL: "0 seconds",
        MM_CRAWL_INTERVAL: "0 seconds",
        MM_CRAWL_REPODATA_INTERVAL: "0 seconds",
        MM_CRAWL_CANARY_INTERVAL: "0 seconds"
      })
    )
    const fullNode = full
    await until(
      "full node serving its index feed",
      180_000,
      async () =>
        (
          await fetch(`${origin}/internal/index/snapshot`, {
            method: "HEAD",
            headers: { authorization: `Bearer ${FEED_TOKEN}` },
            signal: AbortSignal.timeout(5_000)
          })
        ).status === 200,
      () => tail(fullNode.logFile)
    )
    const snapshotStarted = performance.now()
    const snapshot = await fetch(`${origin}/internal/index/snapshot`, {
      headers: { authorization: `Bearer ${FEED_TOKEN}` }
    })
    const snapshotBytes = (await snapshot.arrayBuffer()).byteLength
    console.log(
      `full node ready on ${origin}; its index from the feed: ${mib(snapshotBytes)} gzip in ` +
        `${((performance.now() - snapshotStarted) / 1000).toFixed(2)} s`
    )

    const figures: Array<Figures> = []
    for (const mode of ["feed", "database"] as const) {
      for (const n of counts) {
        fullProxy.reset()
        followerProxy.reset()
        const spawnedAt = performance.now()
        const config: FollowerConfig = {
          mode,
          feed: origin,
          databaseUrl: viaPort(directUrl, followerProxy.port),
          asnFile
        }
        for (let i = 0; i < n; i++) {
          running.push(
            spawnFollower(
              [path.join(import.meta.dirname, "followers.ts"), "--follower", JSON.stringify(config)],
              path.join(temp, `follower-${mode}-${n}-${i}.log`),
              env
            )
          )
        }
        await until(
          `${n} followers (${mode}) with a current index`,
          600_000,
          () => running.every((child) => child.last?.ready === true),
          () => running.map((child) => `${child.logFile}:\n${tail(child.logFile, 5)}`).join("\n")
        )
        const readyMs = performance.now() - spawnedAt
        // The start-up: what the followers' index loads cost the database (the full node's part is steady).
        const loadBytesPerFollower = (followerProxy.counts.toDatabase + followerProxy.counts.fromDatabase) / n
        const loadQueriesPerFollower = followerProxy.counts.queries / n
        await sleep(2_000)
        const appliedBefore = running.map((child) => child.last?.applied ?? 0)
        fullProxy.reset()
        followerProxy.reset()
        const windowStart = performance.now()
        const changes = await Effect.runPromise(writeChanges(directUrl, seconds))
        const windowSeconds = (performance.now() - windowStart) / 1000
        const fullCounts = { ...fullProxy.counts }
        const followerCounts = { ...followerProxy.counts }
        // The last change reaches every follower (given a few seconds more).
        await until(
          "every follower applying the run's changes",
          30_000,
          () => running.every((child, i) => (child.last?.applied ?? 0) - appliedBefore[i]! >= changes),
          () => running.map((child) => `${child.logFile}:\n${tail(child.logFile, 5)}`).join("\n")
        ).catch((error) => console.error(String(error).split("\n")[0]))
        const minApplied = Math.min(...running.map((child, i) => (child.last?.applied ?? 0) - appliedBefore[i]!))
        const rssMiB = running.reduce((sum, child) => sum + (child.last?.rss ?? 0), 0) / running.length / 1024 / 1024
        figures.push({
          mode,
          n,
          seconds: windowSeconds,
          changes,
          full: fullCounts,
          followers: followerCounts,
          loadBytesPerFollower,
          loadQueriesPerFollower,
          minApplied,
          rssMiB,
          readyMs
        })
        const f = figures[figures.length - 1]!
        console.log(
          `${mode.padEnd(8)} N=${String(n).padStart(2)}: ${describe(f)}; ready in ${(readyMs / 1000).toFixed(1)} s, ` +
            `follower RSS ${f.rssMiB.toFixed(0)} MiB, fewest changes applied ${f.minApplied}/${f.changes}`
        )
        await Promise.all(running.map((child) => stopChild(child, 3_000)))
        running.length = 0
      }
    }
    report(figures)
  } finally {
    await cleanup()
  }
}

const perSecond = (f: Figures, counts: ProxyCounts) => counts.queries / f.seconds
const perMinute = (f: Figures, counts: ProxyCounts) => ((counts.toDatabase + counts.fromDatabase) / f.seconds) * 60
const total = (f: Figures): ProxyCounts => ({
  queries: f.full.queries + f.followers.queries,
  toDatabase: f.full.toDatabase + f.followers.toDatabase,
  fromDatabase: f.full.fromDatabase + f.followers.fromDatabase,
  connections: f.full.connections + f.followers.connections
})

const describe = (f: Figures) =>
  `${perSecond(f, total(f)).toFixed(2)} queries/s, ${mib(perMinute(f, total(f)))}/min on the database ` +
  `(full node ${perSecond(f, f.full).toFixed(2)} q/s ${mib(perMinute(f, f.full))}/min; ` +
  `followers ${perSecond(f, f.followers).toFixed(2)} q/s ${mib(perMinute(f, f.followers))}/min); ` +
  `start-up per follower ${thousands(f.loadQueriesPerFollower)} queries ${mib(f.loadBytesPerFollower)}`

const report = (figures: ReadonlyArray<Figures>) => {
  console.log()
  console.log("the database's work while one change a second reaches every node (queries/s, bytes/minute):")
  for (const mode of ["feed", "database"] as const) {
    const of = figures.filter((f) => f.mode === mode).sort((a, b) => a.n - b.n)
    const one = of[0]
    const many = of[of.length - 1]
    if (one === undefined || many === undefined || one === many) continue
    const queries = perSecond(many, total(many)) / perSecond(one, total(one))
    const bytes = perMinute(many, total(many)) / perMinute(one, total(one))
    // The index loads, spread over the change follower's rebuild interval (15 minutes): what steady state costs.
    const rebuildMinutes = 15
    const amortized = (f: Figures) =>
      perMinute(f, total(f)) + (f.mode === "database" ? (f.loadBytesPerFollower * f.n) / rebuildMinutes : 0)
    const withRebuilds = amortized(many) / amortized(one)
    const label = mode === "feed" ? "followers fed by the full node (MM_INDEX_FEED)" : "followers reading the database"
    console.log(`  ${label}:`)
    for (const f of of) console.log(`    N=${String(f.n).padStart(2)}: ${describe(f)}`)
    const verdict = (ratio: number) => (ratio <= TARGET_RATIO ? "ok" : "MISSED")
    console.log(
      `    N=${many.n} / N=${one.n}: queries/s ${queries.toFixed(2)}× (target ≤ ${TARGET_RATIO}×) ${verdict(queries)}; ` +
        `bytes/minute ${bytes.toFixed(2)}× (target ≤ ${TARGET_RATIO}×) ${verdict(bytes)}; ` +
        `with the index rebuilds every ${rebuildMinutes} min ${withRebuilds.toFixed(2)}× ${verdict(withRebuilds)}`
    )
  }
}

if (process.argv[2] === "--follower") follower(JSON.parse(process.argv[3]!) as FollowerConfig)
