// `npm run cluster:local` (infra/cluster-local.ts): nodes on one database, their URLs printed, all of them ready,
// and Ctrl-C stopping them and exiting 0.
import { spawn } from "node:child_process"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { newDatabase } from "./support/Nodes.ts"
import { freePort, tempDir } from "./support/Process.ts"

const SCRIPT = path.resolve(import.meta.dirname, "../../../infra/cluster-local.ts")

describe("npm run cluster:local", () => {
  it("starts the nodes on one database, prints their URLs, and stops them all on SIGINT", async () => {
    const database = await newDatabase()
    const http = [await freePort(), await freePort()]
    const runners = [await freePort(), await freePort()]
    const child = spawn(process.execPath, [SCRIPT], {
      env: {
        ...process.env,
        DATABASE_URL: database,
        CLUSTER_NODES: "2",
        CLUSTER_HTTP_PORTS: http.join(","),
        CLUSTER_RUNNER_PORTS: runners.join(","),
        CLUSTER_DATA_DIR: tempDir(),
        MM_ACCESS_LOG: "off"
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout!.on("data", (chunk) => (output += chunk))
    child.stderr!.on("data", (chunk) => (output += chunk))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    const deadline = Date.now() + 90_000
    while (!output.includes("2 nodes ready")) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`not ready:\n${output}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const token = /nodes ready; admin token: (\S+)/.exec(output)?.[1]
    assert.isDefined(token)
    for (const port of http) {
      assert.include(output, `http://127.0.0.1:${port}`)
      const ready = await (await fetch(`http://127.0.0.1:${port}/healthz/ready`)).json()
      assert.strictEqual(ready.status, "ready")
      const me = await fetch(`http://127.0.0.1:${port}/api/me`, { headers: { authorization: `Bearer ${token}` } })
      assert.strictEqual(me.status, 200)
    }
    child.kill("SIGINT")
    assert.strictEqual(await exited, 0, output.split("\n").slice(-20).join("\n"))
    assert.include(output, "[cluster] stopped")
    for (const port of http) {
      assert.isTrue(
        await fetch(`http://127.0.0.1:${port}/healthz/live`).then(
          () => false,
          () => true
        ),
        "node stopped"
      )
    }
  })
})
