// `npm run demo`: a first answer within a minute. In a directory and on ports of its own (so it runs beside a node
// of `npm start`), it starts a real node, writes a small yum repository as the master tree, serves two fresh copies
// and one stale copy of it from loopback addresses, registers them through the admin API, scans the master tree,
// crawls the mirrors, and prints the /metalink and /mirrorlist URLs, the mirrorlist (fresh mirrors, not the stale
// one) and a dnf .repo stanza. It stays up until Ctrl-C (or SIGTERM), which stops the node, its PostgreSQL and the
// mirrors, and exits 0.
//
// Every run starts fresh: the last run's directory (its database included) is removed first.
//
// Settings (environment): MM_DEMO_DIR (var/demo), MM_DEMO_HTTP_PORT (8090), MM_DEMO_PG_PORT (54330),
// MM_DEMO_RUNNER_PORT (34435). The shell's MM_* and DATABASE_URL settings are not passed to the demo's node.
//
// `npm run demo -- --write-tree DIR` only writes the master tree, as a category's master path (DIR/9/Everything/x86_64
// with packages and repodata), and exits: a test master tree for a node of your own.
import { type ChildProcess, spawn } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { isAlive, postgresProcesses, stopPostgresNow } from "../db/index.ts"
import { NODE_RUNTIME_FLAGS, RELAYED_SIGNAL_MS, waitUntilReady, withRuntimeEnv } from "../node/index.ts"
import {
  backdateDirectories,
  type DemoPackage,
  type StaticMirror,
  serveMirror,
  writeRepository
} from "./DemoRepository.ts"

const ROOT = path.resolve(import.meta.dirname, "../../../..")
const MAIN = path.join(ROOT, "packages/cluster-node/src/main.ts")
/** Marks a directory as the demo's, so that a fresh run may remove it. */
const MARKER = ".mirrormanager-demo"

const started = Date.now()
const say = (line: string) => console.log(`demo: ${line}`)
const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

class DemoError extends Error {}

const setting = (variable: string, fallback: number) => {
  const text = process.env[variable]
  const port = text === undefined || text === "" ? fallback : Number(text)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`demo: ${variable} must be a port (1-65535), not "${text}"`)
    process.exit(1)
  }
  return { variable, port }
}
const httpPort = setting("MM_DEMO_HTTP_PORT", 8090)
const pgPort = setting("MM_DEMO_PG_PORT", 54330)
const runnerPort = setting("MM_DEMO_RUNNER_PORT", 34435)
/** Where the person ran npm from (npm runs scripts in the project's directory). */
const cwd = process.env.INIT_CWD || process.cwd()
const demoDir = path.resolve(cwd, process.env.MM_DEMO_DIR || path.join(ROOT, "var/demo"))
const dataDir = path.join(demoDir, "node")
/** The node's embedded PostgreSQL (MM_DATA_DIR/postgres). */
const postgresDir = path.join(dataDir, "postgres")
const nodeLog = path.join(demoDir, "node.log")
const pidFile = path.join(demoDir, "node.pid")
const token = `mm_demo-${randomBytes(18).toString("base64url")}`
const nodeUrl = `http://127.0.0.1:${httpPort.port}`

// The content: the "Fedora EPEL" category (top directory pub/epel), whose repository 9/Everything/x86_64 the
// built-in repository rules name epel-9 / x86_64.
const TOPDIR = "pub/epel"
const REPO_DIR = "9/Everything/x86_64"
const REPO = "epel-9"
const ARCH = "x86_64"
const metalinkUrl = `${nodeUrl}/metalink?repo=${REPO}&arch=${ARCH}`
const mirrorlistUrl = `${nodeUrl}/mirrorlist?repo=${REPO}&arch=${ARCH}`

const hello: DemoPackage = { name: "mm-demo-hello", version: "1.0", release: "1", summary: "Says hello" }
const world: DemoPackage = { name: "mm-demo-world", version: "1.0", release: "1", summary: "Says world" }

interface DemoMirror {
  readonly name: string
  readonly fresh: boolean
  readonly server: StaticMirror
  /** The repository's base URL on the mirror, as a mirrorlist gives it. */
  readonly baseUrl: string
}

let node: { readonly child: ChildProcess; readonly exited: Promise<number | null> } | undefined
const mirrors: Array<DemoMirror> = []
let stopping: Promise<never> | undefined
let firstSignalAt = 0
let stoppingAtOnce = false

/** Stops the node, its PostgreSQL and the mirrors, then exits with `code`. */
const stop = (code: number) =>
  (stopping ??= (async () => {
    if (node !== undefined && node.child.exitCode === null && node.child.signalCode === null) {
      say(`stopping the node (pid ${node.child.pid}) and its PostgreSQL`)
      node.child.kill("SIGTERM")
      const timer = setTimeout(() => {
        say("the node did not stop within 30 s: killing it and its PostgreSQL")
        killNode()
      }, 30_000)
      await node.exited
      clearTimeout(timer)
      if (stoppingAtOnce) process.exit(130)
    }
    if (mirrors.length > 0) say("stopping the mirrors")
    await Promise.all(mirrors.map((m) => m.server.close()))
    fs.rmSync(pidFile, { force: true })
    say("stopped")
    process.exit(code)
  })())

/**
 * Kills the node (a process group of its own) and its PostgreSQL, which runs in a session of its own (so that no group
 * signal reaches it) and which a node killed with SIGKILL cannot stop: immediate shutdown, then SIGKILL.
 */
const killNode = () => {
  const pid = node?.child.pid
  if (pid !== undefined) {
    try {
      process.kill(-pid, "SIGKILL")
    } catch {
      // Already gone.
    }
  }
  const stopped = stopPostgresNow(postgresDir)
  if (stopped.length > 0) say(`stopped its PostgreSQL (pid ${stopped[0]}) at once`)
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // One Ctrl-C can arrive twice: from the terminal and forwarded by npm. A later one does not wait any more.
    if (stopping === undefined) {
      firstSignalAt = Date.now()
      void stop(0)
    } else if (Date.now() - firstSignalAt > RELAYED_SIGNAL_MS && !stoppingAtOnce) {
      stoppingAtOnce = true
      say("stopping at once")
      killNode()
      fs.rmSync(pidFile, { force: true })
      // The killed node is reaped (its exit seen) before we exit, so that no process of it is left, not even a zombie.
      void Promise.race([node?.exited, sleep(2_000)]).then(() => process.exit(130))
    }
  })
}

/** Whether nothing listens on 127.0.0.1:`port`. */
const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

/**
 * A node left by an earlier demo that was killed (its pid file names it), and the PostgreSQL of the demo's directory
 * if it outlived its node: stopped, so that this run can start fresh on the same ports and remove that directory.
 */
const stopLeftovers = async () => {
  const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").trim()) : 0
  let cmdline = ""
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")
  } catch {}
  if (pid > 0 && cmdline.includes(MAIN) && isAlive(pid)) {
    say(`stopping the node of an earlier demo (pid ${pid})`)
    process.kill(pid, "SIGTERM")
    for (let i = 0; i < 300 && isAlive(pid); i++) await sleep(100)
    if (isAlive(pid)) process.kill(-pid, "SIGKILL")
  }
  // Only in the demo's own directory (its marker): a server elsewhere is not the demo's to stop.
  const left = fs.existsSync(path.join(demoDir, MARKER)) ? postgresProcesses(postgresDir) : []
  if (left.length > 0) {
    say(`stopping the PostgreSQL of an earlier demo (pid ${left[0]}) that outlived its node`)
    stopPostgresNow(postgresDir)
    if (postgresProcesses(postgresDir).length > 0) {
      throw new DemoError(`PostgreSQL pid ${left[0]} of an earlier demo (${postgresDir}) did not stop`)
    }
  }
}

/** The demo's directory, empty but for its marker; a directory that is not the demo's is never removed. */
const freshDirectory = () => {
  if (fs.existsSync(demoDir) && fs.readdirSync(demoDir).length > 0) {
    if (!fs.existsSync(path.join(demoDir, MARKER))) {
      throw new DemoError(`${demoDir} exists and is not a demo directory: set MM_DEMO_DIR to another path`)
    }
    fs.rmSync(demoDir, { recursive: true, force: true })
  }
  fs.mkdirSync(demoDir, { recursive: true, mode: 0o755 })
  // As root, the embedded PostgreSQL runs as `postgres`, which must reach its directory.
  fs.chmodSync(demoDir, 0o755)
  fs.writeFileSync(path.join(demoDir, MARKER), "written by npm run demo; removed by the next run\n")
}

const tail = (file: string, lines = 30) => {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
  } catch {
    return "(no log)"
  }
}

/** Starts the node in a process group of its own, so that the terminal's Ctrl-C reaches this script only. */
const startNode = () => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("MM_") && name !== "DATABASE_URL") env[name] = value
  }
  const log = fs.openSync(nodeLog, "a")
  const child = spawn(process.execPath, [...NODE_RUNTIME_FLAGS, MAIN, "serve"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", log, log],
    env: withRuntimeEnv({
      ...env,
      MM_DATA_DIR: dataDir,
      MM_HTTP_HOST: "127.0.0.1",
      MM_HTTP_PORT: String(httpPort.port),
      MM_EMBEDDED_PG_PORT: String(pgPort.port),
      MM_RUNNER_HOST: "127.0.0.1",
      MM_RUNNER_PORT: String(runnerPort.port),
      MM_ADMIN_TOKEN: token,
      // The mirrors are on loopback addresses.
      MM_CRAWL_PRIVATE_ADDRESSES: "true",
      // Scans and crawls happen when the demo (or you) asks for them.
      MM_SCAN_INTERVAL: "0 seconds",
      MM_CRAWL_INTERVAL: "0 seconds",
      MM_CRAWL_REPODATA_INTERVAL: "0 seconds",
      MM_CRAWL_CANARY_INTERVAL: "0 seconds"
    })
  })
  fs.closeSync(log)
  fs.writeFileSync(pidFile, `${child.pid}\n`)
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  node = { child, exited }
  void exited.then((code) => {
    if (stopping === undefined) {
      console.error(`demo: the node exited (${code}) on its own; the end of ${nodeLog}:\n${tail(nodeLog)}`)
      void stop(1)
    }
  })
}

const awaitReady = async () => {
  if (!(await waitUntilReady(nodeUrl, Date.now() + 120_000))) {
    throw new DemoError(`the node did not become ready within 2 minutes`)
  }
}

/** An admin API call; anything but a 2xx answer ends the demo with the answer. */
const call = async (method: string, route: string, body?: unknown) => {
  const response = await fetch(`${nodeUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  if (response.status >= 300) throw new DemoError(`${method} ${route} answered ${response.status}: ${text}`)
  return text === "" ? undefined : JSON.parse(text)
}

/** The master tree and the mirrors' copies of it, written below the demo directory; the mirrors started. */
const writeTrees = async () => {
  const now = Math.floor(Date.now() / 1000)
  const master = path.join(demoDir, "master")
  const repository = (root: string) => path.join(root, TOPDIR, REPO_DIR)
  const repomd = writeRepository(repository(master), { packages: [hello, world], timestamp: now - 600 })
  // The stale mirror has the generation before: one package less, another repomd.xml.
  const staleRoot = path.join(demoDir, "mirrors/stale")
  const staleRepomd = writeRepository(repository(staleRoot), { packages: [hello], timestamp: now - 86_400 })
  const freshRoots = ["fresh-1", "fresh-2"].map((name) => path.join(demoDir, "mirrors", name))
  for (const root of freshRoots) fs.cpSync(master, root, { recursive: true, preserveTimestamps: true })
  const past = new Date((now - 600) * 1000)
  for (const root of [master, staleRoot, ...freshRoots]) backdateDirectories(root, past)
  const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex").slice(0, 12)
  say(
    `master tree ${path.join(master, TOPDIR)}: ${REPO_DIR} with 2 packages, repomd.xml sha256 ${sha(repomd)}…` +
      ` (the stale copy's: ${sha(staleRepomd)}…)`
  )
  const layout = [
    ["fresh-1", true, "127.0.0.11"],
    ["fresh-2", true, "127.0.0.12"],
    ["stale", false, "127.0.0.13"]
  ] as const
  for (const [name, fresh, address] of layout) {
    const server = await serveMirror(path.join(demoDir, "mirrors", name), address)
    mirrors.push({ name, fresh, server, baseUrl: `${server.url}/${TOPDIR}/${REPO_DIR}/` })
    say(
      `mirror ${name}: ${server.url}/${TOPDIR}/ (${fresh ? "a fresh copy" : "stale: the repository's last generation"})`
    )
  }
  return master
}

const register = async (master: string) => {
  const product = await call("POST", "/api/products", { name: "EPEL" })
  await call("POST", "/api/arches", { name: ARCH })
  const category = await call("POST", "/api/categories", {
    name: "Fedora EPEL",
    productId: product.id,
    topdir: TOPDIR,
    masterPath: path.join(master, TOPDIR)
  })
  say(`registered the content: product EPEL, arch ${ARCH}, category "Fedora EPEL" (master path ${master}/${TOPDIR})`)
  const hosts: Array<{ id: number; mirror: DemoMirror }> = []
  for (const mirror of mirrors) {
    const site = await call("POST", "/api/sites", { name: `${mirror.name} site`, password: "demo-check-in-password" })
    const host = await call("POST", `/api/sites/${site.id}/hosts`, {
      name: `${mirror.name}.mirror.test`,
      country: "SE"
    })
    const hostCategory = await call("POST", `/api/hosts/${host.id}/categories`, { categoryId: category.id })
    await call("POST", `/api/host-categories/${hostCategory.id}/urls`, { url: `${mirror.server.url}/${TOPDIR}/` })
    hosts.push({ id: host.id, mirror })
  }
  say(`registered ${hosts.length} sites, each with a host carrying the category at its mirror's URL`)
  return { categoryId: category.id as number, hosts }
}

const scan = async (categoryId: number) => {
  await call("POST", `/api/categories/${categoryId}/scan`)
  const deadline = Date.now() + 60_000
  for (;;) {
    const state = await call("GET", `/api/categories/${categoryId}/scan`)
    if (state.running === null && state.last !== null) {
      const last = state.last
      if (last.outcome !== "completed" || last.problemCount > 0) {
        throw new DemoError(`the scan of the master tree did not complete cleanly: ${JSON.stringify(last)}`)
      }
      say(
        `scanned the master tree: ${last.directoriesAdded} directories, ${last.repositoriesAdded} repository` +
          ` (${REPO} ${ARCH}), ${last.fileDetailsAdded} file detail (repomd.xml) in ${last.durationMs} ms`
      )
      return
    }
    if (Date.now() > deadline) throw new DemoError(`the scan did not end within a minute: ${JSON.stringify(state)}`)
    await sleep(100)
  }
}

const crawl = async (hosts: ReadonlyArray<{ id: number; mirror: DemoMirror }>) => {
  for (const { id, mirror } of hosts) {
    const result = await call("POST", `/api/hosts/${id}/crawl`, { mode: "full" })
    say(
      `crawled ${mirror.name} (host ${id}): ${result.status}, ${result.directoriesUpToDate} directories up to date,` +
        ` ${result.directoriesStale} stale, ${result.directoriesUnknown} unknown; ${result.requests} requests` +
        (result.reason ? ` — ${result.reason}` : "")
    )
    if (result.status !== "ok")
      throw new DemoError(`the crawl of ${mirror.name} did not end ok: ${JSON.stringify(result)}`)
  }
}

/**
 * Waits until every crawl has reached the redirector (the top directory's mirrorlist lists every mirror: each crawl
 * is one change) and the metalink, which verifies repomd.xml, lists exactly the fresh mirrors.
 */
const awaitCrawlsApplied = async () => {
  const deadline = Date.now() + 20_000
  const text = (url: string) =>
    fetch(url).then(
      (r) => r.text(),
      () => ""
    )
  for (;;) {
    const top = await text(`${nodeUrl}/mirrorlist?path=${TOPDIR}`)
    const metalink = await text(metalinkUrl)
    const applied = mirrors.every((m) => top.includes(`${m.server.url}/${TOPDIR}/`))
    if (applied && mirrors.every((m) => metalink.includes(`>${m.baseUrl}repodata/repomd.xml<`) === m.fresh)) return
    if (Date.now() > deadline) {
      throw new DemoError(
        `the redirector did not follow the crawls within 20 s; the mirrorlist of ${TOPDIR}:\n${top}\nthe metalink:\n${metalink}`
      )
    }
    await sleep(200)
  }
}

const main = async () => {
  say(`directory ${demoDir} (each run starts fresh); node ${nodeUrl}`)
  await stopLeftovers()
  for (const { variable, port } of [httpPort, pgPort, runnerPort]) {
    if (!(await portFree(port))) {
      throw new DemoError(
        `port ${port} is in use (by a node of npm start, another demo, …): set ${variable} to another port`
      )
    }
  }
  freshDirectory()
  startNode()
  say(
    `started a node (pid ${node?.child.pid}): HTTP ${nodeUrl}, embedded PostgreSQL on port ${pgPort.port},` +
      ` runner on ${runnerPort.port} (log: ${nodeLog})`
  )
  const master = await writeTrees()
  await awaitReady()
  say(`the node is ready (${seconds()})`)
  const { categoryId, hosts } = await register(master)
  await scan(categoryId)
  await crawl(hosts)
  await awaitCrawlsApplied()

  const mirrorlist = await (await fetch(mirrorlistUrl)).text()
  const listed = mirrorlist.split("\n").filter((line) => line.includes("://"))
  const fresh = mirrors.filter((m) => m.fresh)
  const stale = mirrors.filter((m) => !m.fresh)
  const lines = [
    "",
    `A first answer after ${seconds()}:`,
    "",
    `  metalink:   ${metalinkUrl}`,
    `  mirrorlist: ${mirrorlistUrl}`,
    "",
    `$ curl '${mirrorlistUrl}'`,
    mirrorlist.trimEnd(),
    "",
    ...fresh.map(
      (m) => `${listed.includes(m.baseUrl) ? "listed:     " : "NOT LISTED: "} ${m.baseUrl} (${m.name}, fresh)`
    ),
    ...stale.map(
      (m) =>
        `${listed.includes(m.baseUrl) ? "LISTED:     " : "not listed: "} ${m.baseUrl} (${m.name}: its crawl found repodata/repomd.xml is not the master's)`
    ),
    ...(stale.some((m) => listed.includes(m.baseUrl))
      ? [
          "warning: the stale mirror is listed: yum clients using mirrorlist= may get its stale metadata" +
            " (the metalink leaves it out: dnf verifies repomd.xml through it)"
        ]
      : []),
    "",
    "A dnf repository using it (e.g. /etc/yum.repos.d/mm-demo.repo; metalink= lets dnf verify repomd.xml):",
    "",
    "[mm-demo]",
    `name=mirrormanager demo (${REPO} ${ARCH})`,
    `metalink=${metalinkUrl}`,
    `#mirrorlist=${mirrorlistUrl}`,
    "enabled=1",
    "gpgcheck=0",
    "metadata_expire=1m",
    "",
    `The admin API (docs: ${nodeUrl}/docs):`,
    "",
    `export MM=${nodeUrl}`,
    `export TOKEN=${token}`,
    `curl -fsS -X POST -H "Authorization: Bearer $TOKEN" $MM/api/hosts/${hosts.find((h) => !h.mirror.fresh)?.id}/crawl   # crawl the stale mirror again`,
    "",
    `Node log: ${nodeLog}. Ctrl-C stops the node, its PostgreSQL and the mirrors.`
  ]
  console.log(lines.join("\n"))
}

/** `--write-tree DIR`: the master tree alone, for a node of your own. */
const writeTreeOnly = (dir: string) => {
  const target = path.resolve(cwd, dir)
  const repomd = writeRepository(path.join(target, REPO_DIR), {
    packages: [hello, world],
    timestamp: Math.floor(Date.now() / 1000)
  })
  console.log(
    `wrote ${path.join(target, REPO_DIR)}: 2 packages and repodata (repomd.xml sha256 ` +
      `${createHash("sha256").update(repomd).digest("hex")}); use ${target} as the masterPath of a category whose ` +
      `topdir is ${TOPDIR}, and the scan finds the repository ${REPO} ${ARCH}`
  )
}

const args = process.argv.slice(2)
if (args[0] === "--write-tree" && args.length === 2) {
  writeTreeOnly(args[1]!)
} else if (args.length > 0) {
  console.error("usage: npm run demo [-- --write-tree DIR]")
  process.exit(1)
} else {
  main().catch((error: unknown) => {
    if (stopping !== undefined) return
    console.error(
      `demo: failed: ${error instanceof DemoError ? error.message : error instanceof Error ? error.stack : error}`
    )
    if (node !== undefined) console.error(`demo: the end of ${nodeLog}:\n${tail(nodeLog)}`)
    void stop(1)
  })
}
