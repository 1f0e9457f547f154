// How a node runs (NODE_RUNTIME_FLAGS, NODE_RUNTIME_ENV) is how `npm start` and `npm run mirrormanager` start it; the
// operator's own value of a variable goes ahead of ours.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { NODE_RUNTIME_ENV, NODE_RUNTIME_FLAGS, withRuntimeEnv } from "../../src/node/index.ts"

const ROOT = path.resolve(import.meta.dirname, "../../../..")

describe("the node's runtime flags and environment", () => {
  const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts

  it("are the ones the npm scripts start a node with", () => {
    for (const name of ["start", "mirrormanager"]) {
      const command: string = scripts[name]
      const parts = /^exec env (.*?) node (.*?) packages\/cluster-node\/src\/main\.ts/.exec(command)
      assert.isNotNull(parts, `npm run ${name}: ${command}`)
      const env = Object.fromEntries(
        parts![1]!.split(/\s+/).map((assignment) => {
          // NAME=${NAME:-value}: the operator's value, else ours.
          const match = /^(\w+)=\$\{(\w+):-(.*)\}$/.exec(assignment)
          assert.isNotNull(match, assignment)
          assert.strictEqual(match![1], match![2], assignment)
          return [match![1]!, match![3]!]
        })
      )
      assert.deepStrictEqual(env, { ...NODE_RUNTIME_ENV }, `npm run ${name}`)
      assert.deepStrictEqual(parts![2]!.trim().split(/\s+/), [...NODE_RUNTIME_FLAGS], `npm run ${name}`)
    }
  })

  it("the shell gives the node our value, or the operator's", () => {
    const env = scripts.start.slice("exec env ".length, scripts.start.indexOf(" node "))
    const run = (given: NodeJS.ProcessEnv) =>
      spawnSync("sh", ["-c", `exec env ${env} sh -c 'echo $MALLOC_MMAP_THRESHOLD_'`], {
        env: given,
        encoding: "utf8"
      }).stdout.trim()
    assert.strictEqual(run({ PATH: process.env.PATH }), NODE_RUNTIME_ENV.MALLOC_MMAP_THRESHOLD_)
    assert.strictEqual(run({ PATH: process.env.PATH, MALLOC_MMAP_THRESHOLD_: "65536" }), "65536")
    assert.strictEqual(withRuntimeEnv({ MALLOC_MMAP_THRESHOLD_: "65536" }).MALLOC_MMAP_THRESHOLD_, "65536")
    assert.strictEqual(withRuntimeEnv({}).MALLOC_MMAP_THRESHOLD_, NODE_RUNTIME_ENV.MALLOC_MMAP_THRESHOLD_)
  })
})
