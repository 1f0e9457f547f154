// The documentation's API walkthrough (docs/getting-started.md, "Using the API"), run as pasted against a fresh
// node, and its repository rules example (docs/masterscan.md): they must keep working.
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { guessRepository, loadRepositoryRules } from "@mirrormanager/actors/masterscan"
import { assert, describe, it } from "vitest"
import { freePort, startNode, stop, tempDir } from "./support/Process.ts"

const DOCS = path.resolve(import.meta.dirname, "../../../docs")
const GETTING_STARTED = fs.readFileSync(path.join(DOCS, "getting-started.md"), "utf8")
const MASTER_SCAN = fs.readFileSync(path.join(DOCS, "masterscan.md"), "utf8")

/** A `## ` section of a page: from its heading to the next `## ` heading, or the end. */
const sectionOf = (page: string, heading: string) => {
  const start = page.indexOf(`\n${heading}\n`)
  if (start < 0) throw new Error(`no section "${heading}"`)
  const end = page.indexOf("\n## ", start + heading.length + 1)
  return page.slice(start, end < 0 ? undefined : end)
}

const section = sectionOf(GETTING_STARTED, "## Using the API")

const FENCE = "```"

const blocks = (language: string) =>
  [...section.matchAll(new RegExp(`${FENCE}${language}\\n([\\s\\S]*?)${FENCE}`, "g"))].map((m) => m[1]!)

/** Shell commands of the ```sh blocks, continuation lines joined; the `export` lines are set by the test. */
const commands = blocks("sh")
  .flatMap((block) => block.replace(/\\\n\s*/g, "").split("\n"))
  .map((line) => line.trim())
  .filter((line) => line.length > 0 && !line.startsWith("export "))

const DEMO = path.resolve(import.meta.dirname, "../src/demo/Demo.ts")
/** The walkthrough's master path and its host's URL. */
const WALKTHROUGH_MASTER_PATH = "/srv/pub/epel"
const WALKTHROUGH_MIRROR = "https://mirror.example.edu/"

const hasCurl = spawnSync("curl", ["--version"]).status === 0

describe("docs/getting-started.md walkthrough", () => {
  it("has examples to run", () => {
    assert.isAbove(commands.length, 10)
    assert.isTrue(commands.every((c) => c.startsWith("curl ")))
  })

  it.skipIf(!hasCurl)("its curl examples work as pasted, and its error examples print what it shows", async () => {
    const token = "mm_readme-example-token"
    const node = await startNode({
      MM_DATA_DIR: tempDir(),
      MM_EMBEDDED_PG_PORT: String(await freePort()),
      MM_ADMIN_TOKEN: token
    })
    const env = { ...process.env, MM: node.url, TOKEN: token }
    // The test master tree the walkthrough tells how to write, where its category's master path says (moved to a
    // temporary directory).
    const masterPath = path.join(tempDir(), "pub/epel")
    execFileSync(process.execPath, [DEMO, "--write-tree", masterPath], { encoding: "utf8" })
    for (const pasted of commands) {
      const command = pasted.replaceAll(WALKTHROUGH_MASTER_PATH, masterPath)
      if (/\/(mirrorlist|metalink)\?/.test(command)) {
        // The scan before runs in the background: the answer comes once it has found the repository.
        let run = spawnSync("bash", ["-c", command], { env, encoding: "utf8" })
        for (let i = 0; i < 100 && !run.stdout.includes(WALKTHROUGH_MIRROR); i++) {
          await new Promise((resolve) => setTimeout(resolve, 100))
          run = spawnSync("bash", ["-c", command], { env, encoding: "utf8" })
        }
        assert.strictEqual(run.status, 0, `${command}\n${run.stdout}${run.stderr}`)
        assert.include(run.stdout, `${WALKTHROUGH_MIRROR}pub/epel/9/Everything/x86_64/`, command)
        continue
      }
      const run = spawnSync("bash", ["-c", command], { env, encoding: "utf8" })
      assert.strictEqual(run.status, 0, `${command}\n${run.stdout}${run.stderr}`)
      assert.doesNotThrow(() => JSON.parse(run.stdout), `${command} printed JSON`)
    }
    assert.isTrue(
      commands.some((c) => c.includes("/mirrorlist?")),
      "the walkthrough ends with the redirector's answer"
    )
    const transcript = blocks("console")[0]!.split("\n")
    for (let i = 0; i < transcript.length; i++) {
      const line = transcript[i]!
      if (!line.startsWith("$ ")) continue
      const output = execFileSync("bash", ["-c", line.slice(2)], { env, encoding: "utf8" })
      // The answer ends with a newline, so the next prompt starts on a line of its own, as the transcript shows.
      assert.strictEqual(output, `${transcript[i + 1]}\n`, line)
    }
    await stop(node)
  })
})

describe("docs/masterscan.md repository rules", () => {
  it("its rules file example loads and names repositories as it says", () => {
    const rulesSection = sectionOf(MASTER_SCAN, "## Repository rules")
    const json = new RegExp(`${FENCE}json\\n([\\s\\S]*?)${FENCE}`).exec(rulesSection)![1]!
    const file = path.join(tempDir(), "rules.json")
    fs.writeFileSync(file, json)
    const rules = loadRepositoryRules(file)
    const guess = (category: string, rel: string) =>
      guessRepository(rules, { category, name: `pub/x/${rel}`, rel, arches: new Set(), versions: new Set() })
    assert.strictEqual(guess("Fedora EPEL", "9/Everything/x86_64")?.prefix, "epel-9")
    assert.strictEqual(guess("Example Linux", "releases/3/aarch64/os")?.prefix, "example-3")
    assert.strictEqual(guess("Example Linux", "test/3/aarch64/os")?.prefix, null)
  })
})
