// `npm run demo` as a new operator runs it: a real process in a process group of its own (as a terminal's job),
// waited for until it prints its mirrorlist, its printed URLs fetched, then stopped with SIGINT to the whole group, as
// Ctrl-C does; stopped with a second Ctrl-C, or killed outright, it leaves nothing that keeps the next run from
// working.
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { gunzipSync } from "node:zlib"
import { assert, describe, it, onTestFinished } from "vitest"
import { groupMembers, isAlive, postgresProcesses, stopPostgresNow } from "../../src/db/Processes.ts"
import { freePort, postgresServing, tempDir } from "../support/Process.ts"

const ROOT = path.resolve(import.meta.dirname, "../../../..")

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Demo {
  readonly group: number
  readonly output: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** The pid of the demo's node, once the demo has started it. */
  readonly nodePid: () => number
}

/**
 * Runs `npm run demo` in a process group of its own, as a terminal's job, until it prints its first answer. A failed
 * test still stops it all: the demo as Ctrl-C would, its node (a group of its own) and PostgreSQL if they are left.
 */
const runDemo = async (env: Record<string, string>): Promise<Demo> => {
  const child = spawn("npm", ["run", "demo"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ...env,
      // The demo's node must not take these from the shell.
      DATABASE_URL: "postgres://nobody@127.0.0.1:9/nothing",
      MM_HTTP_PORT: "9"
    }
  })
  const group = child.pid!
  let output = ""
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  const nodePid = () => Number(/^demo: started a node \(pid (\d+)\)/m.exec(output)?.[1] ?? 0)
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(-group, "SIGINT")
      await Promise.race([exited, sleep(30_000)])
    }
    if (nodePid() > 0 && isAlive(nodePid())) process.kill(-nodePid(), "SIGKILL")
    stopPostgresNow(path.join(env.MM_DEMO_DIR!, "node/postgres"))
  })
  const deadline = Date.now() + 120_000
  while (!/Ctrl-C stops/.test(output)) {
    if (child.exitCode !== null) assert.fail(`npm run demo exited (${child.exitCode}):\n${output}`)
    if (Date.now() > deadline) assert.fail(`no mirrorlist within 2 minutes:\n${output}`)
    await sleep(100)
  }
  return { group, output: () => output, exited, nodePid }
}

const demoEnv = async (demoDir: string) => ({
  MM_DEMO_DIR: demoDir,
  MM_DEMO_HTTP_PORT: String(await freePort()),
  MM_DEMO_PG_PORT: String(await freePort()),
  MM_DEMO_RUNNER_PORT: String(await freePort())
})

/** The URLs of the repository on the demo's mirrors, as it printed them. */
const mirrorsOf = (output: string) => {
  const mirror = (name: string) => {
    const found = new RegExp(`^demo: mirror ${name}: (http://127\\.0\\.0\\.\\d+:\\d+)/pub/epel/ `, "m").exec(output)
    assert.isNotNull(found, output)
    return `${found![1]}/pub/epel/9/Everything/x86_64/`
  }
  return { fresh: [mirror("fresh-1"), mirror("fresh-2")], stale: mirror("stale") }
}

/** The mirrorlist the demo printed (the lines after the curl command up to the blank line), its URL and the metalink's. */
const printedAnswer = (output: string) => {
  const mirrorlistUrl = /^ {2}mirrorlist: (\S+)$/m.exec(output)?.[1]
  const metalinkUrl = /^ {2}metalink: {3}(\S+)$/m.exec(output)?.[1]
  assert.isDefined(mirrorlistUrl, output)
  assert.isDefined(metalinkUrl, output)
  const printed = output.split(`$ curl '${mirrorlistUrl}'\n`)[1]?.split("\n\n")[0] ?? ""
  return { mirrorlistUrl: mirrorlistUrl!, metalinkUrl: metalinkUrl!, printed }
}

/** Nothing of the demo is left: not its processes, not its node (a process group of its own), not PostgreSQL. */
const assertNothingLeft = (demo: Demo, demoDir: string) => {
  const output = demo.output()
  assert.deepStrictEqual(postgresServing(path.join(demoDir, "node/postgres")), [], output)
  assert.deepStrictEqual(groupMembers(demo.group), [], output)
  assert.isFalse(isAlive(demo.nodePid()), output)
  assert.deepStrictEqual(groupMembers(demo.nodePid()), [], output)
}

describe("npm run demo", () => {
  it("prints a mirrorlist of the fresh mirrors only, answers its printed URLs, and stops cleanly on Ctrl-C", async () => {
    const demoDir = path.join(tempDir(), "demo")
    const demo = await runDemo(await demoEnv(demoDir))
    const output = demo.output()
    const { fresh, stale } = mirrorsOf(output)
    const { mirrorlistUrl, metalinkUrl, printed } = printedAnswer(output)
    assert.match(mirrorlistUrl, /\/mirrorlist\?repo=epel-9&arch=x86_64$/)

    // The printed mirrorlist: the fresh mirrors, not the stale (a repository's mirrorlist counts a host only when its
    // repodata/ is up to date too: issue 13, item 4).
    assert.match(printed, /^# repo = epel-9 arch = x86_64/, output)
    assert.sameMembers(printed.split("\n").slice(1), fresh, output)
    // The .repo stanza uses the printed URLs.
    assert.include(output, `[mm-demo]\nname=mirrormanager demo (epel-9 x86_64)\nmetalink=${metalinkUrl}\n`)
    assert.include(output, `#mirrorlist=${mirrorlistUrl}\n`)

    // The printed URLs answer the same.
    const mirrorlist = await (await fetch(mirrorlistUrl)).text()
    for (const url of fresh) assert.include(mirrorlist, `${url}\n`)
    assert.notInclude(mirrorlist, stale)
    const metalink = await fetch(metalinkUrl)
    assert.strictEqual(metalink.status, 200)
    const body = await metalink.text()
    for (const url of fresh) assert.include(body, `>${url}repodata/repomd.xml</url>`)
    assert.notInclude(body, stale)
    // And the mirrors serve what the metalink promises: the master's repomd.xml.
    const sha256 = /<hash type="sha256">([0-9a-f]{64})<\/hash>/.exec(body)?.[1]
    const repomd = Buffer.from(await (await fetch(`${fresh[0]}repodata/repomd.xml`)).arrayBuffer())
    assert.strictEqual(createHash("sha256").update(repomd).digest("hex"), sha256)

    assert.isTrue(isAlive(demo.nodePid()), output)
    // Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
    process.kill(-demo.group, "SIGINT")
    assert.deepStrictEqual(await demo.exited, { code: 0, signal: null }, demo.output())
    assert.match(demo.output(), /^demo: stopped$/m)
    assertNothingLeft(demo, demoDir)
  }, 180_000)

  it("a second Ctrl-C while the node stops leaves no PostgreSQL behind, and the next run works", async () => {
    const demoDir = path.join(tempDir(), "demo")
    const postgresDir = path.join(demoDir, "node/postgres")
    const env = await demoEnv(demoDir)
    const first = await runDemo(env)
    // A node that takes its time to stop: its database paused, so that the second Ctrl-C finds it still stopping.
    const paused = postgresProcesses(postgresDir)
    assert.isNotEmpty(paused, first.output())
    for (const pid of paused) process.kill(pid, "SIGSTOP")
    process.kill(-first.group, "SIGINT")
    // A second signal within a second is the same Ctrl-C relayed (npm passes it on): wait past it.
    await sleep(1_500)
    assert.isTrue(isAlive(first.nodePid()), `the node is still stopping:\n${first.output()}`)
    process.kill(-first.group, "SIGINT")
    const exit = await Promise.race([first.exited, sleep(10_000).then(() => "still running after 10 s")])
    assert.notDeepEqual(exit, { code: 0, signal: null }, first.output())
    assert.notStrictEqual(exit, "still running after 10 s", first.output())
    assert.match(first.output(), /^demo: stopping at once$/m)
    assertNothingLeft(first, demoDir)

    // The next run, on the same directory and ports, starts fresh and answers.
    const second = await runDemo(env)
    assert.notInclude(second.output(), "of an earlier demo", "nothing was left for it to stop")
    const { fresh } = mirrorsOf(second.output())
    assert.sameMembers(printedAnswer(second.output()).printed.split("\n").slice(1), fresh, second.output())

    // A demo killed outright (kill -9 of it and of its node) cannot stop its PostgreSQL: the next run does.
    const orphan = postgresProcesses(postgresDir)[0]
    process.kill(-second.group, "SIGKILL")
    process.kill(-second.nodePid(), "SIGKILL")
    await second.exited
    while (isAlive(second.nodePid())) await sleep(50)
    assert.isDefined(orphan)
    assert.isTrue(isAlive(orphan!), "its PostgreSQL outlived the node")
    const third = await runDemo(env)
    assert.include(
      third.output(),
      `demo: stopping the PostgreSQL of an earlier demo (pid ${orphan}) that outlived its node`,
      third.output()
    )
    assert.sameMembers(printedAnswer(third.output()).printed.split("\n").slice(1), mirrorsOf(third.output()).fresh)
    process.kill(-third.group, "SIGINT")
    assert.deepStrictEqual(await third.exited, { code: 0, signal: null }, third.output())
    assertNothingLeft(third, demoDir)
  }, 420_000)

  it("--write-tree writes a master tree whose repomd.xml gives each metadata file's right checksums and sizes", () => {
    const dir = tempDir()
    // Run from another directory, as a person would: the relative path is theirs.
    const run = spawnSync("npm", ["--prefix", ROOT, "run", "demo", "--", "--write-tree", "tree/pub/epel"], {
      cwd: dir,
      encoding: "utf8"
    })
    assert.strictEqual(run.status, 0, run.stdout + run.stderr)
    const repo = path.join(dir, "tree/pub/epel/9/Everything/x86_64")
    const repomd = fs.readFileSync(path.join(repo, "repodata/repomd.xml"), "utf8")
    const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex")
    const entries = [...repomd.matchAll(/<data type="(\w+)">([\s\S]*?)<\/data>/g)]
    assert.sameMembers(
      entries.map((e) => e[1]),
      ["primary", "filelists", "other"]
    )
    for (const [, type, entry] of entries) {
      const field = (name: string) => new RegExp(`<${name}[^>]*>([^<]*)</${name}>`).exec(entry!)?.[1]
      const file = fs.readFileSync(path.join(repo, /<location href="([^"]+)"/.exec(entry!)![1]!))
      const open = gunzipSync(file)
      assert.strictEqual(field("checksum"), sha256(file), type)
      assert.strictEqual(Number(field("size")), file.length, type)
      assert.strictEqual(field("open-checksum"), sha256(open), type)
      assert.strictEqual(Number(field("open-size")), open.length, type)
    }
    // primary.xml names the packages with their checksums and sizes.
    const primaryHref = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1]!
    const primary = gunzipSync(fs.readFileSync(path.join(repo, primaryHref))).toString("utf8")
    const packages = [...primary.matchAll(/pkgid="YES">(\w+)<[\s\S]*?package="(\d+)"[\s\S]*?<location href="([^"]+)"/g)]
    assert.lengthOf(packages, 2, primary)
    for (const [, pkgid, size, href] of packages) {
      const file = fs.readFileSync(path.join(repo, href!))
      assert.strictEqual(sha256(file), pkgid)
      assert.strictEqual(file.length, Number(size))
    }
    assert.include(run.stdout, `repomd.xml sha256 ${sha256(Buffer.from(repomd))}`)
  })
})
