// Rules that must hold under concurrency, restarts and delete-and-recreate: each test once showed a defect.

import { assert, layer } from "@effect/vitest"
import { Accounts } from "@mirrormanager/actors/registry"
import { Effect, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import {
  createChain,
  createHost,
  createProduct,
  createSite,
  createUser,
  issueToken,
  makeUser,
  unique
} from "../support/Fixtures.ts"
import { expectStatus, request } from "../support/Requests.ts"
import { ADMIN_TOKEN, testNodeLayer } from "../support/TestNode.ts"

layer(testNodeLayer(), { excludeTestServices: true })("integrity", (it) => {
  it.effect("two site admins removing each other at once leave the site with one admin", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      let orphaned = 0
      for (let i = 0; i < 20; i++) {
        const a = yield* makeUser()
        const b = yield* makeUser()
        const site = yield* createSite({}, a.token)
        yield* expectStatus("POST", `/api/sites/${site.id}/admins`, 201, {
          token: a.token,
          body: { username: b.username }
        })
        yield* Effect.all(
          [
            request("DELETE", `/api/sites/${site.id}/admins/${b.id}`, { token: a.token }),
            request("DELETE", `/api/sites/${site.id}/admins/${a.id}`, { token: b.token })
          ],
          { concurrency: 2 }
        )
        const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM site_admins WHERE site_id = ${site.id}`
        if (row!.n === 0) orphaned++
      }
      assert.strictEqual(orphaned, 0, `${orphaned}/20 sites were left without any admin`)
    })
  )

  it.effect("two global admins demoting each other at once leave one global admin", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // Leave exactly two admins a and b in each round (the bootstrap admin is demoted behind the API's back).
      let none = 0
      for (let i = 0; i < 10; i++) {
        const a = yield* makeUser({ admin: true })
        const b = yield* makeUser({ admin: true })
        yield* sql`UPDATE users SET admin = false WHERE id NOT IN (${a.id}, ${b.id})`
        yield* Effect.all(
          [
            request("PATCH", `/api/users/${b.id}`, { token: a.token, body: { admin: false } }),
            request("PATCH", `/api/users/${a.id}`, { token: b.token, body: { admin: false } })
          ],
          { concurrency: 2 }
        )
        const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE admin`
        if (row!.n === 0) none++
        yield* sql`UPDATE users SET admin = true WHERE username = 'admin'`
      }
      assert.strictEqual(none, 0, `${none}/10 rounds ended with no global admin at all`)
    })
  )

  it.effect(
    "a node still starts after MM_ADMIN_TOKEN was revoked through the API, and the configured token works again",
    () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const [tok] = yield* sql<{
          id: number
        }>`SELECT id FROM api_tokens WHERE name = 'MM_ADMIN_TOKEN' AND revoked_at IS NULL`
        // another admin exists so we can keep operating
        const other = yield* makeUser({ admin: true })
        yield* expectStatus("DELETE", `/api/tokens/${tok!.id}`, 200, { token: other.token })
        const accounts = yield* Accounts
        assert.strictEqual((yield* request("GET", "/api/me")).status, 401, "revoked")
        const exit = yield* Effect.exit(accounts.bootstrap(Option.some(Redacted.make(ADMIN_TOKEN))))
        assert.isTrue(
          exit._tag === "Success",
          `bootstrap (node start) failed: ${String((exit as any).cause).slice(0, 300)}`
        )
        assert.strictEqual((yield* request("GET", "/api/me")).status, 200, "the configuration wins over the revocation")
      })
  )

  it.effect("the bootstrap admin cannot be demoted or deleted, so MM_ADMIN_TOKEN stays a global admin", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const other = yield* makeUser({ admin: true })
      const [adm] = yield* sql<{ id: number }>`SELECT id FROM users WHERE bootstrap`
      const demote = yield* request("PATCH", `/api/users/${adm!.id}`, { token: other.token, body: { admin: false } })
      assert.strictEqual(demote.status, 422, demote.text)
      assert.include(demote.body.detail, "bootstrap admin")
      assert.strictEqual((yield* request("DELETE", `/api/users/${adm!.id}`, { token: other.token })).status, 422)
      // Even when demoted behind the API's back, the next start makes it a global admin again.
      yield* sql`UPDATE users SET admin = false WHERE id = ${adm!.id}`
      const accounts = yield* Accounts
      yield* accounts.bootstrap(Option.some(Redacted.make(ADMIN_TOKEN)))
      assert.strictEqual((yield* request("GET", "/api/users")).status, 200)
    })
  )

  it.effect("a mirror URL too long once percent-encoded is a 4xx, not a database error", () =>
    Effect.gen(function* () {
      const a = yield* makeUser()
      const { hostCategory: hc } = yield* createChain(a.token)
      // 2000 random CJK characters: < 2048 characters as typed, ~18 kB once percent-encoded.
      let path = ""
      for (let i = 0; i < 2000; i++) path += String.fromCharCode(0x4e00 + Math.floor(Math.random() * 20000))
      const r = yield* request("POST", `/api/host-categories/${hc.id}/urls`, {
        token: a.token,
        body: { url: `https://mirror.example.org/${path}` }
      })
      assert.isTrue(r.status === 400 || r.status === 422, `got ${r.status} ${r.text.slice(0, 300)}`)
    })
  )

  it.effect("a topdir over 1024 bytes in UTF-8 is a 4xx, not a database error", () =>
    Effect.gen(function* () {
      const product = yield* createProduct()
      let path = ""
      for (let i = 0; i < 1000; i++) path += String.fromCharCode(0x4e00 + Math.floor(Math.random() * 20000))
      const r = yield* request("POST", "/api/categories", {
        body: { name: unique("C"), productId: product.id, topdir: path }
      })
      assert.isTrue(r.status === 400 || r.status === 422, `got ${r.status} ${r.text.slice(0, 300)}`)
    })
  )

  it.effect("a site admin cannot delete an admin-disabled host to re-create it active", () =>
    Effect.gen(function* () {
      const a = yield* makeUser()
      const site = yield* createSite({}, a.token)
      const host = yield* createHost(site.id, { name: "bad" }, a.token)
      yield* expectStatus("PATCH", `/api/hosts/${host.id}`, 200, { body: { adminActive: false } })
      const del = yield* request("DELETE", `/api/hosts/${host.id}`, { token: a.token })
      const again = yield* request("POST", `/api/sites/${site.id}/hosts`, {
        token: a.token,
        body: { name: "bad", country: "DE" }
      })
      assert.isFalse(
        del.status === 204 && again.status === 201 && again.body.adminActive === true,
        "site admin deleted the admin-disabled host and re-created it active"
      )
    })
  )

  it.effect("a site admin cannot delete an admin-private URL to re-add it public", () =>
    Effect.gen(function* () {
      const a = yield* makeUser()
      const { hostCategory: hc } = yield* createChain(a.token)
      const url = `https://${unique("m")}.example.org/pub`
      const u = yield* expectStatus("POST", `/api/host-categories/${hc.id}/urls`, 201, { body: { url, private: true } })
      const del = yield* request("DELETE", `/api/host-category-urls/${u.id}`, { token: a.token })
      const again = yield* request("POST", `/api/host-categories/${hc.id}/urls`, { token: a.token, body: { url } })
      assert.isFalse(
        del.status === 204 && again.status === 201 && again.body.private === false,
        "site admin made an admin-private URL public"
      )
    })
  )

  it.effect("a failure inside a handler is a 500 problem document", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // Force a database error inside a handler: break a table the handler reads.
      yield* sql`ALTER TABLE embargoed_countries RENAME TO embargoed_countries_x`
      const r = yield* request("GET", "/api/embargoed-countries")
      yield* sql`ALTER TABLE embargoed_countries_x RENAME TO embargoed_countries`
      assert.strictEqual(r.status, 500)
      assert.strictEqual(
        r.headers.get("content-type"),
        "application/problem+json",
        `500 with body ${JSON.stringify(r.text)}`
      )
    })
  )
})

layer(testNodeLayer(), { excludeTestServices: true })("redirect integrity", (it) => {
  it.effect("concurrent redirects A->B and B->C never make a two-hop chain", () =>
    Effect.gen(function* () {
      let chains = 0
      for (let i = 0; i < 20; i++) {
        const [a, b, c] = [unique("ra"), unique("rb"), unique("rc")]
        const [r1, r2] = yield* Effect.all(
          [
            request("POST", "/api/repository-redirects", { body: { fromRepo: a, toRepo: b } }),
            request("POST", "/api/repository-redirects", { body: { fromRepo: b, toRepo: c } })
          ],
          { concurrency: 2 }
        )
        if (r1.status === 201 && r2.status === 201) chains++
      }
      assert.strictEqual(chains, 0, `${chains}/20 two-hop chains were created`)
    })
  )
})

layer(testNodeLayer(), { excludeTestServices: true })("who disabled a host", (it) => {
  it.effect("a site admin switching a host off and on records who did it", () =>
    Effect.gen(function* () {
      const a = yield* makeUser()
      const site = yield* createSite({}, a.token)
      const host = yield* createHost(site.id, {}, a.token)
      const off = yield* expectStatus("PATCH", `/api/hosts/${host.id}`, 200, {
        token: a.token,
        body: { userActive: false }
      })
      assert.strictEqual(off.disabledBy, "user", JSON.stringify(off))
      assert.isString(off.disableReason)
      const on = yield* expectStatus("PATCH", `/api/hosts/${host.id}`, 200, {
        token: a.token,
        body: { userActive: true }
      })
      assert.strictEqual(on.disabledBy, "none")
      assert.isNull(on.disableReason)
    })
  )
})

layer(testNodeLayer(), { excludeTestServices: true })("admin-only fields under concurrency", (it) => {
  it.effect("a site admin echoing adminActive=true never undoes a concurrent admin disable", () =>
    Effect.gen(function* () {
      const a = yield* makeUser()
      const site = yield* createSite({}, a.token)
      let reverted = 0
      for (let i = 0; i < 40; i++) {
        const host = yield* createHost(site.id, { name: `h${i}` }, a.token)
        const [ra, rs] = yield* Effect.all(
          [
            request("PATCH", `/api/hosts/${host.id}`, { body: { adminActive: false } }),
            request("PATCH", `/api/hosts/${host.id}`, { token: a.token, body: { adminActive: true, comment: "x" } })
          ],
          { concurrency: 2 }
        )
        const now = yield* expectStatus("GET", `/api/hosts/${host.id}`, 200)
        if (ra.status === 200 && rs.status === 200 && now.adminActive === true) reverted++
      }
      assert.strictEqual(reverted, 0, `${reverted}/40 admin disables were undone by a site admin`)
    })
  )
})

layer(testNodeLayer(), { excludeTestServices: true })("bootstrap by mark, not by name", (it) => {
  it.effect("a plain user called 'admin' gains nothing when a node starts", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const other = yield* makeUser({ admin: true })
      // The bootstrap account is gone (database surgery) and someone is given the free name "admin".
      yield* sql`DELETE FROM users WHERE bootstrap`
      const plain = yield* createUser({ username: "admin" }, other.token)
      const t = yield* issueToken(plain.id, {}, other.token)
      const accounts = yield* Accounts
      yield* accounts.bootstrap(Option.some(Redacted.make(ADMIN_TOKEN))) // restart
      assert.strictEqual((yield* request("GET", "/api/users", { token: t.token })).status, 403)
      const [boot] = yield* sql<{ username: string; admin: boolean }>`SELECT username, admin FROM users WHERE bootstrap`
      assert.deepStrictEqual(boot, { username: "admin-bootstrap", admin: true })
      assert.strictEqual(
        (yield* request("GET", "/api/users")).status,
        200,
        "MM_ADMIN_TOKEN belongs to the new bootstrap admin"
      )
    })
  )
})

layer(testNodeLayer({ policy: { maxHostsPerSite: 2 } }), { excludeTestServices: true })(
  "bounds under concurrency",
  (it) => {
    it.effect("concurrent host creations never overshoot maxHostsPerSite", () =>
      Effect.gen(function* () {
        const site = yield* createSite({ name: "bounded" })
        const replies = yield* Effect.all(
          Array.from({ length: 5 }, (_, i) =>
            request("POST", `/api/sites/${site.id}/hosts`, { body: { name: `h${i}.example.org`, country: "FR" } })
          ),
          { concurrency: 5 }
        )
        const created = replies.filter((r) => r.status === 201).length
        assert.isAtMost(created, 2, `${created} hosts created with maxHostsPerSite = 2`)
      })
    )
  }
)
