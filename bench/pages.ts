// Public pages benchmark (docs/pages.md#speed): the redirector benchmark's world (2,000 hosts, 200 categories,
// 2,000 repo/arch pairs) served by a real node (its own process). For each page: the first rendering (from the
// database) and how long the node's event loop was held up by it (mm_event_loop_delay_max_seconds, reset by each
// scrape); then the pages served from the page cache at full speed by autocannon (its own process), and /mirrorlist's
// p99 at a steady rate alone and with the pages asked for beside it. Prints figures; nothing here fails a run.

import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { databaseLayer } from "@mirrormanager/actors/db"
import { type RunningPostgres, startEmbeddedPostgres } from "@mirrormanager/cluster-node/db"
import { freePort, NODE_RUNTIME_FLAGS, withRuntimeEnv } from "@mirrormanager/cluster-node/node"
import { Cause, Effect, Exit, Redacted } from "effect"
import {
  benchNodeEnv,
  cleanUpOnSignal,
  get,
  line,
  load,
  mb,
  ms,
  parseMetrics,
  procMemory,
  requestMix,
  type Spawned,
  seconds,
  spawnChild,
  stopChild,
  thousands,
  waitFor
} from "./redirector.ts"
import type { LoadResult } from "./redirectorLoad.ts"
import { generateWorld, requestMaterial } from "./redirectorWorld.ts"

const ADMIN_TOKEN = "mm_bench-pages-admin"
const SECONDS = Number(process.env.BENCH_PAGES_SECONDS) > 0 ? Number(process.env.BENCH_PAGES_SECONDS) : 5
/** /mirrorlist's steady rate while the pages are asked for (well below what the node sustains). */
const MIRRORLIST_RATE = 1_000

const describe = (result: LoadResult) =>
  `${thousands(result.requestsPerSecond)} req/s, p50 ${ms(result.latencyMs.p50)}, p99 ${ms(result.latencyMs.p99)}, ` +
  `max ${ms(result.latencyMs.max)}; ${thousands(result.bytesPerResponse)} bytes each; statuses ${JSON.stringify(result.statusCounts)}`

export const run = async () => {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), "mm-bench-pages-"))
  fs.chmodSync(temp, 0o755)
  let postgres: RunningPostgres | undefined
  let node: Spawned | undefined
  let cleaned: Promise<void> | undefined
  const cleanup = () =>
    (cleaned ??= (async () => {
      await stopChild(node)
      if (postgres !== undefined) await postgres.stop().catch((error) => console.error("stopping PostgreSQL:", error))
      fs.rmSync(temp, { recursive: true, force: true })
    })())
  const forgetSignals = cleanUpOnSignal(`stopping the node and PostgreSQL, removing ${temp}`, cleanup)
  try {
    postgres = await startEmbeddedPostgres({
      dataDir: path.join(temp, "postgres"),
      port: await freePort(),
      database: "mirrormanager_bench"
    })
    let start = performance.now()
    const exit = await Effect.runPromiseExit(
      Effect.gen(function* () {
        const counts = yield* generateWorld({ packageDirectories: false })
        const material = yield* requestMaterial
        return { counts, material }
      }).pipe(Effect.provide(databaseLayer(Redacted.make(postgres.url), { maxConnections: 2 })))
    )
    if (Exit.isFailure(exit)) throw new Error(`generating the world failed:\n${Cause.pretty(exit.cause)}`)
    const { counts, material } = exit.value
    line("world (SQL)", `${seconds(performance.now() - start)}: hosts ${thousands(counts.hosts ?? 0)}`)

    const port = await freePort()
    const origin = `http://127.0.0.1:${port}`
    const env = await benchNodeEnv({
      databaseUrl: postgres.url,
      port,
      dataDir: path.join(temp, "node"),
      adminToken: ADMIN_TOKEN
    })
    env.MM_ACCESS_LOG = "off"
    start = performance.now()
    node = spawnChild(
      [...NODE_RUNTIME_FLAGS, "packages/cluster-node/src/main.ts", "serve"],
      path.join(temp, "node.log"),
      withRuntimeEnv(env)
    )
    const spawned = node
    await waitFor("the index (mm_index_ready 1)", spawned, 120_000, async () => {
      const metrics = parseMetrics(await (await get(`${origin}/metrics`)).text())
      return metrics.get("mm_index_ready") === 1 ? true : undefined
    })
    await waitFor("/mirrors answering", spawned, 60_000, async () =>
      (await get(`${origin}/healthz/ready`)).status === 200 ? true : undefined
    )
    line("node ready", seconds(performance.now() - start))

    // The pages: the whole list, one product's, one version's, one version and arch's, a country's, a host, and
    // the others people look at.
    const catalog = (await (await fetch(`${origin}/mirrors`, { headers: { accept: "application/json" } })).json()) as {
      catalog: { products: Array<{ name: string; versions: Array<{ name: string; arches: Array<string> }> }> }
      mirrors: Array<{ id: number }>
      total: number
    }
    const product = catalog.catalog.products.find((p) => p.versions.length > 0)
    if (product === undefined) throw new Error("the world lists no product with versions")
    const version = product.versions[0]!
    const pages = [
      "/",
      "/mirrors",
      `/mirrors/${encodeURIComponent(product.name)}`,
      `/mirrors/${encodeURIComponent(product.name)}/${encodeURIComponent(version.name)}`,
      `/mirrors/${encodeURIComponent(product.name)}/${encodeURIComponent(version.name)}/${encodeURIComponent(version.arches[0]!)}`,
      "/mirrors?country=DE",
      "/mirrors?sort=-bandwidth",
      `/mirrors/hosts/${catalog.mirrors[0]?.id ?? 1}`,
      "/map",
      "/propagation",
      "/statistics"
    ]
    line("public mirrors listed", `${thousands(catalog.total)} on /mirrors`)
    console.log("  first rendering (from the database) and the event loop's longest delay meanwhile:")
    const served: Array<string> = []
    for (const page of pages) {
      await get(`${origin}/metrics`) // resets the longest delay
      const began = performance.now()
      const response = await get(`${origin}${page}`)
      const body = await response.arrayBuffer()
      const first = performance.now() - began
      const stall = parseMetrics(await (await get(`${origin}/metrics`)).text()).get("mm_event_loop_delay_max_seconds")
      const again = performance.now()
      await (await get(`${origin}${page}`)).arrayBuffer()
      const cached = performance.now() - again
      if (response.status === 200) served.push(page)
      line(
        `    ${page.length > 34 ? `${page.slice(0, 33)}…` : page}`,
        `${response.status} ${mb(body.byteLength).trim() === "0 MB" ? `${thousands(body.byteLength / 1024)} KB` : mb(body.byteLength)}, first ${ms(first)}, ` +
          `kept ${ms(cached)}; event loop held up ${stall === undefined ? "?" : ms(stall * 1000)}`
      )
    }

    // The load generator shares the paths out among its connections: each needs some.
    const pagePaths = Array.from({ length: Math.max(40, served.length) }, (_, i) => served[i % served.length]!)
    const pagesLoad = await load(temp, "pages", {
      origin,
      paths: pagePaths,
      mode: "max",
      connections: 20,
      warmupSeconds: 1,
      durationSeconds: SECONDS,
      ...(spawned.child.pid === undefined ? {} : { serverPid: spawned.child.pid })
    })
    line("pages from the cache, full speed", describe(pagesLoad))

    const mix = requestMix(material.repos, material.netblocks, material.redirectedRepos)
    const mirrorlists = mix.queries.slice(0, 2_000).map((query) => `/mirrorlist?${query}`)
    const steady = { origin, paths: mirrorlists, mode: "paced" as const, connections: 50, warmupSeconds: 1 }
    const alone = await load(temp, "mirrorlist alone", { ...steady, durationSeconds: SECONDS, rate: MIRRORLIST_RATE })
    line(`/mirrorlist at ${thousands(MIRRORLIST_RATE)}/s alone`, describe(alone))
    const [beside, pagesBeside] = await Promise.all([
      load(temp, "mirrorlist beside pages", { ...steady, durationSeconds: SECONDS, rate: MIRRORLIST_RATE }),
      load(temp, "pages beside mirrorlist", {
        origin,
        paths: pagePaths,
        mode: "paced",
        connections: 10,
        warmupSeconds: 1,
        durationSeconds: SECONDS,
        rate: 200
      })
    ])
    line(`/mirrorlist ${thousands(MIRRORLIST_RATE)}/s + pages 200/s`, describe(beside))
    line("  the pages meanwhile", describe(pagesBeside))
    line("node RSS", mb(procMemory(spawned.child.pid).rss))
  } finally {
    forgetSignals()
    await cleanup()
  }
}
