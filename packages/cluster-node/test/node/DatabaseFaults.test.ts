// A node whose database stops answering (every PostgreSQL process frozen with SIGSTOP) or goes away: readiness says
// "unreachable" without the database's address, and admin requests get 503 with Retry-After instead of hanging or
// failing with 500. The test runs a PostgreSQL of its own: the shared test server is never stopped.
import * as path from "node:path"
import { holdLock } from "@mirrormanager/actors/testing"
import { Effect, Exit, Redacted, Scope } from "effect"
import { afterAll, assert, describe, it } from "vitest"
import { startEmbeddedPostgres } from "../../src/db/EmbeddedPostgres.ts"
import { postgresProcesses } from "../../src/db/Processes.ts"
import { newDatabase } from "../support/Databases.ts"
import { freePort, startNode, tempDir } from "../support/Process.ts"

const TOKEN = "mm_database-faults-admin-token"

const signalAll = (dataDir: string, signal: NodeJS.Signals) => {
  for (const pid of postgresProcesses(dataDir)) {
    try {
      process.kill(pid, signal)
    } catch {}
  }
}

const until = async <A>(what: string, check: () => Promise<A | undefined>): Promise<A> => {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const value = await check()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`not within 60 s: ${what}`)
}

/** An answer, or a failed test if none comes: a request must never hang on the database. */
const request = async (url: string, route: string) => {
  const response = await fetch(`${url}${route}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(30_000)
  })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

/** Another session locks the `sites` table (a long maintenance, say) until `release`. */
const lockSites = async (url: string) => {
  const scope = Effect.runSync(Scope.make())
  const held = await Effect.runPromise(
    Scope.provide(holdLock(Redacted.make(url), "LOCK TABLE sites IN ACCESS EXCLUSIVE MODE"), scope)
  )
  return async () => {
    await Effect.runPromise(held.release)
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

let frozen: string | undefined
afterAll(() => {
  if (frozen !== undefined) signalAll(frozen, "SIGCONT")
})

describe("a node whose database fails", () => {
  it("notices a frozen database within seconds, answers 503 meanwhile, and recovers; a stopped one is 503 too", async () => {
    const dir = tempDir()
    const dataDir = path.join(dir, "pg")
    const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), database: "mirrormanager" })
    try {
      const node = await startNode({
        DATABASE_URL: pg.url,
        MM_DATA_DIR: path.join(dir, "node"),
        MM_ADMIN_TOKEN: TOKEN,
        MM_DATABASE_TIMEOUT: "2 seconds"
      })
      const sites = await request(node.url, "/api/sites")
      assert.strictEqual(sites.status, 200, sites.text)

      frozen = dataDir
      signalAll(dataDir, "SIGSTOP")
      const readiness = await until("readiness reports the frozen database", async () => {
        const ready = await request(node.url, "/healthz/ready")
        return JSON.parse(ready.text).checks.database === "unreachable" ? ready : undefined
      })
      // Still serving mirrorlists from its index: in rotation, degraded; nothing about where the database is.
      assert.strictEqual(readiness.status, 200, readiness.text)
      assert.strictEqual(JSON.parse(readiness.text).status, "degraded")
      assert.notInclude(readiness.text, String(pg.port))
      assert.notInclude(readiness.text, "127.0.0.1")
      assert.isTrue(readiness.text.endsWith("}\n"), "a JSON answer ends with a newline")
      const live = await request(node.url, "/healthz/live")
      assert.strictEqual(live.text, '{"status":"live"}\n')
      assert.match(node.output(), /registry database unreachable/)

      const hung = await request(node.url, "/api/sites")
      assert.strictEqual(hung.status, 503, hung.text)
      assert.strictEqual(hung.headers.get("retry-after"), "10")
      assert.strictEqual(JSON.parse(hung.text).status, 503)

      signalAll(dataDir, "SIGCONT")
      frozen = undefined
      await until("the node is ready again", async () => {
        const ready = await request(node.url, "/healthz/ready")
        return JSON.parse(ready.text).status === "ready" ? true : undefined
      })
      await until("the admin API answers again", async () =>
        (await request(node.url, "/api/sites")).status === 200 ? true : undefined
      )

      await pg.stop()
      const down = await request(node.url, "/api/sites")
      assert.strictEqual(down.status, 503, down.text)
      assert.strictEqual(down.headers.get("retry-after"), "10")
      const downReady = await until("readiness reports the stopped database", async () => {
        const ready = await request(node.url, "/healthz/ready")
        return JSON.parse(ready.text).checks.database === "unreachable" ? ready : undefined
      })
      assert.notInclude(downReady.text, String(pg.port))
      assert.notInclude(downReady.text, "ECONNREFUSED")
    } finally {
      await pg.stop().catch(() => {})
    }
  }, 240_000)

  it("answers an admin request that waits for the database longer than MM_ADMIN_DATABASE_TIMEOUT with 503", async () => {
    const url = await newDatabase()
    const node = await startNode({
      DATABASE_URL: url,
      MM_DATA_DIR: path.join(tempDir(), "node"),
      MM_ADMIN_TOKEN: TOKEN,
      MM_ADMIN_DATABASE_TIMEOUT: "2 seconds"
    })
    assert.strictEqual((await request(node.url, "/api/sites")).status, 200)
    const release = await lockSites(url)
    try {
      // The database answers (readiness says so), but not this request: the bound answers it.
      const waited = await request(node.url, "/api/sites")
      assert.strictEqual(waited.status, 503, waited.text)
      assert.strictEqual(waited.headers.get("retry-after"), "10")
      assert.include(JSON.parse(waited.text).detail, "did not answer within 2s")
      const ready = await request(node.url, "/healthz/ready")
      assert.strictEqual(JSON.parse(ready.text).checks.database, "ok")
    } finally {
      await release()
    }
    assert.strictEqual((await request(node.url, "/api/sites")).status, 200)
    assert.match(node.output(), /admin request answered 503: it waited for the database longer than 2s/)
  }, 120_000)
})
