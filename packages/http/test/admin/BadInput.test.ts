// Bad input over real HTTP: every refusal is a 4xx problem document that says what is wrong, and writes nothing.
import * as http from "node:http"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { createCategory, createRepository, makeContent, oneTenant, twoTenants, unique } from "../support/Fixtures.ts"
import { changedTables, expectStatus, problemText, request, show, snapshot } from "../support/Requests.ts"
import { ADMIN_TOKEN, type Reply, type RequestOptions, TestNode, testNodeLayer } from "../support/TestNode.ts"

// ---------------------------------------------------------------------------------------------------------------
// Helpers

type Expected = number | ReadonlyArray<number>

/** Why a reply is not the expected problem, or undefined when it is. */
const problemMismatch = (
  reply: { readonly status: number; readonly text: string; readonly body: any; readonly contentType: string },
  expected: Expected,
  says: RegExp
): string | undefined => {
  const statuses = typeof expected === "number" ? [expected] : expected
  if (!statuses.includes(reply.status)) return `expected ${statuses.join(" or ")}, got ${show(reply)}`
  if (!/json/.test(reply.contentType)) {
    return `expected a JSON problem body, got content-type "${reply.contentType}": ${show(reply)}`
  }
  if (reply.body?.status !== reply.status || typeof reply.body?.title !== "string") {
    return `expected {status: ${reply.status}, title} in the body, got ${show(reply)}`
  }
  const text = problemText(reply.body)
  if (!says.test(text)) return `expected detail or errors[].message to match ${says}, got ${JSON.stringify(text)}`
  return undefined
}

/**
 * Sends a bad request and returns what is wrong with the answer: not the expected 4xx, not a problem body whose
 * `detail` or `errors[].message` matches `says`, or any row written.
 */
const rejected = (
  method: string,
  path: string,
  options: RequestOptions,
  expected: Expected,
  says: RegExp,
  label = `${method} ${path} ${options.rawBody ?? JSON.stringify(options.body ?? "")}`.slice(0, 160)
) =>
  Effect.gen(function* () {
    const before = yield* snapshot
    const reply: Reply = yield* request(method, path, options)
    const after = yield* snapshot
    const wrong: Array<string> = []
    const mismatch = problemMismatch({ ...reply, contentType: reply.headers.get("content-type") ?? "" }, expected, says)
    if (mismatch !== undefined) wrong.push(`${label}: ${mismatch}`)
    const changed = changedTables(before, after)
    if (changed.length > 0) wrong.push(`${label}: wrote to ${changed.join(", ")}`)
    return wrong
  })

const directoryCount = (name: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM directories WHERE name = ${name}`
    return row!.n
  }).pipe(Effect.orDie)

/** POSTs `parts` with Transfer-Encoding: chunked through node:http, waiting up to 20 s for the reply. */
const postChunked = (path: string, parts: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const node = yield* TestNode
    const url = new URL(path, node.baseUrl)
    return yield* Effect.promise(
      () =>
        new Promise<{ status: number; text: string; body: any; contentType: string }>((resolve) => {
          let settled = false
          const finish = (reply: { status: number; text: string; contentType: string }) => {
            if (settled) return
            settled = true
            clearTimeout(timer)
            let body: unknown
            try {
              body = JSON.parse(reply.text)
            } catch {
              body = undefined
            }
            resolve({ ...reply, body })
          }
          const req = http.request({
            method: "POST",
            hostname: url.hostname,
            port: url.port,
            path: url.pathname,
            headers: {
              authorization: `Bearer ${ADMIN_TOKEN}`,
              "content-type": "application/json",
              "transfer-encoding": "chunked"
            }
          })
          const timer = setTimeout(() => {
            req.destroy()
            finish({ status: 0, text: "no reply within 20 s", contentType: "" })
          }, 20_000)
          req.on("response", (res) => {
            let text = ""
            res.setEncoding("utf8")
            res.on("data", (chunk: string) => {
              text += chunk
            })
            res.on("end", () =>
              finish({ status: res.statusCode ?? 0, text, contentType: String(res.headers["content-type"] ?? "") })
            )
            res.on("error", () =>
              finish({ status: res.statusCode ?? 0, text, contentType: String(res.headers["content-type"] ?? "") })
            )
          })
          // The server may answer and close before the whole body is sent: give the reply a moment to arrive.
          req.on("error", (error) =>
            setTimeout(
              () => finish({ status: -1, text: `connection failed before a reply: ${error.message}`, contentType: "" }),
              1000
            )
          )
          let i = 0
          const pump = () => {
            while (i < parts.length) {
              if (!req.write(parts[i++]!)) {
                req.once("drain", pump)
                return
              }
            }
            req.end()
          }
          pump()
        })
    )
  })

// ---------------------------------------------------------------------------------------------------------------

layer(testNodeLayer(), { excludeTestServices: true })("bad input", (it) => {
  it.effect("malformed JSON and bodies that are not objects → 400", () =>
    Effect.gen(function* () {
      const { a } = yield* oneTenant
      const wrong: Array<string> = []
      wrong.push(...(yield* rejected("POST", "/api/sites", { rawBody: '{"name": "broken", ' }, 400, /JSON/i)))
      wrong.push(
        ...(yield* rejected(
          "PATCH",
          `/api/hosts/${a.hostId}`,
          { token: a.token, rawBody: "{comment: 'x'}" },
          400,
          /JSON/i
        ))
      )
      wrong.push(
        ...(yield* rejected("POST", `/api/hosts/${a.hostId}/netblocks`, { rawBody: "not json at all" }, 400, /JSON/i))
      )
      wrong.push(...(yield* rejected("POST", "/api/products", { rawBody: "" }, 400, /payload|JSON|body|Expected/i)))
      wrong.push(...(yield* rejected("POST", "/api/products", { rawBody: "[]" }, 400, /payload.*Expected/i)))
      wrong.push(...(yield* rejected("POST", "/api/products", { rawBody: "null" }, 400, /payload.*Expected/i)))
      wrong.push(...(yield* rejected("POST", "/api/products", { rawBody: '"a string"' }, 400, /payload.*Expected/i)))
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("a body that is not JSON (Content-Type: text/plain) → 415 problem document", () =>
    Effect.gen(function* () {
      const wrong = yield* rejected(
        "POST",
        "/api/products",
        { rawBody: JSON.stringify({ name: "plain text" }), headers: { "content-type": "text/plain" } },
        415,
        /content-type|media type|JSON/i
      )
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("unknown fields → 400 naming the field", () =>
    Effect.gen(function* () {
      const { content, a, b } = yield* twoTenants
      const token = a.token
      const wrong: Array<string> = []
      const cases: ReadonlyArray<readonly [string, string, unknown, RegExp]> = [
        ["POST", "/api/sites", { name: unique("Bogus site "), password: "check-in-secret", bogus: 1 }, /bogus/],
        ["POST", "/api/products", { name: unique("Bogus product "), bogus: 1 }, /bogus/],
        ["POST", "/api/users", { username: unique("bogus"), bogus: true }, /bogus/],
        ["PATCH", `/api/hosts/${a.hostId}`, { comment: "changed", bogus: 1 }, /bogus/],
        // Fields that exist on the read model but may not be written.
        ["PATCH", `/api/hosts/${a.hostId}`, { siteId: b.siteId }, /siteId/],
        ["PATCH", `/api/hosts/${a.hostId}`, { crawlFailures: 0, disabledBy: "none" }, /crawlFailures|disabledBy/],
        ["PATCH", `/api/sites/${a.siteId}`, { passwordHash: "x" }, /passwordHash/],
        ["PATCH", `/api/sites/${a.siteId}`, { createdBy: "someone else" }, /createdBy/],
        [
          "POST",
          `/api/host-categories/${a.hostCategoryId}/urls`,
          { url: `${unique("https://u")}.example.org/`, hostCategoryId: b.hostCategoryId },
          /hostCategoryId/
        ],
        ["POST", `/api/hosts/${a.hostId}/netblocks`, { netblock: "192.0.2.0/25", hostId: b.hostId }, /hostId/],
        ["POST", `/api/hosts/${a.hostId}/categories`, { categoryId: content.categoryId, hostId: b.hostId }, /hostId/]
      ]
      for (const [method, path, body, says] of cases) {
        wrong.push(...(yield* rejected(method, path, { token, body }, 400, says)))
      }
      // The global admin is held to the same schema.
      wrong.push(
        ...(yield* rejected("PATCH", `/api/hosts/${a.hostId}`, { body: { comment: "x", bogus: 1 } }, 400, /bogus/))
      )
      assert.deepStrictEqual(wrong, [])
      const host = yield* expectStatus("GET", `/api/hosts/${a.hostId}`, 200)
      assert.strictEqual(host.comment, "original comment")
    })
  )

  it.effect("wrong types and out-of-range values → 400 naming the field", () =>
    Effect.gen(function* () {
      const { content, a } = yield* oneTenant
      const token = a.token
      const host = `/api/hosts/${a.hostId}`
      const wrong: Array<string> = []
      const cases: ReadonlyArray<readonly [string, string, unknown, RegExp]> = [
        ["POST", `/api/sites/${a.siteId}/hosts`, { name: 42, country: "DE" }, /name/],
        ["POST", `/api/sites/${a.siteId}/hosts`, { country: "DE" }, /name/],
        ["POST", "/api/sites", { name: ["a list"], password: 12345678 }, /name[\s\S]*password|password[\s\S]*name/],
        ["PATCH", host, { bandwidth: "fast" }, /bandwidth/],
        ["PATCH", host, { bandwidth: 1.5 }, /bandwidth/],
        ["PATCH", host, { bandwidth: 0 }, /bandwidth/],
        ["PATCH", host, { private: "yes" }, /private/],
        ["PATCH", host, { asn: "AS64500" }, /asn/],
        ["PATCH", host, { asn: 4294967296 }, /asn/],
        ["PATCH", host, { latitude: 91 }, /latitude/],
        ["PATCH", host, { maxConnections: -1 }, /maxConnections/],
        ["PATCH", host, { name: null }, /name/],
        ["PATCH", host, { name: "" }, /name/],
        ["PATCH", host, { name: " padded " }, /whitespace/],
        ["PATCH", `/api/sites/${a.siteId}`, { private: null }, /private/],
        ["PATCH", `/api/sites/${a.siteId}`, { orgUrl: "ftp://example.org/" }, /orgUrl|http/],
        ["POST", `${host}/categories`, { categoryId: "abc" }, /categoryId/],
        ["POST", `${host}/peer-asns`, { asn: -5 }, /asn/]
      ]
      for (const [method, path, body, says] of cases) {
        wrong.push(...(yield* rejected(method, path, { token, body }, 400, says)))
      }
      wrong.push(
        ...(yield* rejected("POST", "/api/products", { body: { name: "x", publiclist: "no" } }, 400, /publiclist/))
      )
      wrong.push(...(yield* rejected("POST", "/api/users", { body: { username: "Not A Username" } }, 400, /username/)))
      wrong.push(
        ...(yield* rejected(
          "POST",
          "/api/categories",
          { body: { name: unique("Escaping "), productId: content.productId, topdir: "pub/../../etc" } },
          400,
          /topdir|\.\./
        ))
      )
      wrong.push(...(yield* rejected("GET", "/api/products?pageSize=0", {}, 400, /pageSize/)))
      wrong.push(...(yield* rejected("GET", "/api/products?pageSize=1001", {}, 400, /pageSize/)))
      wrong.push(...(yield* rejected("GET", "/api/products?page=abc", {}, 400, /page/)))
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("text with a NUL character → 4xx problem naming the field, not a 500", () =>
    Effect.gen(function* () {
      const { content, a } = yield* oneTenant
      const category = yield* createCategory({
        productId: content.productId,
        name: unique("Nul "),
        topdir: unique("pub/nul-")
      })
      const says = /control|NUL|character|byte/i
      const wrong: Array<string> = []
      const cases: ReadonlyArray<readonly [string, string, unknown]> = [
        ["POST", "/api/sites", { name: "nul\u0000site", password: "check-in-secret" }],
        ["PATCH", `/api/hosts/${a.hostId}`, { comment: "before\u0000after" }],
        ["PATCH", `/api/hosts/${a.hostId}`, { robotEmail: "robot\u0000@example.org" }],
        ["POST", `/api/hosts/${a.hostId}/netblocks`, { netblock: "198.51.100.0/24", name: "nul\u0000" }],
        ["POST", `/api/hosts/${a.hostId}/peer-asns`, { asn: 64500, name: "nul\u0000" }],
        ["POST", `/api/users/${a.userId}/tokens`, { name: "nul\u0000" }],
        ["POST", "/api/categories", { name: unique("Nul "), productId: content.productId, topdir: "pub/\u0000x" }],
        ["PATCH", `/api/categories/${category.id}`, { masterPath: "/srv/\u0000" }],
        ["PATCH", `/api/categories/${category.id}`, { geoDnsDomain: "geo\u0000.example.org" }],
        [
          "POST",
          "/api/repositories",
          { prefix: unique("nul-"), arch: content.arch, directory: "pub/\u0000y", categoryId: content.categoryId }
        ]
      ]
      for (const [method, path, body] of cases) {
        wrong.push(...(yield* rejected(method, path, { body }, [400, 422], says)))
      }
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("integers beyond what the database stores → 400 naming the field, not a database error", () =>
    Effect.gen(function* () {
      const content = yield* makeContent
      const version = yield* expectStatus("POST", "/api/versions", 201, {
        body: { productId: content.productId, name: unique("v") }
      })
      const wrong: Array<string> = []
      for (const sortOrder of [3_000_000_000, -3_000_000_000]) {
        wrong.push(
          ...(yield* rejected(
            "POST",
            "/api/versions",
            { body: { productId: content.productId, name: unique("v"), sortOrder } },
            400,
            /sortOrder/
          ))
        )
        wrong.push(
          ...(yield* rejected("PATCH", `/api/versions/${version.id}`, { body: { sortOrder } }, 400, /sortOrder/))
        )
      }
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("invalid CIDRs → 400 saying what is wrong with the netblock", () =>
    Effect.gen(function* () {
      const { a } = yield* oneTenant
      const wrong: Array<string> = []
      const bad: ReadonlyArray<readonly [string, RegExp]> = [
        ["10.0.0.300/8", /10\.0\.0\.300/],
        ["10.0.0.0/33", /33/],
        ["10.0.0.0/255.0.255.0", /contiguous|mask/i],
        ["2001:db8::/129", /129/],
        ["10.0.0.0/abc", /abc|prefix/i],
        ["", /empty|netblock/i]
      ]
      for (const [netblock, says] of bad) {
        wrong.push(
          ...(yield* rejected(
            "POST",
            `/api/hosts/${a.hostId}/netblocks`,
            { token: a.token, body: { netblock } },
            400,
            says
          ))
        )
        wrong.push(...(yield* rejected("POST", `/api/hosts/${a.hostId}/netblocks`, { body: { netblock } }, 400, says)))
        wrong.push(
          ...(yield* rejected("POST", "/api/netblock-countries", { body: { netblock, country: "DE" } }, 400, says))
        )
      }
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("invalid country codes → 400 naming the code", () =>
    Effect.gen(function* () {
      const { a } = yield* oneTenant
      const token = a.token
      const wrong: Array<string> = []
      for (const [country, says] of [
        ["ZZ", /ZZ/],
        ["DEU", /DEU/],
        ["D", /"D"|country/],
        ["12", /12/]
      ] as const) {
        wrong.push(
          ...(yield* rejected(
            "POST",
            `/api/sites/${a.siteId}/hosts`,
            { token, body: { name: unique("h"), country } },
            400,
            says
          ))
        )
        wrong.push(...(yield* rejected("PATCH", `/api/hosts/${a.hostId}`, { token, body: { country } }, 400, says)))
        wrong.push(
          ...(yield* rejected(
            "POST",
            `/api/hosts/${a.hostId}/countries-allowed`,
            { token, body: { country } },
            400,
            says
          ))
        )
        wrong.push(...(yield* rejected("POST", "/api/embargoed-countries", { body: { country } }, 400, says)))
        wrong.push(
          ...(yield* rejected(
            "POST",
            "/api/country-continent-redirects",
            { body: { country, continent: "EU" } },
            400,
            says
          ))
        )
        wrong.push(
          ...(yield* rejected(
            "POST",
            "/api/netblock-countries",
            { body: { netblock: "198.51.100.0/24", country } },
            400,
            says
          ))
        )
      }
      wrong.push(
        ...(yield* rejected(
          "POST",
          "/api/country-continent-redirects",
          { body: { country: "DE", continent: "XX" } },
          400,
          /continent/
        ))
      )
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("invalid mirror URLs → 400 saying what is wrong; credentials are not echoed", () =>
    Effect.gen(function* () {
      const { a } = yield* oneTenant
      const urls = `/api/host-categories/${a.hostCategoryId}/urls`
      const wrong: Array<string> = []
      const bad: ReadonlyArray<readonly [string, RegExp]> = [
        ["mirror.example.org/pub", /absolute URL/i],
        ["gopher://mirror.example.org/pub", /scheme|gopher/i],
        ["file:///srv/pub", /scheme|file/i],
        ["https://mirror-user:hunter2secret@mirror.example.org/pub", /credential/i],
        ["https://mirror.example.org/pub?a=1", /query/i],
        ["https://mirror.example.org/pub#top", /fragment/i]
      ]
      for (const [url, says] of bad) {
        wrong.push(...(yield* rejected("POST", urls, { token: a.token, body: { url } }, 400, says)))
        wrong.push(...(yield* rejected("POST", urls, { body: { url } }, 400, says)))
        wrong.push(
          ...(yield* rejected(
            "PATCH",
            `/api/host-category-urls/${a.urlId}`,
            { token: a.token, body: { url } },
            400,
            says
          ))
        )
      }
      const leaked = yield* request("POST", urls, {
        body: { url: "https://mirror-user:hunter2secret@mirror.example.org/pub" }
      })
      assert.notInclude(leaked.text, "hunter2secret", "the password of a rejected URL is echoed back")
      const current = yield* expectStatus("GET", `/api/host-category-urls/${a.urlId}`, 200)
      assert.strictEqual(current.url, a.url)
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("a host category URL registered anywhere → 409, also in another spelling", () =>
    Effect.gen(function* () {
      const { a, b } = yield* twoTenants
      const taken = a.url
      const host = `${a.username}.example.org`
      const wrong: Array<string> = []
      const says = /already registered|unique|exists/i
      for (const url of [taken, `${taken}/`, `https://${host.toUpperCase()}/pub`, `https://${host}:443/pub`]) {
        // On another site's host, by its own admin and by the global admin.
        wrong.push(
          ...(yield* rejected(
            "POST",
            `/api/host-categories/${b.hostCategoryId}/urls`,
            { token: b.token, body: { url } },
            409,
            says
          ))
        )
        wrong.push(
          ...(yield* rejected("POST", `/api/host-categories/${b.hostCategoryId}/urls`, { body: { url } }, 409, says))
        )
        // On the same host category.
        wrong.push(
          ...(yield* rejected(
            "POST",
            `/api/host-categories/${a.hostCategoryId}/urls`,
            { token: a.token, body: { url } },
            409,
            says
          ))
        )
      }
      // Moving another URL onto it.
      wrong.push(
        ...(yield* rejected(
          "PATCH",
          `/api/host-category-urls/${b.urlId}`,
          { token: b.token, body: { url: taken } },
          409,
          says
        ))
      )
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("a body over 1 MiB → 413, announced by Content-Length", () =>
    Effect.gen(function* () {
      const wrong: Array<string> = []
      const huge = { name: "x".repeat(2 * 1024 * 1024) }
      wrong.push(...(yield* rejected("POST", "/api/products", { body: huge }, 413, /limit|large|1048576|1 MiB/i)))
      const site = { name: "y".repeat(1024 * 1024), password: "check-in-secret" }
      wrong.push(...(yield* rejected("POST", "/api/sites", { body: site }, 413, /limit|large|1048576|1 MiB/i)))
      // Just under the limit, the body is read and judged on its content.
      wrong.push(
        ...(yield* rejected("POST", "/api/products", { body: { name: "x".repeat(1_000_000) } }, 400, /name|255/))
      )
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("a body over 1 MiB → 413, sent with Transfer-Encoding: chunked", () =>
    Effect.gen(function* () {
      // A small chunked body is accepted: the refusal below is about size.
      const name = unique("Chunked product ")
      const small = yield* postChunked("/api/products", ['{"name":', JSON.stringify(name), "}"])
      assert.strictEqual(small.status, 201, show(small))
      assert.strictEqual(small.body?.name, name)

      const before = yield* snapshot
      const filler = "z".repeat(64 * 1024)
      const parts = ['{"name":"', ...Array.from({ length: 32 }, () => filler), '"}']
      const reply = yield* postChunked("/api/products", parts)
      const mismatch = problemMismatch(reply, 413, /limit|large|1048576|1 MiB/i)
      assert.isUndefined(mismatch, mismatch)
      const changed = changedTables(before, yield* snapshot)
      assert.deepStrictEqual(changed, [], "tables written by the refused chunked body")
      // The node still serves requests afterwards.
      yield* expectStatus("GET", "/api/me", 200)
    })
  )

  it.effect("ids that do not exist → 404 naming the resource", () =>
    Effect.gen(function* () {
      const { content, a, b } = yield* twoTenants
      const missing = 999999
      const says = new RegExp(`${missing}.*(does not exist|not found)|not an admin`, "i")
      const wrong: Array<string> = []
      const cases: ReadonlyArray<readonly [string, string, unknown?]> = [
        ["GET", `/api/hosts/${missing}`],
        ["PATCH", `/api/hosts/${missing}`, { comment: "x" }],
        ["DELETE", `/api/hosts/${missing}`],
        ["GET", `/api/sites/${missing}`],
        ["PATCH", `/api/sites/${missing}`, { private: true }],
        ["DELETE", `/api/sites/${missing}`],
        ["GET", `/api/categories/${missing}`],
        ["PATCH", `/api/categories/${missing}`, { publiclist: false }],
        ["DELETE", `/api/categories/${missing}`],
        ["GET", `/api/hosts/${missing}/netblocks`],
        ["POST", `/api/hosts/${missing}/netblocks`, { netblock: "198.51.100.0/24" }],
        ["POST", `/api/hosts/${missing}/categories`, { categoryId: content.categoryId }],
        ["GET", `/api/host-categories/${missing}`],
        ["POST", `/api/host-categories/${missing}/urls`, { url: "https://nowhere.example.org/pub" }],
        ["PATCH", `/api/host-category-urls/${missing}`, { private: false }],
        ["GET", `/api/sites/${missing}/hosts`],
        ["POST", `/api/sites/${missing}/hosts`, { name: "orphan", country: "DE" }],
        ["POST", `/api/sites/${missing}/admins`, { username: a.username }],
        ["DELETE", `/api/sites/${a.siteId}/admins/${missing}`],
        ["DELETE", `/api/hosts/${a.hostId}/netblocks/${missing}`],
        ["DELETE", `/api/hosts/${a.hostId}/countries-allowed/${missing}`],
        ["DELETE", `/api/hosts/${a.hostId}/peer-asns/${missing}`],
        ["GET", `/api/users/${missing}`],
        ["POST", `/api/users/${missing}/tokens`, {}],
        ["DELETE", `/api/tokens/${missing}`],
        ["GET", `/api/products/${missing}`],
        ["PATCH", `/api/repositories/${missing}`, { disabled: true }],
        ["DELETE", `/api/embargoed-countries/${missing}`]
      ]
      for (const [method, path, body] of cases) {
        wrong.push(...(yield* rejected(method, path, body === undefined ? {} : { body }, 404, says)))
      }
      wrong.push(
        ...(yield* rejected(
          "POST",
          `/api/sites/${a.siteId}/admins`,
          { token: a.token, body: { username: "nobody-by-this-name" } },
          [404, 422],
          /nobody-by-this-name/
        ))
      )
      // An id past the range of the database column is just as absent (not a 500).
      for (const path of ["/api/hosts/2147483648", "/api/sites/9007199254740991", "/api/categories/2147483648"]) {
        wrong.push(...(yield* rejected("GET", path, {}, [400, 404], /id|does not exist|not found/i)))
      }

      // A netblock, allowed country or peer ASN of another host, addressed through this host.
      for (const token of [a.token, undefined]) {
        const options = token === undefined ? {} : { token }
        wrong.push(
          ...(yield* rejected(
            "DELETE",
            `/api/hosts/${a.hostId}/netblocks/${b.netblockId}`,
            options,
            404,
            /does not exist|not found/i
          ))
        )
        wrong.push(
          ...(yield* rejected(
            "DELETE",
            `/api/hosts/${a.hostId}/countries-allowed/${b.countryId}`,
            options,
            404,
            /does not exist|not found/i
          ))
        )
      }
      wrong.push(
        ...(yield* rejected(
          "DELETE",
          `/api/hosts/${a.hostId}/peer-asns/${b.peerAsnId}`,
          {},
          404,
          /does not exist|not found/i
        ))
      )
      assert.deepStrictEqual(wrong, [])
      const left = yield* expectStatus("GET", `/api/hosts/${b.hostId}/netblocks`, 200)
      assert.deepStrictEqual(
        left.items.map((n: any) => n.id),
        [b.netblockId]
      )
    })
  )

  it.effect("non-numeric and non-positive ids → 400 naming the parameter", () =>
    Effect.gen(function* () {
      const { a } = yield* oneTenant
      const wrong: Array<string> = []
      for (const id of ["abc", "1x", "0", "-1", "1.5", "%20"]) {
        for (const collection of ["/api/hosts", "/api/sites", "/api/categories"]) {
          wrong.push(...(yield* rejected("GET", `${collection}/${id}`, {}, 400, /id/)))
          wrong.push(...(yield* rejected("PATCH", `${collection}/${id}`, { body: {} }, 400, /id/)))
          wrong.push(...(yield* rejected("DELETE", `${collection}/${id}`, {}, 400, /id/)))
        }
      }
      wrong.push(...(yield* rejected("DELETE", `/api/hosts/${a.hostId}/netblocks/abc`, {}, 400, /itemId/)))
      wrong.push(...(yield* rejected("DELETE", `/api/hosts/abc/netblocks/${a.netblockId}`, {}, 400, /id/)))
      wrong.push(...(yield* rejected("DELETE", `/api/sites/${a.siteId}/admins/abc`, {}, 400, /userId/)))
      wrong.push(...(yield* rejected("GET", "/api/host-categories/abc/urls", {}, 400, /id/)))
      assert.deepStrictEqual(wrong, [])
    })
  )

  it.effect("a repository with an unknown arch → 422, and no directory row is left behind", () =>
    Effect.gen(function* () {
      const content = yield* makeContent
      const tag = unique("r")
      const existing = yield* createRepository(content, tag)
      const wrong: Array<string> = []
      const created = `pub/unknown-arch-${tag}/os`
      wrong.push(
        ...(yield* rejected(
          "POST",
          "/api/repositories",
          {
            body: { prefix: `unknown-${tag}`, arch: "no-such-arch", directory: created, categoryId: content.categoryId }
          },
          422,
          /arch/
        ))
      )
      const patched = `pub/unknown-arch-patch-${tag}/os`
      wrong.push(
        ...(yield* rejected(
          "PATCH",
          `/api/repositories/${existing.id}`,
          { body: { arch: "no-such-arch", directory: patched } },
          422,
          /arch/
        ))
      )
      assert.deepStrictEqual(wrong, [])
      assert.strictEqual(yield* directoryCount(created), 0, "directory of the refused repository")
      assert.strictEqual(yield* directoryCount(patched), 0, "directory of the refused repository change")
    })
  )

  it.effect("a repository or category referring to a missing record → 4xx, and no directory row is left behind", () =>
    Effect.gen(function* () {
      const content = yield* makeContent
      const tag = unique("m")
      const existing = yield* createRepository(content, tag)
      const says = /categor|version|product|referenced|does not exist/i
      const wrong: Array<string> = []
      const dirs = {
        category: `pub/missing-category-${tag}/os`,
        version: `pub/missing-version-${tag}/os`,
        patch: `pub/missing-category-patch-${tag}/os`,
        topdir: `pub/missing-product-${tag}`
      }
      wrong.push(
        ...(yield* rejected(
          "POST",
          "/api/repositories",
          { body: { prefix: `a-${tag}`, arch: content.arch, directory: dirs.category, categoryId: 999999 } },
          [400, 404, 409, 422],
          says
        ))
      )
      wrong.push(
        ...(yield* rejected(
          "POST",
          "/api/repositories",
          {
            body: {
              prefix: `b-${tag}`,
              arch: content.arch,
              directory: dirs.version,
              categoryId: content.categoryId,
              versionId: 999999
            }
          },
          [400, 404, 409, 422],
          says
        ))
      )
      wrong.push(
        ...(yield* rejected(
          "PATCH",
          `/api/repositories/${existing.id}`,
          { body: { directory: dirs.patch, categoryId: 999999 } },
          [400, 404, 409, 422],
          says
        ))
      )
      wrong.push(
        ...(yield* rejected(
          "POST",
          "/api/categories",
          { body: { name: unique("Orphan "), productId: 999999, topdir: dirs.topdir } },
          [400, 404, 409, 422],
          says
        ))
      )
      assert.deepStrictEqual(wrong, [])
      for (const [what, dir] of Object.entries(dirs)) {
        assert.strictEqual(yield* directoryCount(dir), 0, `directory row left behind (${what})`)
      }
      const repository = yield* expectStatus("GET", `/api/repositories/${existing.id}`, 200)
      assert.strictEqual(repository.directory, `pub/fixture-${tag}/os`)
    })
  )

  it.effect("a site password shorter than 8 characters → 400", () =>
    Effect.gen(function* () {
      const { a } = yield* oneTenant
      const says = /password[\s\S]*at least 8/i
      const wrong: Array<string> = []
      for (const password of ["", "short", "1234567"]) {
        wrong.push(
          ...(yield* rejected(
            "POST",
            "/api/sites",
            { token: a.token, body: { name: unique("Weak "), password } },
            400,
            says
          ))
        )
        wrong.push(...(yield* rejected("POST", "/api/sites", { body: { name: unique("Weak "), password } }, 400, says)))
        wrong.push(
          ...(yield* rejected("PATCH", `/api/sites/${a.siteId}`, { token: a.token, body: { password } }, 400, says))
        )
      }
      wrong.push(
        ...(yield* rejected("POST", "/api/sites", { body: { name: unique("No password ") } }, 400, /password/))
      )
      assert.deepStrictEqual(wrong, [])
      // Eight characters are enough.
      yield* expectStatus("PATCH", `/api/sites/${a.siteId}`, 200, { token: a.token, body: { password: "12345678" } })
    })
  )

  it.effect("removing the last admin of a site → 422", () =>
    Effect.gen(function* () {
      const { a, b } = yield* twoTenants
      const says = /last admin/i
      const wrong: Array<string> = []
      const path = `/api/sites/${a.siteId}/admins/${a.userId}`
      wrong.push(...(yield* rejected("DELETE", path, { token: a.token }, 422, says)))
      wrong.push(...(yield* rejected("DELETE", path, {}, 422, says)))
      // Deleting the user would remove the last admin as well.
      wrong.push(...(yield* rejected("DELETE", `/api/users/${a.userId}`, {}, 422, says)))
      assert.deepStrictEqual(wrong, [])
      const admins = yield* expectStatus("GET", `/api/sites/${a.siteId}/admins`, 200)
      assert.deepStrictEqual(
        admins.items.map((x: any) => x.userId),
        [a.userId]
      )

      // The last global admin cannot be demoted or deleted either (here it is also the bootstrap admin).
      const me = yield* expectStatus("GET", "/api/me", 200)
      const lastGlobal: Array<string> = []
      lastGlobal.push(
        ...(yield* rejected(
          "PATCH",
          `/api/users/${me.user.id}`,
          { body: { admin: false } },
          [409, 422],
          /last|bootstrap/i
        ))
      )
      lastGlobal.push(...(yield* rejected("DELETE", `/api/users/${me.user.id}`, {}, [409, 422], /last|bootstrap/i)))
      assert.deepStrictEqual(lastGlobal, [])
      yield* expectStatus("GET", "/api/users", 200)

      // With a second admin, either may go, down to the last one again.
      yield* expectStatus("POST", `/api/sites/${a.siteId}/admins`, 201, {
        token: a.token,
        body: { username: b.username }
      })
      yield* expectStatus("DELETE", path, 204, { token: a.token })
      const last = yield* rejected("DELETE", `/api/sites/${a.siteId}/admins/${b.userId}`, { token: b.token }, 422, says)
      assert.deepStrictEqual(last, [])
    })
  )
})
