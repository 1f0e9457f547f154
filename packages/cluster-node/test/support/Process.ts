// Runs the node as operators do: a real process, with helpers to wait for it, call it and stop it.
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { freePort } from "../../src/node/FreePort.ts"
import { waitUntilReady } from "../../src/node/WaitUntilReady.ts"

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

export { freePort }

const MAIN = path.resolve(import.meta.dirname, "../../src/main.ts")

export interface RunningNode {
  readonly process: ChildProcess
  readonly url: string
  readonly output: () => string
  readonly exited: Promise<number | null>
}

/** Every node started by a test file; the ones still running are killed after the file. */
export const nodes: Array<RunningNode> = []

/** Starts a node and waits until its readiness is one of `accept` (default: "ready"). */
export const startNode = async (
  env: Record<string, string>,
  accept: ReadonlyArray<string> = ["ready"]
): Promise<RunningNode> => {
  // A node restarted where others reach it keeps its MM_HTTP_PORT.
  const port = env.MM_HTTP_PORT === undefined ? await freePort() : Number(env.MM_HTTP_PORT)
  const runnerPort = await freePort()
  let output = ""
  const child = spawn(process.execPath, [MAIN, "serve"], {
    env: {
      ...process.env,
      MM_HTTP_HOST: "127.0.0.1",
      MM_HTTP_PORT: String(port),
      MM_RUNNER_PORT: String(runnerPort),
      MM_LOG_FORMAT: "logfmt",
      ...env
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const url = `http://127.0.0.1:${port}`
  const exitedEarly = () => child.exitCode !== null
  // "degraded" (serving a snapshot while the database side starts) is not ready for the admin API yet.
  if (await waitUntilReady(url, Date.now() + 90_000, { accept, giveUp: exitedEarly })) {
    const node = { process: child, url, output: () => output, exited }
    nodes.push(node)
    return node
  }
  if (exitedEarly()) throw new Error(`node exited early:\n${output}`)
  child.kill("SIGKILL")
  throw new Error(`node did not become ready:\n${output}`)
}

export interface CommandResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Starts a `mirrormanager` command as an operator would from a shell: in a process group of its own, as a terminal's
 * foreground job, so that a test can send it a terminal's Ctrl-C (SIGINT to the group); `result` once it has ended.
 */
export const startCommand = (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, MM_LOG_FORMAT: "logfmt", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk) => (stdout += chunk))
  child.stderr!.on("data", (chunk) => (stderr += chunk))
  const result = new Promise<CommandResult>((resolve, reject) => {
    child.on("error", reject)
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })
  return { child, result, stderr: () => stderr }
}

/** Runs a `mirrormanager` command to its end, as an operator would from a shell. */
export const runCommand = (args: ReadonlyArray<string>, env: Record<string, string>) => startCommand(args, env).result

export const stop = async (node: RunningNode, signal: NodeJS.Signals = "SIGTERM") => {
  node.process.kill(signal)
  return node.exited
}

/** PostgreSQL processes serving a data directory, found through /proc. */
export const postgresServing = (dataDir: string) =>
  fs
    .readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
        return cmdline[0]?.endsWith("/postgres") === true && cmdline.includes(dataDir)
      } catch {
        return false
      }
    })

export const api = async (node: RunningNode, token: string, method: string, route: string, body?: unknown) => {
  const response = await fetch(`${node.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : undefined, text }
}

const dirs: Array<string> = []
export const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mm-node-"))
  fs.chmodSync(dir, 0o755)
  dirs.push(dir)
  return dir
}
afterAll(async () => {
  for (const node of nodes) if (node.process.exitCode === null) await stop(node, "SIGKILL")
  for (const dir of dirs) {
    for (const pid of postgresServing(path.join(dir, "postgres"))) process.kill(Number(pid), "SIGKILL")
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
