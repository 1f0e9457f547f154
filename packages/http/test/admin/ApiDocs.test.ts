// The API description tells the truth: /openapi.json is valid OpenAPI 3.1 and describes everything a node serves
// (the front server's endpoints and the check-in too), lists only the errors an operation can answer; /docs renders
// it readably; JSON answers end with a newline.
import { assert, layer } from "@effect/vitest"
import { Validator } from "@seriousme/openapi-schema-validator"
import { Effect } from "effect"
import { inlineHtml } from "../../src/admin/ApiDocs.ts"
import { TestNode, testNodeLayer } from "../support/TestNode.ts"

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

/** Every operation of a document: path, method and the operation. */
const operations = (spec: any) =>
  Object.entries(spec.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method] !== undefined).map((method) => ({ path, method, op: item[method] }))
  )

const parameterNames = (op: any, where: string) =>
  (op.parameters as Array<{ name: string; in: string }>).filter((p) => p.in === where).map((p) => p.name)

layer(testNodeLayer(), { excludeTestServices: true })("API description", (it) => {
  const fetchSpec = Effect.gen(function* () {
    const node = yield* TestNode
    const reply = yield* node.request("GET", "/openapi.json", { token: null })
    assert.strictEqual(reply.status, 200, reply.text)
    return reply.body
  })

  it.effect("/openapi.json is a valid OpenAPI 3.1 document", () =>
    Effect.gen(function* () {
      const spec = yield* fetchSpec
      assert.match(spec.openapi, /^3\.1\./)
      const validator = new Validator()
      const result = yield* Effect.promise(() => validator.validate(spec))
      assert.isTrue(result.valid, JSON.stringify(result.errors, null, 1)?.slice(0, 4000))
      assert.strictEqual(validator.version, "3.1")
      // Every operation id is unique and every path parameter is declared (what the schema cannot check).
      const ids = operations(spec).map(({ op }) => op.operationId)
      assert.strictEqual(new Set(ids).size, ids.length)
      for (const { path, method, op } of operations(spec)) {
        const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])
        assert.sameMembers(parameterNames(op, "path"), templated, `${method} ${path}`)
      }
    })
  )

  it.effect("it describes the redirector, the check-in, the metrics and the health probes", () =>
    Effect.gen(function* () {
      const spec = yield* fetchSpec
      const redirectorQuery = ["country", "cc", "protocol", "netblock", "ip", "countme"]
      const mirrorlist = spec.paths["/mirrorlist"].get
      assert.includeMembers(parameterNames(mirrorlist, "query"), [
        "repo",
        "arch",
        "path",
        ...redirectorQuery,
        "redirect",
        "time"
      ])
      assert.includeMembers(Object.keys(mirrorlist.responses), ["200", "302", "400", "404", "405", "503"])
      assert.property(mirrorlist.responses["200"].content, "text/plain; charset=utf-8")
      assert.property(mirrorlist.responses["302"].headers, "Location")
      assert.property(mirrorlist.responses["302"].headers, "Link")
      assert.property(mirrorlist.responses["503"].headers, "Retry-After")

      const metalink = spec.paths["/metalink"].get
      assert.includeMembers(parameterNames(metalink, "query"), ["repo", "arch", "path", ...redirectorQuery])
      // `redirect` and `time` are the mirrorlist's only.
      assert.notInclude(parameterNames(metalink, "query"), "redirect")
      for (const status of ["200", "400", "404", "503"]) {
        assert.property(metalink.responses[status].content, "application/metalink+xml", status)
      }

      const download = spec.paths["/download/{path}"].get
      assert.deepStrictEqual(parameterNames(download, "path"), ["path"])
      assert.includeMembers(parameterNames(download, "query"), redirectorQuery)
      assert.includeMembers(Object.keys(download.responses), ["302", "404"])
      assert.notProperty(download.responses, "200")

      const checkin = spec.paths["/xmlrpc"].post
      assert.property(checkin.requestBody.content, "text/xml")
      assert.deepStrictEqual(Object.keys(checkin.responses), ["200"])
      assert.property(checkin.responses["200"].content, "text/xml; charset=utf-8")

      const metrics = spec.paths["/metrics"].get
      assert.property(metrics.responses["200"].content, "text/plain; version=0.0.4; charset=utf-8")

      assert.deepStrictEqual(Object.keys(spec.paths["/healthz/live"].get.responses).sort(), ["200", "500"])
      assert.includeMembers(Object.keys(spec.paths["/healthz/ready"].get.responses), ["200", "503"])

      // None of them takes a token; the tags they name exist.
      const tags = new Set(spec.tags.map((t: { name: string }) => t.name))
      for (const path of ["/mirrorlist", "/metalink", "/download/{path}", "/xmlrpc", "/metrics", "/healthz/live"]) {
        for (const { op } of operations({ paths: { [path]: spec.paths[path] } })) {
          assert.deepStrictEqual(op.security, [], path)
          assert.isTrue(tags.has(op.tags[0]), `${path}: tag ${op.tags[0]}`)
        }
      }
    })
  )

  it.effect("an operation lists only the errors it can answer", () =>
    Effect.gen(function* () {
      const spec = yield* fetchSpec
      for (const { path, method, op } of operations(spec)) {
        const statuses = Object.keys(op.responses)
        const where = `${method.toUpperCase()} ${path}: ${statuses.join(",")}`
        if (method === "get") {
          assert.notInclude(statuses, "409", where)
          assert.notInclude(statuses, "422", where)
          assert.notInclude(statuses, "413", where)
        }
        if (op.requestBody !== undefined && path.startsWith("/api/")) assert.include(statuses, "413", where)
        // Nothing to validate, so no 400 for bad input.
        if (op.parameters.length === 0 && op.requestBody === undefined) assert.notInclude(statuses, "400", where)
        if (path.startsWith("/api/")) {
          assert.include(statuses, "401", where)
          assert.include(statuses, "503", where)
        }
      }
      const responses = (path: string, method: string) => Object.keys(spec.paths[path][method].responses)
      // Anyone signed in lists sites (their own or all): no 403 or 404 of its own.
      assert.includeMembers(responses("/api/sites", "get"), ["200", "400", "401", "500"])
      assert.notInclude(responses("/api/sites", "get"), "403")
      assert.notInclude(responses("/api/sites", "get"), "404")
      // Another site's is forbidden, an unknown one not found.
      assert.includeMembers(responses("/api/sites/{siteId}", "get"), ["403", "404"])
      // Everyone reads products: only "no such id".
      assert.include(responses("/api/products/{id}", "get"), "404")
      assert.notInclude(responses("/api/products/{id}", "get"), "403")
      // Writes can conflict and break rules.
      assert.includeMembers(responses("/api/products", "post"), ["201", "403", "409", "413", "422"])
      assert.includeMembers(responses("/api/products/{id}", "delete"), ["204", "403", "404", "409", "422"])
    })
  )

  it.effect("/docs renders code spans, escapes HTML and lists every endpoint", () =>
    Effect.gen(function* () {
      assert.strictEqual(
        inlineHtml("send `Authorization: Bearer <token>` & `x`"),
        "send <code>Authorization: Bearer &lt;token&gt;</code> &amp; <code>x</code>"
      )
      assert.strictEqual(inlineHtml("a lone ` stays"), "a lone ` stays")
      const node = yield* TestNode
      const docs = yield* node.request("GET", "/docs", { token: null })
      assert.strictEqual(docs.status, 200)
      assert.notInclude(docs.text, "`", "a literal backtick on the page")
      assert.include(docs.text, "<code>Authorization: Bearer &lt;token&gt;</code>")
      const spec = yield* fetchSpec
      for (const path of Object.keys(spec.paths)) assert.include(docs.text, `<code>${path}</code>`, path)
      for (const { name } of spec.tags) assert.include(docs.text, `>${name}</h2>`, name)
      assert.include(docs.text, "<code>application/metalink+xml</code>")
    })
  )

  it.effect("JSON answers, problem documents too, end with one newline", () =>
    Effect.gen(function* () {
      const node = yield* TestNode
      const cases: ReadonlyArray<readonly [string, string, number, Parameters<typeof node.request>[2]]> = [
        ["GET", "/api/me", 200, {}],
        ["GET", "/openapi.json", 200, { token: null }],
        ["GET", "/healthz/live", 200, { token: null }],
        ["POST", "/api/products", 201, { body: { name: "Newline" } }],
        ["GET", "/api/sites", 401, { token: null }],
        ["GET", "/api/sites/999999", 404, {}],
        ["GET", "/no/such/path", 404, {}],
        ["POST", "/api/products", 400, { body: { name: 42 } }],
        ["POST", "/api/products", 409, { body: { name: "Newline" } }],
        ["POST", "/api/products", 413, { rawBody: `{"name":"${"x".repeat(1024 * 1024)}"}` }]
      ]
      for (const [method, path, status, options] of cases) {
        const reply = yield* node.request(method, path, options)
        const where = `${method} ${path}: ${reply.text.slice(0, 200)}`
        assert.strictEqual(reply.status, status, where)
        assert.match(reply.headers.get("content-type") ?? "", /^application\/(problem\+)?json/, where)
        assert.isTrue(reply.text.endsWith("}\n"), where)
        assert.isFalse(reply.text.endsWith("\n\n"), where)
        assert.strictEqual(Number(reply.headers.get("content-length")), Buffer.byteLength(reply.text), where)
      }
      // Other answers are left as they are.
      const docs = yield* node.request("GET", "/docs", { token: null })
      assert.isTrue(docs.text.endsWith("</html>\n"))
    })
  )
})
