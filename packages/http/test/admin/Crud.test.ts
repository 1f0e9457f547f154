// Create / read / update / delete and paginated lists of every admin API resource, over HTTP on a real database.
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import {
  createCategory,
  createChain,
  createHost,
  createHostCategory,
  createProduct,
  createSite,
  createUser,
  type Json,
  unique
} from "../support/Fixtures.ts"
import { request } from "../support/Requests.ts"
import { type Reply, type RequestOptions, type TestNode, testNodeLayer } from "../support/TestNode.ts"

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

const nowSeconds = () => Math.floor(Date.now() / 1000)

/** Sends a request and asserts its status; on failure the message shows the whole response. */
const expectStatus = (status: number, method: string, path: string, options?: RequestOptions) =>
  Effect.gen(function* () {
    const reply = yield* request(method, path, options)
    assert.strictEqual(reply.status, status, `${method} ${path} answered ${reply.status}: ${reply.text}`)
    return reply
  })

const post = (path: string, body: unknown): Effect.Effect<Json, never, TestNode> =>
  Effect.map(expectStatus(201, "POST", path, { body }), (r) => r.body)
const get = (path: string): Effect.Effect<Json, never, TestNode> =>
  Effect.map(expectStatus(200, "GET", path), (r) => r.body)
const patch = (path: string, body: unknown): Effect.Effect<Json, never, TestNode> =>
  Effect.map(expectStatus(200, "PATCH", path, { body }), (r) => r.body)
const del = (path: string) =>
  Effect.gen(function* () {
    const reply = yield* expectStatus(204, "DELETE", path)
    assert.strictEqual(reply.text, "", `DELETE ${path} has no body`)
  })

/** Asserts an RFC 9457 problem document with the given status and a `detail` saying what is wrong. */
const assertProblem = (reply: Reply, status: number, what: string) => {
  assert.strictEqual(reply.status, status, `${what} answered ${reply.status}: ${reply.text}`)
  assert.include(reply.headers.get("content-type") ?? "", "application/problem+json", `${what} content type`)
  assert.strictEqual(reply.body?.status, status, `${what} problem status`)
  assert.isString(reply.body?.title, `${what} problem title`)
  assert.isString(reply.body?.detail, `${what} problem detail`)
  assert.isAbove(reply.body.detail.length, 0, `${what} problem detail is not empty`)
}

const expectProblem = (status: number, method: string, path: string, options?: RequestOptions) =>
  Effect.gen(function* () {
    const reply = yield* request(method, path, options)
    assertProblem(reply, status, `${method} ${path}`)
    return reply.body as Json
  })

/** Asserts the listed fields of `actual` equal `expected` (other fields are not compared). */
const assertFields = (actual: Json, expected: Json, what = "object") => {
  const picked: Json = {}
  for (const key of Object.keys(expected)) picked[key] = actual[key]
  assert.deepStrictEqual(picked, expected, `fields of ${what}`)
}

const assertId = (item: Json, what: string) => {
  assert.isNumber(item.id, `${what} has a numeric id`)
  assert.isTrue(Number.isInteger(item.id) && item.id >= 1, `${what} id is a positive integer`)
}

const assertEpochNow = (value: unknown, what: string) => {
  assert.isNumber(value, `${what} is epoch seconds`)
  assert.isTrue(Number.isInteger(value), `${what} is whole seconds`)
  assert.approximately(value as number, nowSeconds(), 120, `${what} is now`)
}

/** Reads a list and checks the page envelope. */
const list = (path: string): Effect.Effect<Json, never, TestNode> =>
  Effect.gen(function* () {
    const page = yield* get(path)
    assert.isArray(page.items, `${path} items`)
    assert.isTrue(Number.isInteger(page.page), `${path} page`)
    assert.isTrue(Number.isInteger(page.pageSize), `${path} pageSize`)
    assert.isTrue(Number.isInteger(page.total), `${path} total`)
    assert.isAtLeast(page.total, page.items.length, `${path} total counts at least the items shown`)
    return page
  })

const assertListed = (page: Json, item: Json, what: string) => {
  const found = (page.items as Array<Json>).find((i) => i.id === item.id)
  assert.isDefined(found, `${what} ${item.id} is listed`)
  assert.deepStrictEqual(found, item, `${what} as listed`)
}

const assertNotListed = (page: Json, id: number, what: string) => {
  assert.isUndefined(
    (page.items as Array<Json>).find((i) => i.id === id),
    `${what} ${id} is not listed any more`
  )
}

interface CrudCase {
  readonly what: string
  /** POST creates here. */
  readonly collection: string
  /** GET lists here (default: the collection with a page large enough for this test database). */
  readonly list?: string
  /** Items are read, patched and deleted at `${items}/${id}` (default: the collection). */
  readonly items?: string
  readonly create: Json
  /** Fields the created object must have. */
  readonly created: Json
  readonly update: Json
  /** Fields that change with the update; every other field must keep its value. */
  readonly updated: Json
  /** Runs on every reply that carries the object (create, read, update, list). */
  readonly inspect?: (reply: Reply) => void
}

/** create -> read -> update -> read -> list contains it -> delete -> read, update and delete give 404. */
const crudCycle = (c: CrudCase) =>
  Effect.gen(function* () {
    const inspect = c.inspect ?? (() => {})
    const createReply = yield* expectStatus(201, "POST", c.collection, { body: c.create })
    inspect(createReply)
    const created: Json = createReply.body
    assertId(created, c.what)
    assertFields(created, c.created, `created ${c.what}`)

    const item = `${c.items ?? c.collection}/${created.id}`
    const read = yield* expectStatus(200, "GET", item)
    inspect(read)
    assert.deepStrictEqual(read.body, created, `${c.what} reads back as created`)

    const patchReply = yield* expectStatus(200, "PATCH", item, { body: c.update })
    inspect(patchReply)
    assert.deepStrictEqual(patchReply.body, { ...created, ...c.updated }, `updated ${c.what}`)
    const reread = yield* expectStatus(200, "GET", item)
    assert.deepStrictEqual(reread.body, patchReply.body, `${c.what} reads back as updated`)

    const listPath = c.list ?? `${c.collection}?pageSize=1000`
    const listReply = yield* expectStatus(200, "GET", listPath)
    inspect(listReply)
    assertListed(yield* list(listPath), patchReply.body, c.what)

    yield* del(item)
    yield* expectProblem(404, "GET", item)
    yield* expectProblem(404, "PATCH", item, { body: c.update })
    yield* expectProblem(404, "DELETE", item)
    assertNotListed(yield* list(listPath), created.id, c.what)
    return patchReply.body as Json
  })

// ---------------------------------------------------------------------------------------------------------------
// Tests on one shared database
// ---------------------------------------------------------------------------------------------------------------

layer(testNodeLayer(), { excludeTestServices: true })("admin API CRUD", (it) => {
  // --- sites ----------------------------------------------------------------------------------------------------

  it.effect("sites: create, read, update, list, delete; the password is never returned", () =>
    Effect.gen(function* () {
      const name = unique("site")
      const passwords = ["correct horse battery", "another staple 123"]
      const noPassword = (reply: Reply) => {
        for (const p of passwords) assert.notInclude(reply.text, p, "the site password is never returned")
        assert.notInclude(reply.text.toLowerCase(), "password", "no password (hash) field in site replies")
        assert.notInclude(reply.text, "scrypt$", "the password hash is never returned")
      }
      const site = yield* crudCycle({
        what: "site",
        collection: "/api/sites",
        create: {
          name,
          password: passwords[0],
          orgUrl: "https://mirrors.example.org/",
          private: true,
          adminActive: true,
          userActive: false
        },
        created: {
          name,
          orgUrl: "https://mirrors.example.org/",
          private: true,
          adminActive: true,
          userActive: false,
          emailOnAdd: false,
          emailOnDrop: false,
          createdBy: "admin"
        },
        update: {
          name: `${name}-renamed`,
          password: passwords[1],
          orgUrl: null,
          private: false,
          adminActive: false,
          userActive: true
        },
        updated: { name: `${name}-renamed`, orgUrl: null, private: false, adminActive: false, userActive: true },
        inspect: noPassword
      })
      assertEpochNow(site.createdAt, "site createdAt")
    })
  )

  it.effect("sites: the password is stored hashed and PATCH replaces the hash", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const site = yield* createSite({ password: "first password 1" })
      const hashOf = Effect.map(
        sql<{ hash: string }>`SELECT password_hash AS hash FROM sites WHERE id = ${site.id}`,
        (rows) => rows[0]!.hash
      ).pipe(Effect.orDie)
      const first = yield* hashOf
      assert.match(first, /^scrypt\$/)
      assert.notInclude(first, "first password 1")
      const patched = yield* patch(`/api/sites/${site.id}`, { password: "second password 2" })
      assert.notProperty(patched, "password")
      assert.deepStrictEqual(patched, site, "a password change alters no visible field")
      const second = yield* hashOf
      assert.match(second, /^scrypt\$/)
      assert.notStrictEqual(second, first, "the stored hash changed")
      yield* expectProblem(400, "PATCH", `/api/sites/${site.id}`, { body: { password: "short" } })
    })
  )

  it.effect("sites: a duplicate name is a 409 conflict", () =>
    Effect.gen(function* () {
      const site = yield* createSite()
      yield* expectProblem(409, "POST", "/api/sites", { body: { name: site.name, password: "correct horse battery" } })
    })
  )

  it.effect("site admins: list, add a second user, remove; the last admin cannot be removed (422)", () =>
    Effect.gen(function* () {
      const me = yield* get("/api/me")
      const adminId: number = me.user.id
      const site = yield* createSite()
      const admins = `/api/sites/${site.id}/admins`

      const initial = yield* list(admins)
      assert.deepStrictEqual(initial.items, [{ siteId: site.id, userId: adminId, username: "admin" }])
      assert.strictEqual(initial.total, 1)

      const user = yield* createUser()
      const added = yield* post(admins, { username: user.username })
      assert.deepStrictEqual(added, { siteId: site.id, userId: user.id, username: user.username })
      yield* expectProblem(409, "POST", admins, { body: { username: user.username } })
      yield* expectProblem(422, "POST", admins, { body: { username: unique("nobody") } })

      const both = yield* list(admins)
      assert.strictEqual(both.total, 2)
      assert.sameDeepMembers(both.items, [initial.items[0], added])

      yield* del(`${admins}/${adminId}`)
      const remaining = yield* list(admins)
      assert.deepStrictEqual(remaining.items, [added])
      assert.strictEqual(remaining.total, 1)

      yield* expectProblem(422, "DELETE", `${admins}/${user.id}`)
      assert.deepStrictEqual((yield* list(admins)).items, [added], "the last admin is kept")
      yield* expectProblem(404, "DELETE", `${admins}/${adminId}`)
      yield* expectProblem(404, "GET", `/api/sites/999999/admins`)
    })
  )

  // --- hosts ----------------------------------------------------------------------------------------------------

  it.effect("hosts: create under a site, read, update, list under the site, delete", () =>
    Effect.gen(function* () {
      const site = yield* createSite()
      const name = unique("host")
      const host = yield* crudCycle({
        what: "host",
        collection: `/api/sites/${site.id}/hosts`,
        items: "/api/hosts",
        create: {
          name,
          country: "de",
          bandwidth: 10_000,
          private: true,
          asn: 4_200_000_000,
          asnClients: false,
          internet2: true,
          internet2Clients: true,
          maxConnections: 20,
          adminActive: true,
          userActive: false,
          comment: "primary mirror"
        },
        created: {
          siteId: site.id,
          name,
          country: "DE",
          bandwidth: 10_000,
          private: true,
          asn: 4_200_000_000,
          asnClients: false,
          internet2: true,
          internet2Clients: true,
          maxConnections: 20,
          adminActive: true,
          userActive: false,
          comment: "primary mirror"
        },
        update: {
          name: `${name}-b`,
          country: "fr",
          bandwidth: 100,
          private: false,
          asn: null,
          asnClients: true,
          internet2: false,
          internet2Clients: false,
          maxConnections: 0,
          adminActive: false,
          userActive: true,
          comment: null
        },
        updated: {
          name: `${name}-b`,
          country: "FR",
          bandwidth: 100,
          private: false,
          asn: null,
          asnClients: true,
          internet2: false,
          internet2Clients: false,
          maxConnections: 0,
          adminActive: false,
          userActive: true,
          comment: null
        }
      })
      assertEpochNow(host.createdAt, "host createdAt")
    })
  )

  it.effect("hosts: a minimal host gets sensible defaults; names are unique per site", () =>
    Effect.gen(function* () {
      const site = yield* createSite()
      const host = yield* createHost(site.id, { country: "nl" })
      assertFields(host, {
        siteId: site.id,
        country: "NL",
        private: false,
        asn: null,
        adminActive: true,
        userActive: true,
        comment: null,
        crawlFailures: 0,
        lastCrawled: null,
        lastCheckedIn: null
      })
      yield* expectProblem(409, "POST", `/api/sites/${site.id}/hosts`, { body: { name: host.name, country: "NL" } })
      const other = yield* createSite()
      const sameName = yield* createHost(other.id, { name: host.name })
      assert.notStrictEqual(sameName.id, host.id)
    })
  )

  it.effect("hosts: listing the hosts of a missing site is 404", () =>
    Effect.gen(function* () {
      yield* expectProblem(404, "GET", "/api/sites/999999/hosts")
    })
  )

  it.effect("hosts: creating a host under a missing site is 404, like listing them", () =>
    Effect.gen(function* () {
      const problem = yield* expectProblem(404, "POST", "/api/sites/999999/hosts", {
        body: { name: unique("host"), country: "DE" }
      })
      assert.notInclude(problem.detail, "table", "the problem does not expose database internals")
    })
  )

  it.effect("site hosts: the list is paginated", () =>
    Effect.gen(function* () {
      const site = yield* createSite()
      const hosts: Array<Json> = []
      for (let i = 0; i < 3; i++) hosts.push(yield* createHost(site.id, { name: `${site.name}-h${i}` }))
      const page2 = yield* list(`/api/sites/${site.id}/hosts?pageSize=2&page=2`)
      assert.strictEqual(page2.page, 2)
      assert.strictEqual(page2.pageSize, 2)
      assert.strictEqual(page2.total, 3)
      assert.deepStrictEqual(page2.items, [hosts[2]])
    })
  )

  // --- host categories and their URLs ----------------------------------------------------------------------------

  it.effect("host categories: add to a host, read, update, list, delete", () =>
    Effect.gen(function* () {
      const site = yield* createSite()
      const host = yield* createHost(site.id)
      const category = yield* createCategory()
      yield* crudCycle({
        what: "host category",
        collection: `/api/hosts/${host.id}/categories`,
        list: `/api/hosts/${host.id}/categories`,
        items: "/api/host-categories",
        create: { categoryId: category.id, alwaysUp2date: true },
        created: { hostId: host.id, categoryId: category.id, category: category.name, alwaysUp2date: true },
        update: { alwaysUp2date: false },
        updated: { alwaysUp2date: false }
      })
    })
  )

  it.effect("host categories: a category is carried once per host; an unknown category is refused", () =>
    Effect.gen(function* () {
      const { host, category, hostCategory } = yield* createChain()
      assert.strictEqual(hostCategory.alwaysUp2date, false, "alwaysUp2date defaults to false")
      yield* expectProblem(409, "POST", `/api/hosts/${host.id}/categories`, { body: { categoryId: category.id } })
      yield* expectProblem(422, "POST", `/api/hosts/${host.id}/categories`, { body: { categoryId: 999999 } })
      yield* expectProblem(404, "POST", `/api/hosts/999999/categories`, { body: { categoryId: category.id } })
    })
  )

  it.effect("host category URLs: add (trailing / stripped), read, update, list, delete", () =>
    Effect.gen(function* () {
      const { hostCategory } = yield* createChain()
      const mirror = `${unique("mirror")}.example.org`
      yield* crudCycle({
        what: "host category URL",
        collection: `/api/host-categories/${hostCategory.id}/urls`,
        list: `/api/host-categories/${hostCategory.id}/urls`,
        items: "/api/host-category-urls",
        create: { url: `https://${mirror}/pub/epel/`, private: false },
        created: {
          hostCategoryId: hostCategory.id,
          url: `https://${mirror}/pub/epel`,
          private: false,
          reachable: null,
          checkedAt: null
        },
        update: { url: `rsync://${mirror}/epel//`, private: true },
        updated: { url: `rsync://${mirror}/epel`, private: true }
      })
    })
  )

  it.effect("host category URLs: URLs are globally unique after normalisation", () =>
    Effect.gen(function* () {
      const a = yield* createChain()
      const b = yield* createChain()
      const url = `http://${unique("dup")}.example.org/pub`
      const created = yield* post(`/api/host-categories/${a.hostCategory.id}/urls`, { url: `${url}/` })
      assert.strictEqual(created.url, url)
      assert.strictEqual(created.private, false, "private defaults to false")
      yield* expectProblem(409, "POST", `/api/host-categories/${b.hostCategory.id}/urls`, { body: { url } })
    })
  )

  // --- netblocks, peer ASNs, allowed countries -----------------------------------------------------------------

  it.effect("host netblocks: add (normalised), list, delete", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const site = yield* createSite()
      const host = yield* createHost(site.id)
      const netblocks = `/api/hosts/${host.id}/netblocks`

      const wide = yield* post(netblocks, { netblock: "10.1.2.3/8", name: "campus" })
      assertId(wide, "netblock")
      assertFields(wide, { hostId: host.id, netblock: "10.0.0.0/8", name: "campus" })
      const masked = yield* post(netblocks, { netblock: "192.168.1.7/255.255.255.0", name: "lab" })
      assertFields(masked, { hostId: host.id, netblock: "192.168.1.0/24", name: "lab" })
      const v6 = yield* post(netblocks, { netblock: "2001:DB8:0:0::1/32", name: "v6" })
      assertFields(v6, { hostId: host.id, netblock: "2001:db8::/32", name: "v6" })

      const rows = yield* sql<{ netblock: string }>`SELECT netblock FROM host_netblocks
        WHERE host_id = ${host.id} ORDER BY id`.pipe(Effect.orDie)
      assert.deepStrictEqual(
        rows.map((r) => r.netblock),
        ["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32"]
      )
      // The same network written differently is the same netblock.
      yield* expectProblem(409, "POST", netblocks, { body: { netblock: "10.200.0.1/8" } })

      const page = yield* list(netblocks)
      assert.strictEqual(page.total, 3)
      for (const item of [wide, masked, v6]) assertListed(page, item, "netblock")

      const other = yield* createHost(site.id)
      yield* expectProblem(404, "DELETE", `/api/hosts/${other.id}/netblocks/${wide.id}`)
      yield* del(`${netblocks}/${wide.id}`)
      yield* expectProblem(404, "DELETE", `${netblocks}/${wide.id}`)
      const after = yield* list(netblocks)
      assert.strictEqual(after.total, 2)
      assertNotListed(after, wide.id, "netblock")
      yield* expectProblem(404, "GET", "/api/hosts/999999/netblocks")
    })
  )

  it.effect("host peer ASNs: add, list, delete", () =>
    Effect.gen(function* () {
      const site = yield* createSite()
      const host = yield* createHost(site.id)
      const peerAsns = `/api/hosts/${host.id}/peer-asns`
      const transit = yield* post(peerAsns, { asn: 4_200_000_001, name: "transit" })
      assertId(transit, "peer ASN")
      assert.deepStrictEqual(transit, { id: transit.id, hostId: host.id, asn: 4_200_000_001, name: "transit" })
      const bare = yield* post(peerAsns, { asn: 64_500 })
      assertFields(bare, { hostId: host.id, asn: 64_500, name: "" })
      yield* expectProblem(409, "POST", peerAsns, { body: { asn: 64_500 } })

      const page = yield* list(peerAsns)
      assert.strictEqual(page.total, 2)
      assertListed(page, transit, "peer ASN")
      assertListed(page, bare, "peer ASN")

      yield* del(`${peerAsns}/${transit.id}`)
      yield* expectProblem(404, "DELETE", `${peerAsns}/${transit.id}`)
      const after = yield* list(peerAsns)
      assert.deepStrictEqual(after.items, [bare])
    })
  )

  it.effect("host allowed countries: add (upper-cased), list, delete", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const site = yield* createSite()
      const host = yield* createHost(site.id)
      const countries = `/api/hosts/${host.id}/countries-allowed`
      const de = yield* post(countries, { country: "de" })
      assertId(de, "allowed country")
      assert.deepStrictEqual(de, { id: de.id, hostId: host.id, country: "DE" })
      const rows = yield* sql<{ country: string }>`SELECT country FROM host_countries_allowed
        WHERE id = ${de.id}`.pipe(Effect.orDie)
      assert.deepStrictEqual(rows, [{ country: "DE" }])
      yield* expectProblem(409, "POST", countries, { body: { country: "DE" } })
      yield* expectProblem(400, "POST", countries, { body: { country: "XX" } })
      const at = yield* post(countries, { country: "AT" })

      const page = yield* list(countries)
      assert.strictEqual(page.total, 2)
      assertListed(page, de, "allowed country")
      assertListed(page, at, "allowed country")

      yield* del(`${countries}/${de.id}`)
      yield* expectProblem(404, "DELETE", `${countries}/${de.id}`)
      assert.deepStrictEqual((yield* list(countries)).items, [at])
    })
  )

  // --- content -------------------------------------------------------------------------------------------------

  it.effect("products: create, read, update, list, delete; names are unique", () =>
    Effect.gen(function* () {
      const name = unique("product")
      yield* crudCycle({
        what: "product",
        collection: "/api/products",
        create: { name, publiclist: false },
        created: { name, publiclist: false },
        update: { name: `${name}-b`, publiclist: true },
        updated: { name: `${name}-b`, publiclist: true }
      })
      const product = yield* createProduct()
      assert.strictEqual(product.publiclist, true, "publiclist defaults to true")
      yield* expectProblem(409, "POST", "/api/products", { body: { name: product.name } })
    })
  )

  it.effect("versions: create, read, update, list, delete", () =>
    Effect.gen(function* () {
      const product = yield* createProduct()
      yield* crudCycle({
        what: "version",
        collection: "/api/versions",
        create: {
          productId: product.id,
          name: "9",
          isTest: true,
          display: false,
          displayName: "EPEL 9",
          codename: null,
          sortOrder: 9
        },
        created: {
          productId: product.id,
          name: "9",
          isTest: true,
          display: false,
          displayName: "EPEL 9",
          codename: null,
          sortOrder: 9
        },
        update: { name: "10", isTest: false, display: true, displayName: null, codename: "ten", sortOrder: 10 },
        updated: { name: "10", isTest: false, display: true, displayName: null, codename: "ten", sortOrder: 10 }
      })
      yield* expectProblem(422, "POST", "/api/versions", { body: { productId: 999999, name: "1" } })
    })
  )

  it.effect("arches: create, read, update, list, delete", () =>
    Effect.gen(function* () {
      const name = unique("arch")
      yield* crudCycle({
        what: "arch",
        collection: "/api/arches",
        create: { name, publiclist: false, primaryArch: false },
        created: { name, publiclist: false, primaryArch: false },
        update: { name: `${name}-b`, publiclist: true },
        updated: { name: `${name}-b`, publiclist: true }
      })
    })
  )

  it.effect("categories: create (topdir normalised), read, update, list, delete", () =>
    Effect.gen(function* () {
      const product = yield* createProduct()
      const other = yield* createProduct()
      const name = unique("category")
      yield* crudCycle({
        what: "category",
        collection: "/api/categories",
        create: {
          name,
          productId: product.id,
          topdir: "/pub/epel/",
          masterPath: "/srv/pub/epel",
          publiclist: false,
          adminOnly: true
        },
        created: {
          name,
          productId: product.id,
          topdir: "pub/epel",
          masterPath: "/srv/pub/epel",
          publiclist: false,
          adminOnly: true,
          canonicalHost: null,
          geoDnsDomain: null
        },
        update: {
          name: `${name}-b`,
          productId: other.id,
          topdir: "//pub//fedora/linux/",
          masterPath: null,
          publiclist: true,
          adminOnly: false
        },
        updated: {
          name: `${name}-b`,
          productId: other.id,
          topdir: "pub/fedora/linux",
          masterPath: null,
          publiclist: true,
          adminOnly: false
        }
      })
    })
  )

  it.effect("categories: a name is unique ignoring case", () =>
    Effect.gen(function* () {
      const category = yield* createCategory()
      const product = yield* createProduct()
      yield* expectProblem(409, "POST", "/api/categories", {
        body: { name: category.name.toUpperCase(), productId: product.id, topdir: "pub" }
      })
    })
  )

  it.effect("repositories: create (arch by name, name = directory), read, update, list, delete", () =>
    Effect.gen(function* () {
      const category = yield* createCategory()
      const product = yield* createProduct()
      const version = yield* post("/api/versions", { productId: product.id, name: "9" })
      const arch = yield* post("/api/arches", { name: unique("x86_64") })
      const arch2 = yield* post("/api/arches", { name: unique("aarch64") })
      const prefix = unique("epel-9")
      yield* crudCycle({
        what: "repository",
        collection: "/api/repositories",
        create: {
          prefix,
          arch: arch.name,
          directory: "/pub/epel/9/Everything/x86_64/os/",
          categoryId: category.id,
          versionId: version.id,
          disabled: false
        },
        created: {
          name: "pub/epel/9/Everything/x86_64/os",
          prefix,
          arch: arch.name,
          directory: "pub/epel/9/Everything/x86_64/os",
          categoryId: category.id,
          versionId: version.id,
          disabled: false
        },
        update: {
          prefix: `${prefix}-debug`,
          arch: arch2.name,
          directory: "pub/epel/9/Everything/aarch64/debug/",
          versionId: null,
          disabled: true
        },
        updated: {
          name: "pub/epel/9/Everything/aarch64/debug",
          prefix: `${prefix}-debug`,
          arch: arch2.name,
          directory: "pub/epel/9/Everything/aarch64/debug",
          versionId: null,
          disabled: true
        }
      })
    })
  )

  it.effect("repositories: an unknown arch is refused (422); prefix + arch is unique (409)", () =>
    Effect.gen(function* () {
      const category = yield* createCategory()
      const arch = yield* post("/api/arches", { name: unique("ppc64le") })
      const prefix = unique("epel-8")
      const body = { prefix, arch: arch.name, directory: "pub/epel/8/ppc64le", categoryId: category.id }
      yield* expectProblem(422, "POST", "/api/repositories", { body: { ...body, arch: unique("no-such-arch") } })
      const repo = yield* post("/api/repositories", body)
      assertFields(repo, { name: "pub/epel/8/ppc64le", disabled: false, versionId: null })
      yield* expectProblem(409, "POST", "/api/repositories", { body: { ...body, directory: "pub/epel/8/other" } })
      // An arch still used by a repository is not deleted.
      yield* expectProblem(409, "DELETE", `/api/arches/${arch.id}`)
      yield* get(`/api/arches/${arch.id}`)
    })
  )

  it.effect("repository redirects: create, read, update, list, delete", () =>
    Effect.gen(function* () {
      const from = unique("epel-7")
      const to = unique("epel-archive-7")
      yield* crudCycle({
        what: "repository redirect",
        collection: "/api/repository-redirects",
        create: { fromRepo: from, toRepo: to },
        created: { fromRepo: from, toRepo: to },
        update: { toRepo: `${to}-b` },
        updated: { toRepo: `${to}-b` }
      })
    })
  )

  it.effect("repository redirects: single hop only (422), never to itself", () =>
    Effect.gen(function* () {
      const [a, b, c, z] = ["a", "b", "c", "z"].map((s) => unique(`repo-${s}`)) as [string, string, string, string]
      const ab = yield* post("/api/repository-redirects", { fromRepo: a, toRepo: b })
      // Z -> A: the target A is itself redirected.
      yield* expectProblem(422, "POST", "/api/repository-redirects", { body: { fromRepo: z, toRepo: a } })
      // B -> C: the source B is already a target.
      yield* expectProblem(422, "POST", "/api/repository-redirects", { body: { fromRepo: b, toRepo: c } })
      yield* expectProblem(422, "POST", "/api/repository-redirects", { body: { fromRepo: c, toRepo: c } })
      // A second redirect from A is a conflict.
      yield* expectProblem(409, "POST", "/api/repository-redirects", { body: { fromRepo: a, toRepo: c } })
      // An update must not build a chain either.
      const zc = yield* post("/api/repository-redirects", { fromRepo: z, toRepo: c })
      yield* expectProblem(422, "PATCH", `/api/repository-redirects/${zc.id}`, { body: { toRepo: a } })
      assert.deepStrictEqual(yield* get(`/api/repository-redirects/${zc.id}`), zc, "the refused update changed nothing")
      assert.deepStrictEqual(yield* get(`/api/repository-redirects/${ab.id}`), ab)
    })
  )

  it.effect("products: a product still used by a category cannot be deleted (409)", () =>
    Effect.gen(function* () {
      const product = yield* createProduct()
      const category = yield* createCategory({ productId: product.id, topdir: "pub/in-use" })
      yield* expectProblem(409, "DELETE", `/api/products/${product.id}`)
      assert.deepStrictEqual(yield* get(`/api/products/${product.id}`), product, "the product is kept")
      yield* del(`/api/categories/${category.id}`)
      yield* del(`/api/products/${product.id}`)
      yield* expectProblem(404, "GET", `/api/products/${product.id}`)
    })
  )

  // --- overrides -----------------------------------------------------------------------------------------------

  it.effect("netblock countries: create (normalised), read, update, list, delete", () =>
    Effect.gen(function* () {
      yield* crudCycle({
        what: "netblock country",
        collection: "/api/netblock-countries",
        create: { netblock: "203.0.113.77/24", country: "au" },
        created: { netblock: "203.0.113.0/24", country: "AU" },
        update: { netblock: "198.51.100.9/255.255.255.128", country: "nz" },
        updated: { netblock: "198.51.100.0/25", country: "NZ" }
      })
      yield* expectProblem(422, "POST", "/api/netblock-countries", {
        body: { netblock: "mirror.example.org", country: "AU" }
      })
    })
  )

  it.effect("country continent redirects: create, read, update, list, delete", () =>
    Effect.gen(function* () {
      yield* crudCycle({
        what: "country continent redirect",
        collection: "/api/country-continent-redirects",
        create: { country: "mx", continent: "NA" },
        created: { country: "MX", continent: "NA" },
        update: { continent: "SA" },
        updated: { continent: "SA" }
      })
      yield* expectProblem(400, "POST", "/api/country-continent-redirects", {
        body: { country: "MX", continent: "XX" }
      })
    })
  )

  it.effect("embargoed countries: create, read, update, list, delete", () =>
    Effect.gen(function* () {
      yield* crudCycle({
        what: "embargoed country",
        collection: "/api/embargoed-countries",
        create: { country: "kp" },
        created: { country: "KP" },
        update: { country: "sy" },
        updated: { country: "SY" }
      })
      const cu = yield* post("/api/embargoed-countries", { country: "CU" })
      yield* expectProblem(409, "POST", "/api/embargoed-countries", { body: { country: "cu" } })
      yield* del(`/api/embargoed-countries/${cu.id}`)
    })
  )

  // --- users, tokens, me ---------------------------------------------------------------------------------------

  it.effect("users: create, read, update, list, delete", () =>
    Effect.gen(function* () {
      const username = unique("user")
      const user = yield* crudCycle({
        what: "user",
        collection: "/api/users",
        create: { username, admin: false },
        created: { username, admin: false },
        update: { admin: true },
        updated: { admin: true }
      })
      assertEpochNow(user.createdAt, "user createdAt")
      const plain = yield* createUser()
      assert.strictEqual(plain.admin, false, "admin defaults to false")
      yield* expectProblem(409, "POST", "/api/users", { body: { username: plain.username } })
    })
  )

  it.effect("tokens: issued once, authenticate /api/me, listed without secret, 401 after revocation", () =>
    Effect.gen(function* () {
      const user = yield* createUser()
      const tokens = `/api/users/${user.id}/tokens`
      const issued = yield* post(tokens, { name: "ci" })
      assertId(issued, "token")
      assertFields(issued, { userId: user.id, name: "ci", lastUsedAt: null, revokedAt: null })
      assert.isString(issued.token)
      assert.isAtLeast(issued.token.length, 32)
      assertEpochNow(issued.createdAt, "token createdAt")

      const me = yield* expectStatus(200, "GET", "/api/me", { token: issued.token })
      assert.deepStrictEqual(me.body, { user, siteIds: [] })

      const listed = yield* list(tokens)
      const entry = (listed.items as Array<Json>).find((t) => t.id === issued.id)
      assert.isDefined(entry, "the token is listed")
      assert.notProperty(entry, "token", "the secret is shown only once")
      assert.notInclude(JSON.stringify(listed), issued.token)
      assert.isNumber(entry!.lastUsedAt, "lastUsedAt is set once the token was used")

      const revoked = yield* expectStatus(200, "DELETE", `/api/tokens/${issued.id}`)
      assertFields(revoked.body, { id: issued.id, userId: user.id, name: "ci" })
      assertEpochNow(revoked.body.revokedAt, "revokedAt")
      assert.notProperty(revoked.body, "token")

      yield* expectProblem(401, "GET", "/api/me", { token: issued.token })
      const after = yield* list(tokens)
      assertFields((after.items as Array<Json>).find((t) => t.id === issued.id)!, { revokedAt: revoked.body.revokedAt })
      yield* expectProblem(404, "DELETE", "/api/tokens/999999")
      yield* expectProblem(404, "POST", "/api/users/999999/tokens", { body: {} })
    })
  )

  it.effect("me: the caller and the sites they administer", () =>
    Effect.gen(function* () {
      const site = yield* createSite()
      const me = yield* get("/api/me")
      assertFields(me.user, { username: "admin", admin: true })
      assertId(me.user, "me.user")
      assert.include(me.siteIds, site.id)
      yield* expectProblem(401, "GET", "/api/me", { token: null })
      yield* expectProblem(401, "GET", "/api/me", { token: "mm_not-a-token" })
    })
  )

  // --- cascades ------------------------------------------------------------------------------------------------

  it.effect("deleting a site deletes its hosts and everything they carry", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const { site, host, hostCategory } = yield* createChain()
      const url = yield* post(`/api/host-categories/${hostCategory.id}/urls`, {
        url: `https://${unique("gone")}.example.org/pub`
      })
      const netblock = yield* post(`/api/hosts/${host.id}/netblocks`, { netblock: "172.16.0.0/16" })
      yield* del(`/api/sites/${site.id}`)
      yield* expectProblem(404, "GET", `/api/sites/${site.id}`)
      yield* expectProblem(404, "GET", `/api/hosts/${host.id}`)
      yield* expectProblem(404, "GET", `/api/host-categories/${hostCategory.id}`)
      yield* expectProblem(404, "GET", `/api/host-category-urls/${url.id}`)
      yield* expectProblem(404, "GET", `/api/sites/${site.id}/hosts`)
      const [rows] = yield* sql<{ hosts: number; netblocks: number; admins: number }>`SELECT
        (SELECT count(*)::int FROM hosts WHERE site_id = ${site.id}) AS hosts,
        (SELECT count(*)::int FROM host_netblocks WHERE id = ${netblock.id}) AS netblocks,
        (SELECT count(*)::int FROM site_admins WHERE site_id = ${site.id}) AS admins`.pipe(Effect.orDie)
      assert.deepStrictEqual(rows, { hosts: 0, netblocks: 0, admins: 0 })
      const me = yield* get("/api/me")
      assert.notInclude(me.siteIds, site.id)
    })
  )

  it.effect("deleting a host deletes its categories and URLs", () =>
    Effect.gen(function* () {
      const { site, host, hostCategory } = yield* createChain()
      const url = yield* post(`/api/host-categories/${hostCategory.id}/urls`, {
        url: `https://${unique("gone")}.example.org/pub`
      })
      yield* del(`/api/hosts/${host.id}`)
      yield* expectProblem(404, "GET", `/api/host-categories/${hostCategory.id}`)
      yield* expectProblem(404, "GET", `/api/host-category-urls/${url.id}`)
      assertNotListed(yield* list(`/api/sites/${site.id}/hosts`), host.id, "host")
      yield* get(`/api/sites/${site.id}`)
    })
  )
})

// ---------------------------------------------------------------------------------------------------------------
// Pagination, on a database of its own so that totals are exact
// ---------------------------------------------------------------------------------------------------------------

layer(testNodeLayer(), { excludeTestServices: true })("admin API pagination", (it) => {
  it.effect("products: pages, page sizes and totals", () =>
    Effect.gen(function* () {
      const products: Array<Json> = []
      for (let i = 1; i <= 5; i++) products.push(yield* createProduct({ name: `paged-product-${i}` }))

      const page2 = yield* list("/api/products?pageSize=2&page=2")
      assert.deepStrictEqual(page2, { items: products.slice(2, 4), page: 2, pageSize: 2, total: 5 })
      const page3 = yield* list("/api/products?pageSize=2&page=3")
      assert.deepStrictEqual(page3, { items: products.slice(4), page: 3, pageSize: 2, total: 5 })
      const beyond = yield* list("/api/products?pageSize=2&page=4")
      assert.deepStrictEqual(beyond, { items: [], page: 4, pageSize: 2, total: 5 })
      const all = yield* list("/api/products")
      assertFields(all, { items: products, page: 1, total: 5 })
      assert.isAtLeast(all.pageSize, 5)

      yield* expectProblem(400, "GET", "/api/products?pageSize=0")
      yield* expectProblem(400, "GET", "/api/products?page=0")
      yield* expectProblem(400, "GET", "/api/products?pageSize=abc")
    })
  )

  it.effect("sub-collection lists honour ?page=&pageSize= like every other list", () =>
    Effect.gen(function* () {
      const { site, host, hostCategory } = yield* createChain()
      for (let i = 0; i < 2; i++) {
        const user = yield* createUser()
        yield* post(`/api/sites/${site.id}/admins`, { username: user.username })
        const category = yield* createCategory()
        yield* createHostCategory(host.id, category.id)
      }
      const mirror = unique("paged")
      for (let i = 0; i < 3; i++) {
        yield* post(`/api/host-categories/${hostCategory.id}/urls`, { url: `https://${mirror}.example.org/u${i}` })
        yield* post(`/api/hosts/${host.id}/netblocks`, { netblock: `10.${i}.0.0/16` })
        yield* post(`/api/hosts/${host.id}/peer-asns`, { asn: 64_600 + i })
        yield* post(`/api/hosts/${host.id}/countries-allowed`, { country: ["DE", "FR", "IT"][i] })
      }
      const user = yield* createUser()
      for (let i = 0; i < 3; i++) yield* post(`/api/users/${user.id}/tokens`, { name: `t${i}` })

      const subLists = [
        `/api/sites/${site.id}/admins`,
        `/api/hosts/${host.id}/categories`,
        `/api/host-categories/${hostCategory.id}/urls`,
        `/api/hosts/${host.id}/netblocks`,
        `/api/hosts/${host.id}/peer-asns`,
        `/api/hosts/${host.id}/countries-allowed`,
        `/api/users/${user.id}/tokens`
      ]
      const ignored: Array<string> = []
      for (const path of subLists) {
        const all = yield* list(path)
        assert.strictEqual(all.total, 3, `${path} has 3 items`)
        assert.lengthOf(all.items, 3, `${path} shows all 3 items on one default page`)
        const paged = yield* list(`${path}?pageSize=2&page=2`)
        const expected = { items: all.items.slice(2), page: 2, pageSize: 2, total: 3 }
        try {
          assert.deepStrictEqual(paged, expected)
        } catch {
          ignored.push(`${path}?pageSize=2&page=2 answered ${JSON.stringify({ ...paged, items: paged.items.length })}`)
        }
      }
      assert.deepStrictEqual(ignored, [], "lists that ignore page/pageSize")
    })
  )

  it.effect("users: the list is paginated", () =>
    Effect.gen(function* () {
      const before = yield* list("/api/users")
      for (let i = 0; i < 3; i++) yield* createUser()
      const all = yield* list("/api/users?pageSize=1000")
      assert.strictEqual(all.total, before.total + 3)
      const last = yield* list(`/api/users?pageSize=1&page=${all.total}`)
      assert.deepStrictEqual(last, { items: all.items.slice(-1), page: all.total, pageSize: 1, total: all.total })
    })
  )
})
