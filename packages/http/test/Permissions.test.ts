import { writeFileSync } from "node:fs"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { TestNode, testNodeLayer } from "./support/TestNode.ts"

layer(testNodeLayer(), { excludeTestServices: true })("probe", (it) => {
  it.effect("probe", () =>
    Effect.gen(function* () {
      const node = yield* TestNode
      const out: Array<unknown> = []
      const r = async (m: string, p: string, o: any = {}) => {
        const x = await Effect.runPromise(node.request(m, p, o))
        out.push([m, p, { s: x.status, b: x.text.slice(0, 300), h: Object.fromEntries(x.headers) }])
        return x
      }
      yield* Effect.promise(async () => {
        await r("GET", "/api/sites", { token: null })
        const p = await r("POST", "/api/products", { body: { name: "p1" } })
        await r("PATCH", `/api/products/${p.body.id}`, { body: {} })
        await r("DELETE", `/api/products/${p.body.id}`)
        await r("POST", "/api/products", { body: { name: "x".repeat(2 * 1024 * 1024) } })
        await r("POST", "/api/products", { rawBody: "" })
        await r("POST", "/api/products", { rawBody: "[]" })
        await r("POST", "/api/products", { body: { name: "p2" }, headers: { "content-type": "text/plain" } })
        await r("GET", "/api/products?pageSize=0")
        await r("GET", "/api/products?pageSize=abc")
        await r("GET", "/api/sites/0")
        await r("GET", "/api/sites/1.5")
        await r("GET", "/api/sites/-1")
        await r("GET", "/api/me", {
          headers: { authorization: "bearer mm_test-global-admin-token-0123456789" },
          token: null
        })
        await r("GET", "/api/me", { headers: { authorization: "Basic YWRtaW46eA==" }, token: null })
        await r("GET", "/api/me", { headers: { authorization: "Bearer" }, token: null })
        await r("GET", "/api/me", { token: "" })
      })
      writeFileSync("/tmp/probe.json", JSON.stringify(out, null, 1))
      assert.ok(true)
    })
  )
})
