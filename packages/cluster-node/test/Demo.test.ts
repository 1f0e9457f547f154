// `npm run demo` as a new operator runs it: a real process in a process group of its own (as a terminal's job),
// waited for until it prints its mirrorlist, its printed URLs fetched, then stopped with SIGINT to the whole group, as
// Ctrl-C does.
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { gunzipSync } from "node:zlib"
import { assert, describe, it, onTestFinished } from "vitest"
import { groupMembers, isAlive } from "../src/Processes.ts"
import { freePort, postgresServing, tempDir } from "./support/Process.ts"

const ROOT = path.resolve(import.meta.dirname, "../../..")

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("npm run demo", () => {
  it("prints a mirrorlist of the fresh mirrors only, answers its printed URLs, and stops cleanly on Ctrl-C", async () => {
    const dir = tempDir()
    const demoDir = path.join(dir, "demo")
    const child = spawn("npm", ["run", "demo"], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        MM_DEMO_DIR: demoDir,
        MM_DEMO_HTTP_PORT: String(await freePort()),
        MM_DEMO_PG_PORT: String(await freePort()),
        MM_DEMO_RUNNER_PORT: String(await freePort()),
        // The demo's node must not take these from the shell.
        DATABASE_URL: "postgres://nobody@127.0.0.1:9/nothing",
        MM_HTTP_PORT: "9"
      }
    })
    const group = child.pid!
    // A failed test still stops it all: the demo as Ctrl-C would, its node (a group of its own) if that is left.
    let nodePid = 0
    onTestFinished(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(-group, "SIGINT")
        await Promise.race([exited, sleep(30_000)])
      }
      if (nodePid > 0 && isAlive(nodePid)) process.kill(-nodePid, "SIGKILL")
    })
    let output = ""
    child.stdout!.on("data", (chunk) => (output += chunk))
    child.stderr!.on("data", (chunk) => (output += chunk))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal }))
    )

    const deadline = Date.now() + 120_000
    while (!/Ctrl-C stops/.test(output)) {
      nodePid = Number(/^demo: started a node \(pid (\d+)\)/m.exec(output)?.[1] ?? 0)
      if (child.exitCode !== null) assert.fail(`npm run demo exited (${child.exitCode}):\n${output}`)
      if (Date.now() > deadline) assert.fail(`no mirrorlist within 2 minutes:\n${output}`)
      await sleep(100)
    }

    const mirror = (name: string) => {
      const found = new RegExp(`^demo: mirror ${name}: (http://127\\.0\\.0\\.\\d+:\\d+)/pub/epel/ `, "m").exec(output)
      assert.isNotNull(found, output)
      return `${found![1]}/pub/epel/9/Everything/x86_64/`
    }
    const fresh = [mirror("fresh-1"), mirror("fresh-2")]
    const stale = mirror("stale")
    const mirrorlistUrl = /^ {2}mirrorlist: (\S+)$/m.exec(output)?.[1]
    const metalinkUrl = /^ {2}metalink: {3}(\S+)$/m.exec(output)?.[1]
    assert.isDefined(mirrorlistUrl, output)
    assert.isDefined(metalinkUrl, output)
    assert.match(mirrorlistUrl!, /\/mirrorlist\?repo=epel-9&arch=x86_64$/)

    // The printed mirrorlist (the lines after the curl command up to the blank line): the fresh mirrors, not the stale
    // (a repository's mirrorlist counts a host only when its repodata/ is up to date too: issue 13, item 4).
    const printed = output.split(`$ curl '${mirrorlistUrl}'\n`)[1]?.split("\n\n")[0] ?? ""
    assert.match(printed, /^# repo = epel-9 arch = x86_64/, output)
    const printedUrls = printed.split("\n").slice(1)
    assert.sameMembers(printedUrls, fresh, output)
    // The .repo stanza uses the printed URLs.
    assert.include(output, `[mm-demo]\nname=mirrormanager demo (epel-9 x86_64)\nmetalink=${metalinkUrl}\n`)
    assert.include(output, `#mirrorlist=${mirrorlistUrl}\n`)

    // The printed URLs answer the same.
    const mirrorlist = await (await fetch(mirrorlistUrl!)).text()
    for (const url of fresh) assert.include(mirrorlist, `${url}\n`)
    assert.notInclude(mirrorlist, stale)
    const metalink = await fetch(metalinkUrl!)
    assert.strictEqual(metalink.status, 200)
    const body = await metalink.text()
    for (const url of fresh) assert.include(body, `>${url}repodata/repomd.xml</url>`)
    assert.notInclude(body, stale)
    // And the mirrors serve what the metalink promises: the master's repomd.xml.
    const sha256 = /<hash type="sha256">([0-9a-f]{64})<\/hash>/.exec(body)?.[1]
    const repomd = Buffer.from(await (await fetch(`${fresh[0]}repodata/repomd.xml`)).arrayBuffer())
    assert.strictEqual(createHash("sha256").update(repomd).digest("hex"), sha256)

    nodePid = Number(/^demo: started a node \(pid (\d+)\)/m.exec(output)?.[1])
    assert.isTrue(isAlive(nodePid), output)
    // Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
    process.kill(-group, "SIGINT")
    const exit = await exited
    assert.deepStrictEqual(exit, { code: 0, signal: null }, output)
    assert.match(output, /^demo: stopped$/m)
    assert.deepStrictEqual(postgresServing(path.join(demoDir, "node/postgres")), [], output)
    // Nothing is left: not the demo's processes, not its node (a process group of its own), not PostgreSQL.
    assert.deepStrictEqual(groupMembers(group), [], output)
    assert.isFalse(isAlive(nodePid), output)
    assert.deepStrictEqual(groupMembers(nodePid), [], output)
  }, 180_000)

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
