// The page cache on its own: bounded in pages (least recently asked go first), one rendering for all who ask at once,
// the format by the Accept header, 304 for a known ETag, error pages never kept.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { HttpServerRequest, type HttpServerResponse } from "effect/http"
import { DEFAULT_PAGE_CACHE_OPTIONS, makePageCache, type PageContent, prefersJson } from "../../src/pages/PageCache.ts"

const asking = (headers: Record<string, string> = {}) =>
  HttpServerRequest.fromWeb(new Request("http://localhost/page", { headers }))

const bodyOf = (response: HttpServerResponse.HttpServerResponse) =>
  response.body._tag === "Uint8Array" ? Buffer.from(response.body.body).toString("utf8") : ""

describe("the page cache", () => {
  it.effect("keeps at most maxPages, dropping the least recently asked", () =>
    Effect.gen(function* () {
      const pages = makePageCache({ ...DEFAULT_PAGE_CACHE_OPTIONS, maxPages: 2 })
      let renders = 0
      const render = (key: string): Effect.Effect<PageContent> =>
        Effect.sync(() => {
          renders++
          return { html: `<p>${key}</p>`, json: { key } }
        })
      const serve = (key: string) =>
        pages.serve({ key }, render(key)).pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, asking()))
      yield* serve("a")
      yield* serve("b")
      yield* serve("a") // kept: "b" is now the least recently asked
      assert.strictEqual(renders, 2)
      yield* serve("c")
      assert.strictEqual(pages.size().pages, 2)
      yield* serve("a")
      assert.strictEqual(renders, 3, "a was kept")
      yield* serve("b")
      assert.strictEqual(renders, 4, "b had gone")
    })
  )

  it.effect("renders once for all who ask meanwhile; answers JSON, HTML and 304 from the one rendering", () =>
    Effect.gen(function* () {
      const pages = makePageCache()
      const gate = yield* Deferred.make<void>()
      let renders = 0
      const render = Effect.gen(function* () {
        renders++
        yield* Deferred.await(gate)
        return { html: "<p>page</p>", json: { page: true } } satisfies PageContent
      })
      const serve = (headers: Record<string, string> = {}) =>
        pages
          .serve({ key: "/p" }, render)
          .pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, asking(headers)))
      const html = yield* Effect.forkChild(serve({ accept: "text/html,application/json;q=0.9" }))
      const json = yield* Effect.forkChild(serve({ accept: "application/json" }))
      yield* Effect.yieldNow
      yield* Deferred.succeed(gate, undefined)
      const [h, j] = [yield* Fiber.join(html), yield* Fiber.join(json)]
      assert.strictEqual(renders, 1)
      assert.strictEqual(bodyOf(h), "<p>page</p>")
      assert.deepStrictEqual(JSON.parse(bodyOf(j)), { page: true })
      const again = yield* serve({ "if-none-match": h.headers.etag! })
      assert.strictEqual(again.status, 304)
      assert.strictEqual(renders, 1)
    })
  )

  it.effect("sends an error page without keeping it", () =>
    Effect.gen(function* () {
      const pages = makePageCache()
      const missing = { status: 404, html: "<p>no</p>", json: { status: 404 } } satisfies PageContent
      const response = yield* pages
        .serve({ key: "/x" }, Effect.succeed(missing))
        .pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, asking({ accept: "application/json" })))
      assert.strictEqual(response.status, 404)
      assert.strictEqual(
        response.headers["content-type"] ?? (response.body as any).contentType,
        "application/problem+json"
      )
      assert.strictEqual(pages.size().pages, 0)
    })
  )

  it("prefers JSON only when the client does", () => {
    assert.isFalse(prefersJson(undefined))
    assert.isFalse(prefersJson("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"))
    assert.isFalse(prefersJson("text/html;q=0.9,application/json;q=0.5"))
    assert.isTrue(prefersJson("application/json"))
    assert.isTrue(prefersJson("application/json, text/html;q=0.5"))
    assert.isFalse(prefersJson("application/json;q=0"))
  })
})
