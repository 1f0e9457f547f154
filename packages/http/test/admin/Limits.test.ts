// What one site or host may accumulate is bounded by the registry policy.
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { TestNode, testNodeLayer } from "../support/TestNode.ts"

const policy = { maxHostsPerSite: 2, maxUrlsPerHostCategory: 2, maxNetblocksPerHost: 3, maxPeerAsnsPerHost: 1 }

layer(testNodeLayer({ policy }), { excludeTestServices: true })("registry limits", (it) => {
  it.effect("refuses the entry past each bound with 422 and keeps the rest", () =>
    Effect.gen(function* () {
      const node = yield* TestNode
      const post = (path: string, body: unknown) => node.request("POST", path, { body })
      const site = (yield* post("/api/sites", { name: "Bounded", password: "long-enough-password" })).body.id
      const product = (yield* post("/api/products", { name: "P" })).body.id
      const category = (yield* post("/api/categories", { name: "C", productId: product, topdir: "pub/c" })).body.id

      const hosts = [] as Array<number>
      for (const name of ["a.example.org", "b.example.org"]) {
        const reply = yield* post(`/api/sites/${site}/hosts`, { name, country: "FR" })
        assert.strictEqual(reply.status, 201, reply.text)
        hosts.push(reply.body.id)
      }
      const third = yield* post(`/api/sites/${site}/hosts`, { name: "c.example.org", country: "FR" })
      assert.strictEqual(third.status, 422)
      assert.include(third.body.detail, "at most 2 hosts per site")

      const host = hosts[0]!
      const hc = (yield* post(`/api/hosts/${host}/categories`, { categoryId: category })).body.id
      for (const url of ["https://a.example.org/c", "http://a.example.org/c"]) {
        assert.strictEqual((yield* post(`/api/host-categories/${hc}/urls`, { url })).status, 201)
      }
      const url = yield* post(`/api/host-categories/${hc}/urls`, { url: "rsync://a.example.org/c" })
      assert.strictEqual(url.status, 422)
      assert.include(url.body.detail, "URLs per host category")

      for (const netblock of ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]) {
        assert.strictEqual((yield* post(`/api/hosts/${host}/netblocks`, { netblock })).status, 201)
      }
      const netblock = yield* post(`/api/hosts/${host}/netblocks`, { netblock: "2001:db8::/48" })
      assert.strictEqual(netblock.status, 422)
      assert.include(netblock.body.detail, "netblocks per host")
      assert.strictEqual((yield* node.request("GET", `/api/hosts/${host}/netblocks`)).body.total, 3)

      assert.strictEqual((yield* post(`/api/hosts/${host}/peer-asns`, { asn: 64500 })).status, 201)
      assert.strictEqual((yield* post(`/api/hosts/${host}/peer-asns`, { asn: 64501 })).status, 422)
      // Bounds are per host: the second host has room of its own.
      assert.strictEqual((yield* post(`/api/hosts/${hosts[1]!}/peer-asns`, { asn: 64501 })).status, 201)
    })
  )
})
