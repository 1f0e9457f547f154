// Host events posted to a webhook: in order, at least once, retried while the receiver fails, signed with the
// configured secret; a receiver that fails holds the later events back rather than reordering them, and one it
// refuses is given up.
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, assert, layer } from "@effect/vitest"
import { HostId, SiteId } from "@mirrormanager/domain/registry"
import { Duration, Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import { EventDeliveryLayer, signature } from "../../src/events/EventDelivery.ts"
import { HostEvents } from "../../src/events/HostEvents.ts"
import { freshDatabaseLayer, SingleRunnerLayer } from "../../src/testing/index.ts"

interface Received {
  readonly body: string
  readonly signature: string | undefined
  readonly answered: number
}

const received: Array<Received> = []
/** Answers 500 to the next `failures` requests and 400 to the next `refusals`, then 204. */
const receiver = { failures: 1, refusals: 0 }
const server = http.createServer((request, response) => {
  let body = ""
  request.on("data", (chunk) => (body += chunk))
  request.on("end", () => {
    const answered = receiver.failures > 0 ? 500 : receiver.refusals > 0 ? 400 : 204
    if (receiver.failures > 0) receiver.failures--
    else if (receiver.refusals > 0) receiver.refusals--
    received.push({ body, signature: request.headers["x-mirrormanager-signature"] as string | undefined, answered })
    response.writeHead(answered).end()
  })
})
const port = await new Promise<number>((resolve) =>
  server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port))
)
afterAll(() => new Promise((resolve) => server.close(resolve)))

const SECRET = "webhook-secret-for-tests"
const TestLayer = EventDeliveryLayer({
  url: `http://127.0.0.1:${port}/hooks/mirrors`,
  secret: Redacted.make(SECRET),
  pollEvery: Duration.millis(50),
  timeout: Duration.seconds(2),
  firstRetry: Duration.millis(300)
}).pipe(
  Layer.provideMerge(HostEvents.layer),
  Layer.provideMerge(SingleRunnerLayer),
  Layer.provideMerge(freshDatabaseLayer(inject("databaseUrl")))
)

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("host events to a webhook", (it) => {
  it.effect("are posted in order, retried while the receiver fails, signed", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const hostEvents = yield* HostEvents
      for (const hostId of [7, 8]) {
        yield* sql.withTransaction(
          hostEvents.record({
            kind: "HostAutoDisabled",
            siteId: SiteId.make(3),
            hostId: HostId.make(hostId),
            details: { hostName: `mirror-${hostId}`, reason: "disabled after 4 consecutive crawl failures: refused" }
          })
        )
      }
      for (let i = 0; i < 100; i++) {
        const [row] = yield* sql<{ left: number }>`
          SELECT count(*)::int AS left FROM host_events WHERE delivered_at IS NULL`
        if (row!.left === 0) break
        yield* Effect.sleep("50 millis")
      }
      const events = received.map((r) => ({ ...JSON.parse(r.body), answered: r.answered }))
      // The first attempt failed; the second event waited for the first to be taken.
      assert.deepStrictEqual(
        events.map((e) => [e.hostId, e.answered]),
        [
          [7, 500],
          [7, 204],
          [8, 204]
        ]
      )
      assert.deepInclude(events[1], { kind: "HostAutoDisabled", siteId: 3, hostId: 7 })
      assert.strictEqual(events[1].details.hostName, "mirror-7")
      assert.strictEqual(events[1].id, events[0].id, "a retry is the same event (receivers de-duplicate by id)")
      for (const r of received) assert.strictEqual(r.signature, signature(SECRET, r.body))
      const [attempts] = yield* sql<{ attempts: number }>`
        SELECT delivery_attempts AS attempts FROM host_events WHERE host_id = 7`
      assert.strictEqual(attempts!.attempts, 2)

      // An event the receiver refuses (4xx) is not sent again, and does not hold back the next.
      receiver.refusals = 1
      received.length = 0
      for (const hostId of [9, 10]) {
        yield* sql.withTransaction(
          hostEvents.record({
            kind: "HostNotUpToDate",
            siteId: SiteId.make(3),
            hostId: HostId.make(hostId),
            details: { directories: ["x/repodata"] }
          })
        )
      }
      for (let i = 0; i < 100 && received.length < 2; i++) yield* Effect.sleep("50 millis")
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(
        received.map((r) => [JSON.parse(r.body).hostId, r.answered]),
        [
          [9, 400],
          [10, 204]
        ]
      )
      const rows = yield* sql<{ hostId: number; delivered: boolean; abandoned: boolean }>`
        SELECT host_id AS "hostId", delivered_at IS NOT NULL AS delivered, delivery_abandoned AS abandoned
        FROM host_events WHERE host_id IN (9, 10) ORDER BY host_id`
      assert.deepStrictEqual(rows, [
        { hostId: 9, delivered: false, abandoned: true },
        { hostId: 10, delivered: true, abandoned: false }
      ])
    }).pipe(Effect.orDie)
  )
})
