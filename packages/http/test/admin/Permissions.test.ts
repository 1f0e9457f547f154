// The permission matrix of the admin API over real HTTP: anonymous callers, site admins on other sites, and the
// fields and collections only global admins may write.
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import {
  type Content,
  createSite,
  createUser,
  issueToken,
  oneTenant,
  SITE_PASSWORD,
  type Tenant,
  twoTenants,
  unique
} from "../support/Fixtures.ts"
import { expectStatus, problemText, request, show, snapshot } from "../support/Requests.ts"
import { type Reply, testNodeLayer } from "../support/TestNode.ts"

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** Why a reply is not an RFC 9457 problem with this status, or undefined when it is one. */
const problemMismatch = (reply: Reply, status: number): string | undefined => {
  if (reply.status !== status) return `expected ${status}, got ${show(reply)}`
  if (!/json/.test(reply.headers.get("content-type") ?? "")) {
    return `expected a JSON problem body, got content-type ${reply.headers.get("content-type")}: ${show(reply)}`
  }
  if (reply.body?.status !== status || typeof reply.body?.title !== "string") {
    return `expected {status: ${status}, title} in the body, got ${show(reply)}`
  }
  if (problemText(reply.body).trim().length === 0) return `expected a detail saying what is wrong, got ${show(reply)}`
  return undefined
}

const assertProblem = (reply: Reply, status: number, label: string, says?: RegExp) => {
  const mismatch = problemMismatch(reply, status)
  assert.isUndefined(mismatch, `${label}: ${mismatch}`)
  if (says !== undefined) assert.match(problemText(reply.body), says, `${label}: ${show(reply)}`)
}

/** A call in a matrix: what to send, and what the global admin gets for it. */
interface Call {
  readonly method: string
  readonly path: string
  readonly body?: unknown
  readonly adminStatus: number
}

/** Sends a call; without `token`, as the global admin. */
const send = (call: Call, token?: string | null) =>
  request(call.method, call.path, {
    ...(token === undefined ? {} : { token }),
    ...(call.body === undefined ? {} : { body: call.body })
  })

/** Runs every call with `token`; returns a line per call whose reply is not the expected problem. */
const expectAllProblems = (calls: ReadonlyArray<Call>, token: string | null, status: number) =>
  Effect.gen(function* () {
    const wrong: Array<string> = []
    for (const call of calls) {
      const mismatch = problemMismatch(yield* send(call, token), status)
      if (mismatch !== undefined) wrong.push(`${call.method} ${call.path}: ${mismatch}`)
    }
    return wrong
  })

const assertUnchanged = (before: Record<string, string>, label: string) =>
  Effect.map(snapshot, (after) => assert.deepStrictEqual(after, before, `${label}: the database changed`))

// ---------------------------------------------------------------------------------------------------------------

layer(testNodeLayer(), { excludeTestServices: true })("permissions", (it) => {
  // 1. Authentication ------------------------------------------------------------------------------------------

  /** Every operation under /api/ in the OpenAPI document, with 1 for each path parameter and {} as body. */
  const apiOperations = Effect.gen(function* () {
    const spec = yield* expectStatus("GET", "/openapi.json", 200, { token: null })
    const calls: Array<Call> = []
    for (const [path, item] of Object.entries(spec.paths as Record<string, Record<string, unknown>>)) {
      if (!path.startsWith("/api/")) continue
      for (const method of Object.keys(item)) {
        if (!["get", "post", "put", "patch", "delete"].includes(method)) continue
        const upper = method.toUpperCase()
        const concrete = path.replace(/\{[^}]+\}/g, "1")
        calls.push(
          upper === "POST" || upper === "PUT" || upper === "PATCH"
            ? { method: upper, path: concrete, body: {}, adminStatus: 0 }
            : { method: upper, path: concrete, adminStatus: 0 }
        )
      }
    }
    return calls
  })

  it.effect("anonymous callers get 401 with a problem body on every /api/ operation, and write nothing", () =>
    Effect.gen(function* () {
      // Something with id 1 exists everywhere it matters, so an unauthenticated DELETE would have a victim.
      yield* oneTenant
      const calls = yield* apiOperations
      assert.isAtLeast(calls.length, 70, "the OpenAPI document lists the admin API operations")
      assert.isTrue(
        calls.some((c) => c.method === "DELETE" && c.path === "/api/sites/1"),
        "DELETE /api/sites/{id} is listed"
      )
      const before = yield* snapshot
      const wrong = yield* expectAllProblems(calls, null, 401)
      assert.deepStrictEqual(wrong, [], "operations that do not answer 401 to an anonymous caller")
      yield* assertUnchanged(before, "anonymous calls")
    })
  )

  it.effect("a garbage token gets 401 on every /api/ operation", () =>
    Effect.gen(function* () {
      const calls = yield* apiOperations
      const before = yield* snapshot
      const wrong = yield* expectAllProblems(calls, "mm_not-a-real-token-000000000000", 401)
      assert.deepStrictEqual(wrong, [], "operations that do not answer 401 to a garbage token")
      yield* assertUnchanged(before, "calls with a garbage token")
    })
  )

  it.effect("a revoked token gets 401 on every /api/ operation; the user's other tokens keep working", () =>
    Effect.gen(function* () {
      const user = yield* createUser({ username: unique("revoked") })
      const first = yield* issueToken(user.id, { name: "first" })
      const second = yield* issueToken(user.id, { name: "second" })
      const me = yield* expectStatus("GET", "/api/me", 200, { token: first.token })
      assert.strictEqual(me.user.username, user.username)

      const revoked = yield* expectStatus("DELETE", `/api/tokens/${first.id}`, 200)
      assert.isNumber(revoked.revokedAt, "a revoked token has revokedAt")
      assertProblem(yield* request("GET", "/api/me", { token: first.token }), 401, "revoked token", /revoked|unknown/i)

      const calls = yield* apiOperations
      const before = yield* snapshot
      const wrong = yield* expectAllProblems(calls, first.token, 401)
      assert.deepStrictEqual(wrong, [], "operations that do not answer 401 to a revoked token")
      yield* assertUnchanged(before, "calls with a revoked token")

      yield* expectStatus("GET", "/api/me", 200, { token: second.token })
      // A user may revoke their own token; it stops working at once.
      yield* expectStatus("DELETE", `/api/tokens/${second.id}`, 200, { token: second.token })
      assertProblem(yield* request("GET", "/api/me", { token: second.token }), 401, "self-revoked token")
    })
  )

  it.effect("a deleted user's token and malformed Authorization headers get 401", () =>
    Effect.gen(function* () {
      const user = yield* createUser({ username: unique("gone") })
      const issued = yield* issueToken(user.id)
      yield* expectStatus("GET", "/api/me", 200, { token: issued.token })
      yield* expectStatus("DELETE", `/api/users/${user.id}`, 204)
      assertProblem(yield* request("GET", "/api/me", { token: issued.token }), 401, "token of a deleted user")

      for (const authorization of ["Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer ", "Token abc", "mm_garbage"]) {
        assertProblem(
          yield* request("GET", "/api/sites", { token: null, headers: { authorization } }),
          401,
          `Authorization: ${authorization}`
        )
      }
    })
  )

  it.effect("401 replies name the scheme in WWW-Authenticate (RFC 9110 §11.6.1)", () =>
    Effect.gen(function* () {
      const anonymous = yield* request("GET", "/api/sites", { token: null })
      assertProblem(anonymous, 401, "anonymous")
      assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer\b/i, "anonymous: WWW-Authenticate")
      const garbage = yield* request("GET", "/api/sites", { token: "mm_garbage" })
      assertProblem(garbage, 401, "garbage token")
      assert.match(garbage.headers.get("www-authenticate") ?? "", /^Bearer\b/i, "garbage token: WWW-Authenticate")
    })
  )

  it.effect("health, the OpenAPI document and the docs page stay public", () =>
    Effect.gen(function* () {
      for (const token of [null, "mm_garbage"]) {
        const live = yield* expectStatus("GET", "/healthz/live", 200, { token })
        assert.strictEqual(live.status, "live")
        const ready = yield* expectStatus("GET", "/healthz/ready", 200, { token })
        assert.strictEqual(ready.status, "ready")
        const spec = yield* expectStatus("GET", "/openapi.json", 200, { token })
        assert.isObject(spec.paths["/api/sites"])
        const docs = yield* request("GET", "/docs", { token })
        assert.strictEqual(docs.status, 200, show(docs))
        assert.match(docs.headers.get("content-type") ?? "", /text\/html/)
        assert.include(docs.text, "/api/sites")
      }
    })
  )

  // 2. Site admins on each other's sites -----------------------------------------------------------------------

  /** Everything B owns, in an order the global admin can replay: reads, updates, creates, deletes. */
  const ownedBy = (b: Tenant, a: Tenant, content: Content): ReadonlyArray<Call> => [
    { method: "GET", path: `/api/sites/${b.siteId}`, adminStatus: 200 },
    { method: "GET", path: `/api/sites/${b.siteId}/admins`, adminStatus: 200 },
    { method: "GET", path: `/api/sites/${b.siteId}/hosts`, adminStatus: 200 },
    { method: "GET", path: `/api/hosts/${b.hostId}`, adminStatus: 200 },
    { method: "GET", path: `/api/hosts/${b.hostId}/categories`, adminStatus: 200 },
    { method: "GET", path: `/api/host-categories/${b.hostCategoryId}`, adminStatus: 200 },
    { method: "GET", path: `/api/host-categories/${b.hostCategoryId}/urls`, adminStatus: 200 },
    { method: "GET", path: `/api/host-category-urls/${b.urlId}`, adminStatus: 200 },
    { method: "GET", path: `/api/hosts/${b.hostId}/netblocks`, adminStatus: 200 },
    { method: "GET", path: `/api/hosts/${b.hostId}/countries-allowed`, adminStatus: 200 },
    { method: "GET", path: `/api/hosts/${b.hostId}/peer-asns`, adminStatus: 200 },
    { method: "GET", path: `/api/users/${b.userId}`, adminStatus: 200 },
    { method: "GET", path: `/api/users/${b.userId}/tokens`, adminStatus: 200 },

    {
      method: "PATCH",
      path: `/api/sites/${b.siteId}`,
      body: { orgUrl: "https://intruder.example.org/" },
      adminStatus: 200
    },
    { method: "PATCH", path: `/api/sites/${b.siteId}`, body: { password: "taken-over-password" }, adminStatus: 200 },
    { method: "PATCH", path: `/api/hosts/${b.hostId}`, body: { comment: "changed by someone else" }, adminStatus: 200 },
    {
      method: "PATCH",
      path: `/api/host-categories/${b.hostCategoryId}`,
      body: { alwaysUp2date: false },
      adminStatus: 200
    },
    {
      method: "PATCH",
      path: `/api/host-category-urls/${b.urlId}`,
      body: { url: `https://${b.username}-moved.example.org/pub` },
      adminStatus: 200
    },
    { method: "PATCH", path: `/api/users/${b.userId}`, body: { admin: false }, adminStatus: 200 },

    { method: "POST", path: `/api/sites/${b.siteId}/admins`, body: { username: a.username }, adminStatus: 201 },
    {
      method: "POST",
      path: `/api/sites/${b.siteId}/hosts`,
      body: { name: "second-mirror", country: "FR" },
      adminStatus: 201
    },
    {
      method: "POST",
      path: `/api/hosts/${b.hostId}/categories`,
      body: { categoryId: content.otherCategoryId },
      adminStatus: 201
    },
    {
      method: "POST",
      path: `/api/host-categories/${b.hostCategoryId}/urls`,
      body: { url: `https://${b.username}-second.example.org/pub` },
      adminStatus: 201
    },
    {
      method: "POST",
      path: `/api/hosts/${b.hostId}/netblocks`,
      body: { netblock: "198.51.100.0/24" },
      adminStatus: 201
    },
    { method: "POST", path: `/api/hosts/${b.hostId}/countries-allowed`, body: { country: "FR" }, adminStatus: 201 },

    { method: "DELETE", path: `/api/host-category-urls/${b.urlId}`, adminStatus: 204 },
    { method: "DELETE", path: `/api/hosts/${b.hostId}/netblocks/${b.netblockId}`, adminStatus: 204 },
    { method: "DELETE", path: `/api/hosts/${b.hostId}/countries-allowed/${b.countryId}`, adminStatus: 204 },
    { method: "DELETE", path: `/api/hosts/${b.hostId}/peer-asns/${b.peerAsnId}`, adminStatus: 204 },
    { method: "DELETE", path: `/api/sites/${b.siteId}/admins/${b.userId}`, adminStatus: 204 },
    { method: "DELETE", path: `/api/host-categories/${b.hostCategoryId}`, adminStatus: 204 },
    { method: "DELETE", path: `/api/hosts/${b.hostId}`, adminStatus: 204 },
    { method: "DELETE", path: `/api/sites/${b.siteId}`, adminStatus: 204 },
    { method: "DELETE", path: `/api/tokens/${b.tokenId}`, adminStatus: 200 },
    { method: "DELETE", path: `/api/users/${b.userId}`, adminStatus: 204 }
  ]

  it.effect("a site admin gets 403 on another site's site, hosts, categories, URLs, networks and admins", () =>
    Effect.gen(function* () {
      const { content, a, b } = yield* twoTenants
      const calls = ownedBy(b, a, content)

      // B reads all of it: the refusals below are about who asks, not about what is asked.
      for (const call of calls.filter((c) => c.method === "GET")) {
        yield* expectStatus(call.method, call.path, 200, { token: b.token })
      }

      const before = yield* snapshot
      const wrong = yield* expectAllProblems(calls, a.token, 403)
      assert.deepStrictEqual(wrong, [], "calls by A on B's resources that are not refused with 403")
      yield* assertUnchanged(before, "A's calls on B's resources")
      const me = yield* expectStatus("GET", "/api/me", 200, { token: a.token })
      assert.deepStrictEqual(me.siteIds, [a.siteId], "A did not become an admin of B's site")

      // Access follows site adminship at once, with the same token.
      yield* expectStatus("POST", `/api/sites/${b.siteId}/admins`, 201, { body: { username: a.username } })
      yield* expectStatus("GET", `/api/hosts/${b.hostId}`, 200, { token: a.token })
      yield* expectStatus("DELETE", `/api/sites/${b.siteId}/admins/${a.userId}`, 204)
      assertProblem(
        yield* request("GET", `/api/hosts/${b.hostId}`, { token: a.token }),
        403,
        "A after removal as admin of B's site"
      )
    })
  )

  it.effect("a site admin lists only their own sites; the global admin lists all", () =>
    Effect.gen(function* () {
      const { a, b } = yield* twoTenants
      const second = yield* createSite({ name: unique("second site of A ") }, a.token)

      const mine = yield* expectStatus("GET", "/api/sites?pageSize=1000", 200, { token: a.token })
      assert.deepStrictEqual(
        mine.items.map((s: any) => s.id),
        [a.siteId, second.id],
        "A's site list"
      )
      assert.strictEqual(mine.total, 2, "A's site count")
      const theirs = yield* expectStatus("GET", "/api/sites?pageSize=1000", 200, { token: b.token })
      assert.deepStrictEqual(
        theirs.items.map((s: any) => s.id),
        [b.siteId],
        "B's site list"
      )
      assert.strictEqual(theirs.total, 1, "B's site count")

      const all = yield* expectStatus("GET", "/api/sites?pageSize=1000", 200)
      const ids = all.items.map((s: any) => s.id)
      for (const id of [a.siteId, second.id, b.siteId]) assert.include(ids, id, "the global admin sees every site")
      const sql = yield* SqlClient.SqlClient
      const [count] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM sites`
      assert.strictEqual(all.total, count!.n, "the global admin's total counts every site")
    })
  )

  it.effect("the global admin may read, change and delete everything of a site", () =>
    Effect.gen(function* () {
      const { content, a, b } = yield* twoTenants
      const wrong: Array<string> = []
      for (const call of ownedBy(b, a, content)) {
        const reply = yield* send(call)
        if (reply.status !== call.adminStatus) {
          wrong.push(`${call.method} ${call.path}: expected ${call.adminStatus}, got ${show(reply)}`)
        }
      }
      assert.deepStrictEqual(wrong, [], "calls the global admin could not make")
      const sql = yield* SqlClient.SqlClient
      const [left] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM sites WHERE id = ${b.siteId}`
      assert.strictEqual(left!.n, 0, "B's site is gone")
    })
  )

  it.effect("reads never disclose site passwords or API token secrets, not even to the global admin", () =>
    Effect.gen(function* () {
      const { a } = yield* oneTenant
      const reads: ReadonlyArray<readonly [string, string | undefined]> = [
        [`/api/sites/${a.siteId}`, a.token],
        [`/api/sites/${a.siteId}`, undefined],
        ["/api/sites?pageSize=1000", undefined],
        [`/api/users/${a.userId}/tokens`, a.token],
        [`/api/users/${a.userId}/tokens`, undefined],
        ["/api/users?pageSize=1000", undefined],
        ["/api/me", a.token]
      ]
      for (const [path, token] of reads) {
        const reply = yield* request("GET", path, token === undefined ? {} : { token })
        assert.strictEqual(reply.status, 200, `GET ${path}: ${show(reply)}`)
        assert.notMatch(reply.text, /password|hash|sha256/i, `GET ${path} discloses a secret field: ${reply.text}`)
        assert.notInclude(reply.text, SITE_PASSWORD, `GET ${path} discloses the site password`)
        assert.notInclude(reply.text, a.token, `GET ${path} discloses the API token`)
      }
    })
  )

  // 3. What only global admins may write -----------------------------------------------------------------------

  it.effect("adminActive of sites and hosts: site admins may only send back the current value", () =>
    Effect.gen(function* () {
      const { a } = yield* oneTenant
      const token = a.token

      let before = yield* snapshot
      assertProblem(
        yield* request("POST", "/api/sites", {
          token,
          body: { name: unique("inactive site "), password: "check-in-secret", adminActive: false }
        }),
        403,
        "site admin creates an admin-inactive site",
        /adminActive/
      )
      assertProblem(
        yield* request("PATCH", `/api/sites/${a.siteId}`, { token, body: { adminActive: false } }),
        403,
        "site admin disables their site",
        /adminActive/
      )
      assertProblem(
        yield* request("POST", `/api/sites/${a.siteId}/hosts`, {
          token,
          body: { name: "inactive-host", country: "DE", adminActive: false }
        }),
        403,
        "site admin creates an admin-inactive host",
        /adminActive/
      )
      assertProblem(
        yield* request("PATCH", `/api/hosts/${a.hostId}`, { token, body: { adminActive: false } }),
        403,
        "site admin disables their host",
        /adminActive/
      )
      yield* assertUnchanged(before, "refused adminActive writes")

      // The current (default) value is accepted.
      const site = yield* expectStatus("POST", "/api/sites", 201, {
        token,
        body: { name: unique("active site "), password: "check-in-secret", adminActive: true }
      })
      assert.isTrue(site.adminActive)
      yield* expectStatus("PATCH", `/api/sites/${a.siteId}`, 200, { token, body: { adminActive: true } })
      yield* expectStatus("POST", `/api/sites/${a.siteId}/hosts`, 201, {
        token,
        body: { name: "active-host", country: "DE", adminActive: true }
      })
      yield* expectStatus("PATCH", `/api/hosts/${a.hostId}`, 200, {
        token,
        body: { adminActive: true, comment: "still active" }
      })

      // The global admin may set it both ways.
      const disabledSite = yield* expectStatus("PATCH", `/api/sites/${a.siteId}`, 200, { body: { adminActive: false } })
      assert.isFalse(disabledSite.adminActive)
      const disabledHost = yield* expectStatus("PATCH", `/api/hosts/${a.hostId}`, 200, { body: { adminActive: false } })
      assert.isFalse(disabledHost.adminActive)
      const created = yield* expectStatus("POST", "/api/sites", 201, {
        body: { name: unique("admin-inactive site "), password: "check-in-secret", adminActive: false }
      })
      assert.isFalse(created.adminActive)
      const createdHost = yield* expectStatus("POST", `/api/sites/${a.siteId}/hosts`, 201, {
        body: { name: "admin-inactive-host", country: "DE", adminActive: false }
      })
      assert.isFalse(createdHost.adminActive)

      // Now false is the current value: the site admin may send it back, but not turn it on again.
      yield* expectStatus("PATCH", `/api/sites/${a.siteId}`, 200, { token, body: { adminActive: false } })
      yield* expectStatus("PATCH", `/api/hosts/${a.hostId}`, 200, { token, body: { adminActive: false } })
      before = yield* snapshot
      assertProblem(
        yield* request("PATCH", `/api/sites/${a.siteId}`, { token, body: { adminActive: true } }),
        403,
        "site admin re-enables a site the global admin disabled",
        /adminActive/
      )
      assertProblem(
        yield* request("PATCH", `/api/hosts/${a.hostId}`, { token, body: { adminActive: true } }),
        403,
        "site admin re-enables a host the global admin disabled",
        /adminActive/
      )
      yield* assertUnchanged(before, "refused re-enabling")
    })
  )

  it.effect("alwaysUp2date of host categories and admin-only categories are for global admins", () =>
    Effect.gen(function* () {
      const { content, a } = yield* oneTenant
      const token = a.token

      const before = yield* snapshot
      assertProblem(
        yield* request("PATCH", `/api/host-categories/${a.hostCategoryId}`, { token, body: { alwaysUp2date: true } }),
        403,
        "site admin sets alwaysUp2date",
        /alwaysUp2date/
      )
      assertProblem(
        yield* request("POST", `/api/hosts/${a.hostId}/categories`, {
          token,
          body: { categoryId: content.otherCategoryId, alwaysUp2date: true }
        }),
        403,
        "site admin adds a category with alwaysUp2date",
        /alwaysUp2date/
      )
      assertProblem(
        yield* request("POST", `/api/hosts/${a.hostId}/categories`, {
          token,
          body: { categoryId: content.adminOnlyCategoryId }
        }),
        403,
        "site admin adds an admin-only category",
        /admin/
      )
      yield* assertUnchanged(before, "refused host category writes")

      yield* expectStatus("PATCH", `/api/host-categories/${a.hostCategoryId}`, 200, {
        token,
        body: { alwaysUp2date: false }
      })
      yield* expectStatus("POST", `/api/hosts/${a.hostId}/categories`, 201, {
        token,
        body: { categoryId: content.otherCategoryId, alwaysUp2date: false }
      })

      const up = yield* expectStatus("PATCH", `/api/host-categories/${a.hostCategoryId}`, 200, {
        body: { alwaysUp2date: true }
      })
      assert.isTrue(up.alwaysUp2date)
      // Sending back the value the global admin set is accepted.
      yield* expectStatus("PATCH", `/api/host-categories/${a.hostCategoryId}`, 200, {
        token,
        body: { alwaysUp2date: true }
      })
      const adminOnly = yield* expectStatus("POST", `/api/hosts/${a.hostId}/categories`, 201, {
        body: { categoryId: content.adminOnlyCategoryId, alwaysUp2date: true }
      })
      assert.strictEqual(adminOnly.categoryId, content.adminOnlyCategoryId)
      // The site admin still sees what the global admin added.
      const listed = yield* expectStatus("GET", `/api/hosts/${a.hostId}/categories`, 200, { token })
      assert.include(
        listed.items.map((c: any) => c.categoryId),
        content.adminOnlyCategoryId
      )
    })
  )

  it.effect("private URLs and ftp:// URLs are for global admins; http, https and rsync are for everyone", () =>
    Effect.gen(function* () {
      const { a } = yield* oneTenant
      const token = a.token
      const urls = `/api/host-categories/${a.hostCategoryId}/urls`

      const before = yield* snapshot
      assertProblem(
        yield* request("POST", urls, {
          token,
          body: { url: `https://private-${a.username}.example.org/pub`, private: true }
        }),
        403,
        "site admin adds a private URL",
        /private/
      )
      assertProblem(
        yield* request("PATCH", `/api/host-category-urls/${a.urlId}`, { token, body: { private: true } }),
        403,
        "site admin makes a URL private",
        /private/
      )
      assertProblem(
        yield* request("POST", urls, { token, body: { url: `ftp://ftp-${a.username}.example.org/pub` } }),
        403,
        "site admin adds an ftp URL",
        /ftp/
      )
      assertProblem(
        yield* request("PATCH", `/api/host-category-urls/${a.urlId}`, {
          token,
          body: { url: `ftp://ftp2-${a.username}.example.org/pub` }
        }),
        403,
        "site admin changes a URL to ftp",
        /ftp/
      )
      yield* assertUnchanged(before, "refused URL writes")

      for (const scheme of ["http", "https", "rsync"]) {
        const created = yield* expectStatus("POST", urls, 201, {
          token,
          body: { url: `${scheme}://${scheme}-${a.username}.example.org/pub`, private: false }
        })
        assert.strictEqual(created.url, `${scheme}://${scheme}-${a.username}.example.org/pub`)
      }

      const ftp = yield* expectStatus("POST", urls, 201, { body: { url: `ftp://ftp-${a.username}.example.org/pub` } })
      assert.strictEqual(ftp.url, `ftp://ftp-${a.username}.example.org/pub`)
      const privateUrl = yield* expectStatus("POST", urls, 201, {
        body: { url: `https://private-${a.username}.example.org/pub`, private: true }
      })
      assert.isTrue(privateUrl.private)
      const madePrivate = yield* expectStatus("PATCH", `/api/host-category-urls/${a.urlId}`, 200, {
        body: { private: true }
      })
      assert.isTrue(madePrivate.private)
      // The current value may be sent back.
      yield* expectStatus("PATCH", `/api/host-category-urls/${a.urlId}`, 200, { token, body: { private: true } })
    })
  )

  it.effect("peer ASNs are added and removed by global admins only; site admins may read them", () =>
    Effect.gen(function* () {
      const { a } = yield* oneTenant
      const token = a.token
      const path = `/api/hosts/${a.hostId}/peer-asns`

      const before = yield* snapshot
      assertProblem(yield* request("POST", path, { token, body: { asn: 64511 } }), 403, "site admin adds a peer ASN")
      assertProblem(yield* request("DELETE", `${path}/${a.peerAsnId}`, { token }), 403, "site admin removes a peer ASN")
      yield* assertUnchanged(before, "refused peer ASN writes")

      const listed = yield* expectStatus("GET", path, 200, { token })
      assert.deepStrictEqual(
        listed.items.map((p: any) => p.asn),
        [64496]
      )
      const added = yield* expectStatus("POST", path, 201, { body: { asn: 64511, name: "peer" } })
      assert.strictEqual(added.asn, 64511)
      yield* expectStatus("DELETE", `${path}/${a.peerAsnId}`, 204)
      const after = yield* expectStatus("GET", path, 200, { token })
      assert.deepStrictEqual(
        after.items.map((p: any) => p.asn),
        [64511]
      )
    })
  )

  it.effect("site admins may add netblocks up to /16 (IPv4) and /32 (IPv6); larger ones are for global admins", () =>
    Effect.gen(function* () {
      const { a } = yield* oneTenant
      const token = a.token
      const path = `/api/hosts/${a.hostId}/netblocks`

      const before = yield* snapshot
      for (const netblock of [
        "10.0.0.0/8",
        "10.0.0.0/15",
        "10.0.0.0/255.0.0.0",
        "0.0.0.0/0",
        "2001:db8::/31",
        "2001:d00::/24",
        "::/0"
      ]) {
        assertProblem(
          yield* request("POST", path, { token, body: { netblock } }),
          403,
          `site admin adds ${netblock}`,
          /larger|only global admins/
        )
      }
      yield* assertUnchanged(before, "refused netblocks")

      for (const [netblock, normalized] of [
        ["10.1.0.0/16", "10.1.0.0/16"],
        ["10.2.3.0/24", "10.2.3.0/24"],
        ["10.3.0.0/255.255.0.0", "10.3.0.0/16"],
        ["2001:db8::/32", "2001:db8::/32"],
        ["2001:db9:1::/48", "2001:db9:1::/48"]
      ] as const) {
        const added = yield* expectStatus("POST", path, 201, { token, body: { netblock } })
        assert.strictEqual(added.netblock, normalized)
      }
      for (const netblock of ["10.0.0.0/8", "2001:d00::/24"]) {
        yield* expectStatus("POST", path, 201, { body: { netblock } })
      }
    })
  )

  it.effect("content and override tables: everyone signed in reads them, only global admins write", () =>
    Effect.gen(function* () {
      const { content, a } = yield* oneTenant
      const token = a.token
      const tag = unique("t")

      // Fixtures, created in dependency order by the global admin.
      const arch = yield* expectStatus("POST", "/api/arches", 201, { body: { name: `arch-${tag}` } })
      const collections: Array<{
        readonly path: string
        readonly fixture: unknown
        readonly another: unknown
        readonly patch: unknown
      }> = [
        {
          path: "/api/products",
          fixture: { name: `Fixture ${tag}` },
          another: { name: `Another ${tag}` },
          patch: { publiclist: false }
        },
        {
          path: "/api/versions",
          fixture: { productId: content.productId, name: `40-${tag}` },
          another: { productId: content.productId, name: `41-${tag}` },
          patch: { isTest: true }
        },
        {
          path: "/api/arches",
          fixture: { name: `fixture-arch-${tag}` },
          another: { name: `another-arch-${tag}` },
          patch: { primaryArch: false }
        },
        {
          path: "/api/categories",
          fixture: { name: `Fixture category ${tag}`, productId: content.productId, topdir: `pub/fixture-${tag}` },
          another: { name: `Another category ${tag}`, productId: content.productId, topdir: `pub/another-${tag}` },
          patch: { publiclist: false }
        },
        {
          path: "/api/repositories",
          fixture: {
            prefix: `fixture-${tag}`,
            arch: arch.name,
            directory: `pub/fixture-${tag}/os`,
            categoryId: content.categoryId
          },
          another: {
            prefix: `another-${tag}`,
            arch: arch.name,
            directory: `pub/another-${tag}/os`,
            categoryId: content.categoryId
          },
          patch: { disabled: true }
        },
        {
          path: "/api/repository-redirects",
          fixture: { fromRepo: `old-${tag}`, toRepo: `new-${tag}` },
          another: { fromRepo: `older-${tag}`, toRepo: `newer-${tag}` },
          patch: { toRepo: `newest-${tag}` }
        },
        {
          path: "/api/netblock-countries",
          fixture: { netblock: "203.0.113.0/24", country: "DE" },
          another: { netblock: "198.18.0.0/15", country: "FR" },
          patch: { country: "AT" }
        },
        {
          path: "/api/country-continent-redirects",
          fixture: { country: "IS", continent: "EU" },
          another: { country: "GL", continent: "NA" },
          patch: { continent: "NA" }
        },
        {
          path: "/api/embargoed-countries",
          fixture: { country: "KP" },
          another: { country: "CU" },
          patch: { country: "SY" }
        }
      ]

      const wrong: Array<string> = []
      for (const c of collections) {
        const fixture = yield* expectStatus("POST", c.path, 201, { body: c.fixture })
        const item = `${c.path}/${fixture.id}`

        // Reads are allowed.
        const list = yield* request("GET", `${c.path}?pageSize=1000`, { token })
        if (list.status !== 200) wrong.push(`GET ${c.path}: expected 200, got ${show(list)}`)
        else if (!list.body.items.some((i: any) => i.id === fixture.id)) wrong.push(`GET ${c.path}: fixture missing`)
        const read = yield* request("GET", item, { token })
        if (read.status !== 200) wrong.push(`GET ${item}: expected 200, got ${show(read)}`)
        else if (read.body.id !== fixture.id) wrong.push(`GET ${item}: wrong item ${show(read)}`)

        // Writes are refused and leave no trace.
        const before = yield* snapshot
        for (const call of [
          { method: "POST", path: c.path, body: c.another, adminStatus: 201 },
          { method: "PATCH", path: item, body: c.patch, adminStatus: 200 },
          { method: "DELETE", path: item, adminStatus: 204 }
        ]) {
          const mismatch = problemMismatch(yield* send(call, token), 403)
          if (mismatch !== undefined) wrong.push(`${call.method} ${call.path} as site admin: ${mismatch}`)
        }
        const after = yield* snapshot
        if (JSON.stringify(after) !== JSON.stringify(before))
          wrong.push(`${c.path}: refused writes changed the database`)

        // The global admin makes the same writes.
        const another = yield* request("POST", c.path, { body: c.another })
        if (another.status !== 201) wrong.push(`POST ${c.path} as global admin: expected 201, got ${show(another)}`)
        const patched = yield* request("PATCH", item, { body: c.patch })
        if (patched.status !== 200) wrong.push(`PATCH ${item} as global admin: expected 200, got ${show(patched)}`)
        const removed = yield* request("DELETE", item)
        if (removed.status !== 204) wrong.push(`DELETE ${item} as global admin: expected 204, got ${show(removed)}`)
      }
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("users and tokens: site admins may not list or create users, issue tokens or promote themselves", () =>
    Effect.gen(function* () {
      const { a, b } = yield* twoTenants
      const token = a.token

      const before = yield* snapshot
      assertProblem(yield* request("GET", "/api/users", { token }), 403, "site admin lists users")
      assertProblem(
        yield* request("POST", "/api/users", { token, body: { username: unique("mallory") } }),
        403,
        "site admin creates a user"
      )
      assertProblem(
        yield* request("POST", "/api/users", { token, body: { username: unique("mallory"), admin: true } }),
        403,
        "site admin creates a global admin"
      )
      assertProblem(
        yield* request("POST", `/api/users/${a.userId}/tokens`, { token, body: {} }),
        403,
        "site admin issues themselves a token"
      )
      assertProblem(
        yield* request("POST", `/api/users/${b.userId}/tokens`, { token, body: { name: "stolen" } }),
        403,
        "site admin issues a token for another user"
      )
      assertProblem(
        yield* request("PATCH", `/api/users/${a.userId}`, { token, body: { admin: true } }),
        403,
        "site admin promotes themselves"
      )
      assertProblem(yield* request("DELETE", `/api/users/${b.userId}`, { token }), 403, "site admin deletes a user")
      assertProblem(
        yield* request("DELETE", `/api/tokens/${b.tokenId}`, { token }),
        403,
        "site admin revokes another user's token"
      )
      yield* assertUnchanged(before, "refused user and token writes")
      const me = yield* expectStatus("GET", "/api/me", 200, { token })
      assert.isFalse(me.user.admin, "A is still not a global admin")
      yield* expectStatus("GET", "/api/me", 200, { token: b.token })

      // A may read themselves.
      const self = yield* expectStatus("GET", `/api/users/${a.userId}`, 200, { token })
      assert.strictEqual(self.username, a.username)
      const tokens = yield* expectStatus("GET", `/api/users/${a.userId}/tokens`, 200, { token })
      assert.deepStrictEqual(
        tokens.items.map((t: any) => t.id),
        [a.tokenId]
      )

      // The global admin may do all of it.
      const users = yield* expectStatus("GET", "/api/users?pageSize=1000", 200)
      assert.include(
        users.items.map((u: any) => u.username),
        a.username
      )
      const carol = yield* expectStatus("POST", "/api/users", 201, { body: { username: unique("carol") } })
      const issued = yield* expectStatus("POST", `/api/users/${carol.id}/tokens`, 201, { body: { name: "laptop" } })
      assert.isString(issued.token)
      const carolMe = yield* expectStatus("GET", "/api/me", 200, { token: issued.token })
      assert.strictEqual(carolMe.user.username, carol.username)
      const promoted = yield* expectStatus("PATCH", `/api/users/${carol.id}`, 200, { body: { admin: true } })
      assert.isTrue(promoted.admin)
      // A promoted user gets global admin rights with the token they already have, and loses them when demoted.
      yield* expectStatus("GET", "/api/users", 200, { token: issued.token })
      yield* expectStatus("PATCH", `/api/users/${carol.id}`, 200, { body: { admin: false } })
      assertProblem(yield* request("GET", "/api/users", { token: issued.token }), 403, "demoted user lists users")
    })
  )
})
