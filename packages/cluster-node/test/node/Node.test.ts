// The node as operators run it: a real process with embedded PostgreSQL, restarted, stopped and killed.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, inject, it } from "vitest"
import { api, freePort, postgresServing, startNode, stop, tempDir } from "../support/Process.ts"

const SITE_PASSWORD = "site-secret-password-123"

describe("a node with embedded PostgreSQL", () => {
  it("generates an admin token once, keeps its data across restarts and stops cleanly", async () => {
    const dataDir = tempDir()
    const env = { MM_DATA_DIR: dataDir, MM_EMBEDDED_PG_PORT: String(await freePort()) }

    const first = await startNode(env)
    assert.match(first.output(), /listening on http:\/\/127\.0\.0\.1:\d+/)
    assert.include(first.output(), dataDir)
    const token = /shown this once and stored hashed: (mm_[A-Za-z0-9_-]+)/.exec(first.output())?.[1]
    assert.isDefined(token, first.output())

    const site = await api(first, token!, "POST", "/api/sites", { name: "Example Mirrors", password: SITE_PASSWORD })
    assert.strictEqual(site.status, 201, site.text)
    const host = await api(first, token!, "POST", `/api/sites/${site.body.id}/hosts`, {
      name: "mirror.example.org",
      country: "SE",
      bandwidth: 1000
    })
    assert.strictEqual(host.status, 201, host.text)

    assert.strictEqual(await stop(first), 0, first.output())
    assert.deepStrictEqual(postgresServing(path.join(dataDir, "postgres")), [], "no stray postgres after SIGTERM")
    assert.include(first.output(), "embedded PostgreSQL stopped")

    const second = await startNode(env)
    assert.notMatch(second.output(), /shown this once/, "the token is generated only once")
    const again = await api(second, token!, "GET", `/api/hosts/${host.body.id}`)
    assert.strictEqual(again.status, 200, again.text)
    assert.strictEqual(again.body.name, "mirror.example.org")
    assert.strictEqual(again.body.country, "SE")
    assert.strictEqual(await stop(second, "SIGINT"), 0, second.output())
    assert.deepStrictEqual(postgresServing(path.join(dataDir, "postgres")), [])

    for (const output of [first.output(), second.output()]) {
      assert.notInclude(output, SITE_PASSWORD)
      assert.notInclude(output, "scrypt$")
      assert.notInclude(output, createHash("sha256").update(token!).digest("hex"))
    }
  })

  it("takes over after kill -9 and loses nothing that was acknowledged", async () => {
    const dataDir = tempDir()
    const env = { MM_DATA_DIR: dataDir, MM_EMBEDDED_PG_PORT: String(await freePort()), MM_ADMIN_TOKEN: "mm_killtest" }
    const first = await startNode(env)
    const product = await api(first, "mm_killtest", "POST", "/api/products", { name: "Fedora" })
    assert.strictEqual(product.status, 201, product.text)
    await stop(first, "SIGKILL")
    assert.lengthOf(postgresServing(path.join(dataDir, "postgres")), 1, "the orphaned postgres is still running")

    const second = await startNode(env)
    const read = await api(second, "mm_killtest", "GET", `/api/products/${product.body.id}`)
    assert.strictEqual(read.status, 200, read.text)
    assert.strictEqual(read.body.name, "Fedora")
    assert.strictEqual(await stop(second), 0)
    assert.deepStrictEqual(postgresServing(path.join(dataDir, "postgres")), [])
  })
})

describe("a node on DATABASE_URL", () => {
  it("uses that server, authenticates MM_ADMIN_TOKEN and rotates it when it changes", async () => {
    const dataDir = tempDir()
    const env = { MM_DATA_DIR: dataDir, DATABASE_URL: inject("databaseUrl") }
    const first = await startNode({ ...env, MM_ADMIN_TOKEN: "mm_first-token" })
    assert.include(first.output(), "database: DATABASE_URL 127.0.0.1:")
    assert.notInclude(first.output(), new URL(inject("databaseUrl")).password, "the database password is not logged")
    assert.isFalse(fs.existsSync(path.join(dataDir, "postgres")), "no embedded server was started")
    assert.strictEqual((await api(first, "mm_first-token", "GET", "/api/me")).status, 200)
    await stop(first)

    const second = await startNode({ ...env, MM_ADMIN_TOKEN: "mm_second-token" })
    assert.strictEqual((await api(second, "mm_second-token", "GET", "/api/me")).status, 200)
    assert.strictEqual((await api(second, "mm_first-token", "GET", "/api/me")).status, 401)
    await stop(second)
  })
})
