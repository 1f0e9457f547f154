// POST /api/hosts/{hostId}/crawl: a crawl of the host now, by the node that holds it, answered with what it found;
// for the host's site admins and global admins only.
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { makeContent, makeTenant } from "../support/Fixtures.ts"
import { expectStatus } from "../support/Requests.ts"
import { testNodeLayer } from "../support/TestNode.ts"

layer(testNodeLayer(), { excludeTestServices: true })("crawling a host on demand", (it) => {
  it.effect("answers the crawl's summary; by default a mirror on a private address is not crawled", () =>
    Effect.gen(function* () {
      const content = yield* makeContent
      const tenant = yield* makeTenant(content)
      const other = yield* makeTenant(content)
      // The tenant's mirror on a private address: by default nothing is fetched from it.
      const mirrorUrl = "https://10.255.255.1/pub"
      yield* expectStatus("PATCH", `/api/host-category-urls/${tenant.urlId}`, 200, {
        body: { url: mirrorUrl },
        token: tenant.token
      })
      const summary = yield* expectStatus("POST", `/api/hosts/${tenant.hostId}/crawl`, 200, {
        body: { mode: "canary" },
        token: tenant.token
      })
      assert.deepInclude(summary, {
        status: "failure",
        requests: 0,
        directoriesUpToDate: 0,
        baseUrls: 1,
        baseUrlsUsable: 0,
        categoriesAlwaysUpToDate: 0
      })
      // The answer says why, and what would allow it.
      assert.match(
        summary.reason,
        /^no base URL answered \(last: https:\/\/10\.255\.255\.1\/pub\/: refused: 10\.255\.255\.1 is a private address; .* only with MM_CRAWL_PRIVATE_ADDRESSES=true\)$/
      )
      yield* expectStatus("POST", `/api/hosts/${tenant.hostId}/crawl`, 403, { body: {}, token: other.token })
      yield* expectStatus("POST", "/api/hosts/999999/crawl", 404, { body: {} })
      yield* expectStatus("POST", `/api/hosts/${tenant.hostId}/crawl`, 400, { body: { mode: "everything" } })
      assert.strictEqual(
        (yield* expectStatus("POST", `/api/hosts/${tenant.hostId}/crawl`, 200, { body: {} })).status,
        "failure"
      )

      // The crawl log: newest first, each request and its result; the last ten crawls of each mode only.
      const log = yield* expectStatus("GET", `/api/hosts/${tenant.hostId}/crawl-log`, 200, { token: tenant.token })
      assert.strictEqual(log.length, 2)
      assert.deepInclude(log[0], { mode: "full", status: "failure", requests: 0, entriesTotal: 1 })
      assert.deepInclude(log[1], { mode: "canary" })
      assert.match(
        log[0].entries[0].result,
        /^refused: 10\.255\.255\.1 is a private address; .*MM_CRAWL_PRIVATE_ADDRESSES=true$/
      )
      assert.strictEqual(log[0].entries[0].url, `${mirrorUrl}/`)
      yield* expectStatus("GET", `/api/hosts/${tenant.hostId}/crawl-log`, 403, { token: other.token })
      for (let i = 0; i < 10; i++) yield* expectStatus("POST", `/api/hosts/${tenant.hostId}/crawl`, 200, { body: {} })
      // Ten of each mode: the canary check stays.
      const kept = yield* expectStatus("GET", `/api/hosts/${tenant.hostId}/crawl-log`, 200)
      assert.deepStrictEqual(
        kept.map((run: { mode: string }) => run.mode),
        [...Array.from({ length: 10 }, () => "full"), "canary"]
      )

      // Four failures in a row switched the host off: the event is in its site admins' feed and the global admins',
      // not in another site's; the feed needs a login.
      const mine = yield* expectStatus("GET", `/api/events?hostId=${tenant.hostId}`, 200, { token: tenant.token })
      assert.deepStrictEqual(
        mine.map((e: { kind: string }) => e.kind),
        ["HostAutoDisabled"]
      )
      assert.match(mine[0].details.reason, /^disabled after 4 consecutive crawl failures: no base URL answered/)
      assert.deepStrictEqual(yield* expectStatus("GET", "/api/events", 200, { token: other.token }), [])
      const all = yield* expectStatus("GET", "/api/events?kind=HostAutoDisabled&limit=1000", 200)
      assert.isTrue(all.some((e: { id: number }) => e.id === mine[0].id))
      assert.deepStrictEqual(
        yield* expectStatus("GET", `/api/events?after=${mine[0].id}&hostId=${tenant.hostId}`, 200),
        []
      )
      yield* expectStatus("GET", "/api/events", 401, { token: null })
      yield* expectStatus("GET", "/api/events?limit=0", 400)
      yield* expectStatus("GET", "/api/events?kind=Everything", 400)
      // Propagation: for any signed-in user (nothing recorded here: no crawl run, only single crawls).
      assert.isArray(yield* expectStatus("GET", "/api/propagation", 200, { token: other.token }))
      yield* expectStatus("GET", "/api/propagation", 401, { token: null })
      yield* expectStatus("GET", "/api/propagation?repositoryId=x", 400)
    })
  )
})
