// Helpers of the tests that run several node processes on one database: content scanned through the API, mirrors
// added, mirrorlists read, check-ins sent as report_mirror sends them.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { api, type RunningNode, tempDir } from "./Process.ts"

export { newDatabase } from "./Databases.ts"

export const TOKEN = "mm_redirector-test-admin-token"

/**
 * No scheduled crawls: the mirrors these tests add have made-up names, which a crawl of their base URLs would find
 * unreachable and take out of the answers (as it should), at a moment of the schedule's choosing.
 */
export const NO_CRAWLS = {
  MM_CRAWL_INTERVAL: "0 seconds",
  MM_CRAWL_REPODATA_INTERVAL: "0 seconds",
  MM_CRAWL_CANARY_INTERVAL: "0 seconds"
}
export const REPOMD = `<repomd><data type="primary"><timestamp>1700000000</timestamp></data></repomd>\n`

export const call = async (node: RunningNode, method: string, route: string, body?: unknown) => {
  const reply = await api(node, TOKEN, method, route, body)
  if (reply.status >= 300) throw new Error(`${method} ${route}: ${reply.status} ${reply.text}`)
  return reply.body
}

/** An EPEL master tree with one repository, scanned through the API; the registry then has `epel-9`/x86_64. */
export const setUpContent = async (node: RunningNode) => {
  const master = path.join(tempDir(), "pub/epel")
  fs.mkdirSync(path.join(master, "9/Everything/x86_64/repodata"), { recursive: true })
  fs.writeFileSync(path.join(master, "9/Everything/x86_64/repodata/repomd.xml"), REPOMD)
  const past = new Date(Date.now() - 60_000)
  for (const dir of ["9/Everything/x86_64/repodata", "9/Everything/x86_64", "9/Everything", "9", "."]) {
    fs.utimesSync(path.join(master, dir), past, past)
  }
  const product = await call(node, "POST", "/api/products", { name: "EPEL" })
  await call(node, "POST", "/api/arches", { name: "x86_64" })
  const category = await call(node, "POST", "/api/categories", {
    name: "Fedora EPEL",
    productId: product.id,
    topdir: "pub/epel",
    masterPath: master
  })
  await call(node, "POST", `/api/categories/${category.id}/scan`)
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const scan = await call(node, "GET", `/api/categories/${category.id}/scan`)
    if (scan.running === null && scan.last !== null) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return category.id as number
}

/** A site with a host in `country` carrying the category at `url` (always up to date: no crawler yet). */
export const addMirror = async (node: RunningNode, categoryId: number, name: string, country: string, url: string) => {
  const site = await call(node, "POST", "/api/sites", { name: `${name}-site`, password: "site-password-123456" })
  const host = await call(node, "POST", `/api/sites/${site.id}/hosts`, { name, country })
  const hostCategory = await call(node, "POST", `/api/hosts/${host.id}/categories`, { categoryId })
  await call(node, "PATCH", `/api/host-categories/${hostCategory.id}`, { alwaysUp2date: true })
  await call(node, "POST", `/api/host-categories/${hostCategory.id}/urls`, { url })
  return { site, host, hostCategory }
}

/**
 * The campus mirror: site "Campus" (password "campus-password-1234"), its private host mirror.campus.example in SE
 * for the clients of its netblock 198.51.100.0/24, carrying the category at https://mirror.campus.example/epel; up to
 * date on what its check-ins say.
 */
/** The campus mirror's report_mirror.conf (as checkin_wire reads it), sent to `node`, reporting `paths` of EPEL. */
export const campusConfig = (node: RunningNode, paths: ReadonlyArray<string>) => ({
  version: 0,
  global: { enabled: "1", server: `${node.url}/xmlrpc` },
  site: { enabled: "1", name: "Campus", password: "campus-password-1234" },
  host: { enabled: "1", name: "mirror.campus.example" },
  stats: {},
  "fedora epel": { enabled: "1", dirtree: Object.fromEntries(paths.map((p) => [p, {}])) }
})

export const addCampusMirror = async (node: RunningNode, categoryId: number) => {
  const site = await call(node, "POST", "/api/sites", { name: "Campus", password: "campus-password-1234" })
  const host = await call(node, "POST", `/api/sites/${site.id}/hosts`, {
    name: "mirror.campus.example",
    country: "SE",
    private: true
  })
  await call(node, "POST", `/api/hosts/${host.id}/netblocks`, { netblock: "198.51.100.0/24" })
  const hostCategory = await call(node, "POST", `/api/hosts/${host.id}/categories`, { categoryId })
  await call(node, "POST", `/api/host-categories/${hostCategory.id}/urls`, {
    url: "https://mirror.campus.example/epel"
  })
  return { site, host, hostCategory }
}

export const mirrorlist = async (node: RunningNode, query = "repo=epel-9&arch=x86_64&ip=89.160.20.113") => {
  // A kept-alive connection the node closed as it was reused ("other side closed") is tried once more.
  const response = await fetch(`${node.url}/mirrorlist?${query}`).catch(() => fetch(`${node.url}/mirrorlist?${query}`))
  return { status: response.status, text: await response.text() }
}

/** Polls until `check` holds; returns the milliseconds it took. */
export const until = async (what: string, timeoutMs: number, check: () => Promise<boolean>) => {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return Date.now() - started
}

/** Builds and sends check-ins as report_mirror does (Python's json, bz2, base64 and xmlrpc.client). */
const CHECKIN_WIRE = path.resolve(import.meta.dirname, "../../../../test-support/checkin_wire.py")

/**
 * Checks in as report_mirror does (test-support/checkin_wire.py: Python's json, bz2, base64 and xmlrpc.client).
 * With `timeoutMs`, an attempt that takes longer is given up and answers "timed out" (as a client run by cron would
 * be stopped and run again).
 */
export const checkIn = (node: RunningNode, config: unknown, timeoutMs?: number) => {
  const run = spawnSync("python3", [CHECKIN_WIRE, "checkin", `${node.url}/xmlrpc`], {
    input: JSON.stringify(config),
    ...(timeoutMs === undefined ? {} : { timeout: timeoutMs })
  })
  if (run.error !== undefined && (run.error as NodeJS.ErrnoException).code === "ETIMEDOUT") return "timed out"
  if (run.status !== 0) throw new Error(`check-in failed (${run.status}): ${run.stderr}`)
  return run.stdout.toString("utf8")
}

/** `checkIn`, without blocking: several can be on their way at once. */
export const checkInAsync = (node: RunningNode, config: unknown) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn("python3", [CHECKIN_WIRE, "checkin", `${node.url}/xmlrpc`], { stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stdout.on("data", (chunk) => (out += chunk))
    child.stderr.on("data", (chunk) => (err += chunk))
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`check-in failed (${code}): ${err}`))))
    child.stdin.end(JSON.stringify(config))
  })
