// The import rules' check, run as CI runs it on a copy of this repository: clean as it stands, and failing, with a
// message that names the file and the rule, on each kind of violation planted in the copy.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"

const ROOT = path.resolve(import.meta.dirname, "../..")
const CHECK = path.join(ROOT, "tools/check-imports.ts")

let copy: string

// The packages' manifests and .ts files, and the tools, bench and infra scripts: all the check reads.
const copyRepository = (to: string) => {
  const copyTree = (from: string, into: string) => {
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name === "var") continue
      const source = path.join(from, entry.name)
      const target = path.join(into, entry.name)
      if (entry.isDirectory()) copyTree(source, target)
      else if (entry.name.endsWith(".ts") || entry.name === "package.json") {
        fs.mkdirSync(into, { recursive: true })
        fs.copyFileSync(source, target)
      }
    }
  }
  for (const top of ["packages", "bench", "infra", "tools", "test-support"])
    copyTree(path.join(ROOT, top), path.join(to, top))
}

const check = () => {
  const run = spawnSync(process.execPath, [CHECK, copy], { encoding: "utf8" })
  return { status: run.status, stderr: run.stderr, stdout: run.stdout }
}

const plant = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(copy, file)), { recursive: true })
  fs.appendFileSync(path.join(copy, file), text)
}

beforeEach(() => {
  copy = fs.mkdtempSync(path.join(os.tmpdir(), "mm-imports-"))
  copyRepository(copy)
})
afterEach(() => fs.rmSync(copy, { recursive: true, force: true }))

describe("check-imports", () => {
  it("passes the repository as it stands", () => {
    const run = check()
    assert.strictEqual(run.status, 0, run.stderr)
  })

  it("refuses a file below another package's door", () => {
    plant(
      "packages/http/src/front/Planted.ts",
      'import { Redirector } from "@mirrormanager/actors/redirector/Redirector"\n'
    )
    const run = check()
    assert.strictEqual(run.status, 1)
    assert.include(
      run.stderr,
      'packages/http/src/front/Planted.ts:1: "@mirrormanager/actors/redirector/Redirector" is not a door'
    )
  })

  it("refuses a relative path into another package", () => {
    plant("bench/planted.ts", 'import { Redirector } from "../packages/actors/src/redirector/Redirector.ts"\n')
    const run = check()
    assert.strictEqual(run.status, 1)
    assert.include(run.stderr, "bench/planted.ts:1: reaches into actors")
  })

  it("refuses an import up or sideways against the layering", () => {
    plant("packages/actors/src/db/Planted.ts", 'import { FrontServer } from "@mirrormanager/http/front"\n')
    const run = check()
    assert.strictEqual(run.status, 1)
    assert.include(run.stderr, "packages/actors/src/db/Planted.ts:1: actors imports http, which is not below it")
  })

  it("refuses a file below another folder's door inside a package", () => {
    plant("packages/actors/src/crawler/Planted.ts", 'import { MirrorIndex } from "../redirector/MirrorIndex.ts"\n')
    const run = check()
    assert.strictEqual(run.status, 1)
    assert.include(run.stderr, 'imports "../redirector/MirrorIndex.ts" below the door of redirector')
  })

  it("refuses production code that imports the tests' door", () => {
    plant("packages/actors/src/testing/index.ts", "export const fixture = 1\n")
    plant("packages/http/src/front/Planted.ts", 'import { fixture } from "@mirrormanager/actors/testing"\n')
    const manifest = path.join(copy, "packages/actors/package.json")
    const json = JSON.parse(fs.readFileSync(manifest, "utf8"))
    json.exports["./testing"] = "./src/testing/index.ts"
    fs.writeFileSync(manifest, JSON.stringify(json))
    plant("packages/http/test/front/Planted.test.ts", 'import { fixture } from "@mirrormanager/actors/testing"\n')
    const run = check()
    assert.strictEqual(run.status, 1)
    assert.include(run.stderr, "packages/http/src/front/Planted.ts:1: production code imports the tests' door")
    assert.notInclude(run.stderr, "Planted.test.ts")
  })

  it("refuses a circle of files and a circle of folders", () => {
    plant("packages/actors/src/db/Table.ts", '\nimport "./ChangeLog.ts"\n')
    plant("packages/actors/src/db/ChangeLog.ts", '\nimport "./Table.ts"\n')
    plant("packages/actors/src/db/Planted.ts", 'import "../redirector/index.ts"\n')
    plant("packages/actors/src/db/index.ts", 'export * from "./Planted.ts"\n')
    const run = check()
    assert.strictEqual(run.status, 1)
    assert.include(
      run.stderr,
      "circle of imports: packages/actors/src/db/ChangeLog.ts -> packages/actors/src/db/Table.ts"
    )
    assert.match(run.stderr, /circle of folders in actors: (db -> redirector|redirector -> db)/)
  })
})
