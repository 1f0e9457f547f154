// An admin request waits for the database only so long (AdminDatabaseTimeout): a pool whose connections are all
// taken, or a statement that does not end, gets 503 with Retry-After within the bound, and the request's work is
// withdrawn (its statement cancelled, nothing written). A crawl, which waits for a mirror, is not bounded by it.
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { holdLock } from "@mirrormanager/actors/testing"
import { Duration, Effect, Exit, Layer, Option, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { AdminDatabaseTimeout } from "../../src/admin/ProblemResponses.ts"
import { TestNode, testNodeLayer } from "../support/TestNode.ts"

const BOUND = Duration.seconds(1)

const TestLayer = testNodeLayer().pipe(Layer.provide(Layer.succeed(AdminDatabaseTimeout, BOUND)))

const isBoundAnswer = (reply: { status: number; headers: Headers; body: any }) => {
  assert.strictEqual(reply.status, 503, JSON.stringify(reply.body))
  assert.strictEqual(reply.headers.get("retry-after"), "10")
  assert.include(reply.body.detail, "did not answer within 1s")
}

layer(TestLayer, { excludeTestServices: true })("an admin request's wait for the database", (it) => {
  it.effect("is bounded while every pooled connection is taken", () =>
    Effect.gen(function* () {
      const node = yield* TestNode
      const sql = yield* SqlClient.SqlClient
      assert.strictEqual((yield* node.request("GET", "/api/sites")).status, 200)

      // Every connection of the pool, taken as long-running scans and check-ins would take them.
      const held = yield* Scope.make()
      let taken = 0
      while (true) {
        const connection = yield* sql.reserve.pipe(Scope.provide(held), Effect.timeoutOption("300 millis"))
        if (Option.isNone(connection)) break
        taken++
      }
      assert.isAbove(taken, 0)
      const waiting = yield* node.request("GET", "/api/sites")
      isBoundAnswer(waiting)

      yield* Scope.close(held, Exit.void)
      assert.strictEqual((yield* node.request("GET", "/api/sites")).status, 200)
    })
  )

  it.effect("is bounded while a statement waits; the statement is cancelled and nothing is written", () =>
    Effect.gen(function* () {
      const node = yield* TestNode
      const sql = yield* SqlClient.SqlClient
      const pg = yield* PgClient.PgClient
      // Another session locks the sites table until told to let go (an admin's long maintenance, say).
      const lock = yield* holdLock(pg.config.url!, "LOCK TABLE sites IN ACCESS EXCLUSIVE MODE")

      const write = yield* node.request("POST", "/api/sites", {
        body: { name: "Written while locked", password: "long-enough-password" }
      })
      isBoundAnswer(write)
      isBoundAnswer(yield* node.request("GET", "/api/sites"))

      // The node's statements do not linger on the server behind the lock: they were cancelled.
      const waitingOnSites = sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'mirrormanager' AND wait_event_type = 'Lock'`
      let lingering = -1
      for (let i = 0; i < 50 && lingering !== 0; i++) {
        lingering = (yield* waitingOnSites)[0]!.n
        if (lingering !== 0) yield* Effect.sleep("100 millis")
      }
      assert.strictEqual(lingering, 0, "the node's statements still wait on the lock")

      yield* lock.release
      const sites = yield* node.request("GET", "/api/sites")
      assert.strictEqual(sites.status, 200)
      assert.notInclude(sites.text, "Written while locked")
    })
  )
})
