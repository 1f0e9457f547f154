// GET /map over real HTTP on a fresh database: which hosts count as public mirrors of their country, embargoed
// countries left out, and the HTML (table and map) saying what the JSON twin says.
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { shadingSteps, stepOf } from "../../src/pages/MapPage.ts"
import { create, createCategory, createHost, createHostCategory, createSite } from "../support/Fixtures.ts"
import { request, show } from "../support/Requests.ts"
import { testNodeLayer } from "../support/TestNode.ts"

describe("the map's shading steps", () => {
  it("are round numbers on a log scale up to the most mirrors, at least 1, 2, 3, 4", () => {
    assert.deepStrictEqual(shadingSteps(0), [1, 2, 3, 4])
    assert.deepStrictEqual(shadingSteps(4), [1, 2, 3, 4])
    assert.deepStrictEqual(shadingSteps(100), [1, 3, 10, 30])
    assert.deepStrictEqual(shadingSteps(1000), [1, 5, 30, 200])
    const steps = shadingSteps(100)
    assert.deepStrictEqual(
      [0, 1, 2, 3, 9, 10, 29, 30, 100].map((n) => stepOf(n, steps)),
      [0, 1, 1, 2, 2, 3, 3, 4, 4]
    )
  })
})

/** The table's rows as [code, name, mirrors, link]. */
const tableRows = (html: string) =>
  [
    ...html.matchAll(
      /<tr><th scope="row"><a href="([^"]+)">([^<]+)<\/a><\/th><td><code>([A-Z]{2})<\/code><\/td><td class="num">([\d,]+)<\/td><\/tr>/g
    )
  ].map((m) => ({ code: m[3]!, name: m[2]!, mirrors: Number(m[4]!.replace(/,/g, "")), link: m[1]! }))

/** What the map says of each country (its path's or point's title), by name. */
const mapTitles = (html: string) => {
  const svg = html.slice(html.indexOf("<svg"), html.indexOf("</svg>"))
  return new Map(
    [...svg.matchAll(/<(path|circle) class="m(\d)"[^>]*><title>([^<:]+): ([^<]+)<\/title>/g)].map((m) => [
      m[3]!,
      { shape: m[1]!, step: Number(m[2]!), text: m[4]! }
    ])
  )
}

layer(testNodeLayer(), { excludeTestServices: true, timeout: "60 seconds" })("GET /map", (it) => {
  it.effect("counts public, active, up-to-date hosts per country; HTML table, map and JSON agree", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const category = yield* createCategory()
      const site = yield* createSite()
      const privateSite = yield* createSite({ private: true })
      /** A host in `country` carrying the category; `bits` its up-to-date bitset (none: no row). */
      const host = (country: string, options: { bits?: string; siteId?: number; fields?: Record<string, unknown> }) =>
        Effect.gen(function* () {
          const created = yield* createHost(options.siteId ?? site.id, { country, ...options.fields })
          const hc = yield* createHostCategory(created.id, category.id)
          if (options.bits !== undefined) {
            yield* sql`INSERT INTO host_category_up2date (host_category_id, bits)
              VALUES (${hc.id}, decode(${options.bits}, 'hex'))`
          }
          return { hostId: created.id as number, hostCategoryId: hc.id as number }
        })

      // Germany: up to date by bits (twice) and by being always up to date: 3. Not: all-zero bits, nor a crawl's
      // row without bits (the bitset is what selection and the mirror list read).
      yield* host("DE", { bits: "04" })
      yield* host("DE", { bits: "0001" })
      const always = yield* host("DE", {})
      yield* sql`UPDATE host_categories SET always_up2date = true WHERE id = ${always.hostCategoryId}`
      const byRow = yield* host("DE", {})
      const [directory] = yield* sql<{
        id: number
      }>`INSERT INTO directories (name) VALUES ('pub/map-test') RETURNING id`
      yield* sql`INSERT INTO host_category_dirs (host_category_id, directory_id, path, up2date)
        VALUES (${byRow.hostCategoryId}, ${directory!.id}, 'pub/map-test', true)`
      yield* host("DE", { bits: "0000" })
      // Singapore (too small for the 1:110m shapes: a point): 1.
      yield* host("SG", { bits: "01" })
      // France: a private host, a public host on a private site, an inactive host; all up to date: none counts.
      yield* host("FR", { bits: "01", fields: { private: true } })
      yield* host("FR", { bits: "01", siteId: privateSite.id })
      const inactive = yield* host("FR", { bits: "01" })
      yield* sql`UPDATE hosts SET admin_active = false WHERE id = ${inactive.hostId}`
      // Italy: a public host up to date on nothing.
      yield* host("IT", {})
      // Netherlands: public and up to date, but only on an admin-only category, which no public list shows.
      const adminOnly = yield* createCategory({ adminOnly: true })
      const dutch = yield* createHost(site.id, { country: "NL" })
      const dutchCategory = yield* createHostCategory(dutch.id, adminOnly.id)
      yield* sql`INSERT INTO host_category_up2date (host_category_id, bits) VALUES (${dutchCategory.id}, '\\x01'::bytea)`
      // Iran: public and up to date, but embargoed.
      yield* host("IR", { bits: "01" })
      yield* create("/api/embargoed-countries", { country: "IR" })

      const html = yield* request("GET", "/map", { token: null })
      assert.strictEqual(html.status, 200, show(html))
      assert.match(html.headers.get("content-type") ?? "", /^text\/html/)
      const json = yield* request("GET", "/map", { token: null, headers: { accept: "application/json" } })
      assert.strictEqual(json.status, 200, show(json))
      assert.match(json.headers.get("content-type") ?? "", /^application\/json/)

      assert.deepStrictEqual(json.body, {
        countries: [
          { code: "DE", name: "Germany", mirrors: 3 },
          { code: "SG", name: "Singapore", mirrors: 1 }
        ],
        total: 4,
        embargoedSkipped: 1
      })

      // The table: the JSON's countries in its order, each linking to its mirror list; the total.
      const rows = tableRows(html.text)
      assert.deepStrictEqual(
        rows.map(({ code, name, mirrors }) => ({ code, name, mirrors })),
        json.body.countries
      )
      assert.deepStrictEqual(
        rows.map((row) => row.link),
        ["/mirrors?country=DE", "/mirrors?country=SG"]
      )
      assert.include(html.text, "<strong>4</strong> public mirrors")

      // The map: every country drawn with a title; shading by the steps of the most mirrors (3: steps 1, 2, 3, 4).
      const titles = mapTitles(html.text)
      assert.deepStrictEqual(titles.get("Germany"), { shape: "path", step: 3, text: "3 mirrors" })
      assert.deepStrictEqual(titles.get("Singapore"), { shape: "circle", step: 1, text: "1 mirror" })
      for (const name of ["France", "Italy", "Iran", "Netherlands"]) {
        assert.deepStrictEqual(titles.get(name), { shape: "path", step: 0, text: "no public mirrors" }, name)
      }
      assert.isAbove(titles.size, 150, "the whole world is drawn")
      // Every country the JSON counts has the same number on the map.
      for (const country of json.body.countries) {
        assert.include(titles.get(country.name)?.text ?? "", String(country.mirrors), country.name)
      }

      // Accessible: a heading, a titled SVG, column and row headers, a legend, the data's licence.
      assert.include(html.text, "<h1>Mirrors by country</h1>")
      assert.match(html.text, /<svg role="img" aria-labelledby="map-title"[^>]*><title id="map-title">[^<]+<\/title>/)
      assert.include(html.text, `<th scope="col">Country</th>`)
      assert.match(html.text, /<ul class="legend"[^>]*><li><i class="m0"><\/i>none<\/li>/)
      assert.include(html.text, "Natural Earth")
      assert.include(html.text, "Countries under embargo are not shown")
      assert.notInclude(html.text, "<script")
      assert.include(html.text, `<a href="/map" aria-current="page">`)

      // Asked again with its ETag: 304.
      const again = yield* request("GET", "/map", {
        token: null,
        headers: { "if-none-match": html.headers.get("etag") ?? "" }
      })
      assert.strictEqual(again.status, 304)
    })
  )
})
