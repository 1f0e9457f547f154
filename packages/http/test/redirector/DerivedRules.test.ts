// docs/registry.md#derived-rules: a host or site that changes privacy is verified again before it is handed out.
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { TestNode, testNodeLayer } from "../support/TestNode.ts"

layer(testNodeLayer(), { excludeTestServices: true })("derived rules", (it) => {
  it.effect("changing private on a host or its site resets its directories to not up to date", () =>
    Effect.gen(function* () {
      const node = yield* TestNode
      const sql = yield* SqlClient.SqlClient
      const created = (reply: { status: number; body: any; text: string }) => {
        assert.strictEqual(reply.status, 201, reply.text)
        return reply.body.id as number
      }
      const product = created(yield* node.request("POST", "/api/products", { body: { name: "Fedora" } }))
      const category = created(
        yield* node.request("POST", "/api/categories", {
          body: { name: "Fedora Linux", productId: product, topdir: "pub/fedora/linux" }
        })
      )
      const site = created(
        yield* node.request("POST", "/api/sites", { body: { name: "Site", password: "long-enough-password" } })
      )
      const makeHost = (name: string) =>
        Effect.gen(function* () {
          const host = created(
            yield* node.request("POST", `/api/sites/${site}/hosts`, { body: { name, country: "DE" } })
          )
          const hc = created(
            yield* node.request("POST", `/api/hosts/${host}/categories`, { body: { categoryId: category } })
          )
          yield* sql`INSERT INTO host_category_dirs (host_category_id, directory_id, path, up2date, verified_by)
            SELECT ${hc}, id, '', true, 'crawl' FROM directories WHERE name = 'pub/fedora/linux'`
          return { host, hc }
        })
      const up2date = (hc: number) =>
        Effect.map(
          sql<{ up2date: boolean }>`SELECT up2date FROM host_category_dirs WHERE host_category_id = ${hc}`,
          (rows) => rows.map((r) => r.up2date)
        )
      const a = yield* makeHost("a.example.org")
      const b = yield* makeHost("b.example.org")

      // An edit that keeps privacy as it is changes nothing.
      assert.strictEqual(
        (yield* node.request("PATCH", `/api/hosts/${a.host}`, { body: { private: false } })).status,
        200
      )
      assert.deepStrictEqual(yield* up2date(a.hc), [true])

      assert.strictEqual(
        (yield* node.request("PATCH", `/api/hosts/${a.host}`, { body: { private: true } })).status,
        200
      )
      assert.deepStrictEqual(yield* up2date(a.hc), [false])
      assert.deepStrictEqual(yield* up2date(b.hc), [true], "other hosts keep their state")

      assert.strictEqual((yield* node.request("PATCH", `/api/sites/${site}`, { body: { private: true } })).status, 200)
      assert.deepStrictEqual(yield* up2date(b.hc), [false])
    })
  )
})
