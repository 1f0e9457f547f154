// The flags a node runs with (NODE_RUNTIME_FLAGS) are the ones `npm start` and `npm run mirrormanager` give it.
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { NODE_RUNTIME_FLAGS } from "../../src/node/index.ts"

const ROOT = path.resolve(import.meta.dirname, "../../../..")

describe("the node's runtime flags", () => {
  it("are the ones the npm scripts start a node with", () => {
    const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts
    for (const name of ["start", "mirrormanager"]) {
      const command: string = scripts[name]
      assert.match(command, /^exec node .*packages\/cluster-node\/src\/main\.ts/, name)
      const flags = command.slice("exec node ".length, command.indexOf("packages/")).trim().split(/\s+/)
      assert.deepStrictEqual(flags, [...NODE_RUNTIME_FLAGS], `npm run ${name}`)
    }
  })
})
