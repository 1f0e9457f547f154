import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { TestNode, testNodeLayer } from "../support/TestNode.ts"

layer(testNodeLayer(), { excludeTestServices: true })("smoke", (it) => {
  it.effect("ready and authenticated", () =>
    Effect.gen(function* () {
      const node = yield* TestNode
      const ready = yield* node.request("GET", "/healthz/ready", { token: null })
      assert.strictEqual(ready.status, 200)
      const me = yield* node.request("GET", "/api/me")
      assert.strictEqual(me.status, 200)
      assert.strictEqual(me.body.user.username, "admin")
    })
  )

  it.effect("an unknown path or method is a 404 problem document", () =>
    Effect.gen(function* () {
      const node = yield* TestNode
      for (const [method, path] of [
        ["GET", "/no/such/path"],
        ["PUT", "/api/sites"]
      ] as const) {
        const reply = yield* node.request(method, path)
        assert.strictEqual(reply.status, 404, `${method} ${path}`)
        assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
        assert.strictEqual(reply.body.title, "Not Found")
      }
    })
  )
})
