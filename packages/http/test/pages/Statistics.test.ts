// The access statistics pages over real HTTP on a fresh database: days and their totals, a day's tables and charts
// (the charts' numbers are the JSON twin's), embargoed countries in one bucket, a kind's full table, and bad dates
// and kinds answered 404 (HTML for browsers, a problem document for JSON clients).
import { assert, layer } from "@effect/vitest"
import { AccessCounter, AccessStatistics, type CountedRequest } from "@mirrormanager/actors/statistics"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { request, show } from "../support/Requests.ts"
import { testNodeLayer } from "../support/TestNode.ts"

const JSON_ACCEPT = { headers: { accept: "application/json" } }

const counted = (country: string | undefined, repo: string, arch: string, countme?: string): CountedRequest => ({
  endpoint: "metalink",
  status: 200,
  log: { country, repo, arch, countme }
})

/** The bars of each chart of a page: [label, the text after the bar]. */
const charts = (html: string) =>
  html
    .split("<figure>")
    .slice(1)
    .map((figure) =>
      [
        ...figure.matchAll(
          /<text x="\d+" y="\d+" text-anchor="end">([^<]*)<\/text><rect class="bar"[^>]*\/><text x="\d+" y="\d+">([^<]*)<\/text>/g
        )
      ].map((m) => [m[1]!, m[2]!] as const)
    )

/** The body rows of each table of a page: [label, requests, share]. */
const tables = (html: string) =>
  html
    .split("<table>")
    .slice(1)
    .map((table) =>
      [
        ...table.matchAll(
          /<tr><th scope="row">(?:<a [^>]*>)?([^<]*)(?:<\/a>)?<\/th><td class="num">([\d,]+)<\/td>(?:<td class="num">([\d.]+ %)<\/td>)?<\/tr>/g
        )
      ].map((m) => [m[1]!, m[2]!, m[3]] as const)
    )

const count = (n: number) => n.toLocaleString("en-US")

layer(testNodeLayer(), { excludeTestServices: true, timeout: "60 seconds" })("the statistics pages", (it) => {
  it.effect("show the days, a day's kinds and a kind's full table; charts, tables and JSON agree", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO embargoed_countries (country) VALUES ('SE')`
      const statistics = yield* Effect.provide(
        Effect.gen(function* () {
          return yield* AccessStatistics
        }),
        AccessStatistics.layer
      )
      const node = new AccessCounter(true)
      const march14 = Date.parse("2026-03-14T10:00:00Z")
      // 2026-03-14: 30 from Germany, 10 from Sweden (embargoed), 5 unknown; 25 repositories; two arches.
      for (let i = 0; i < 45; i++) {
        const country = i < 30 ? "DE" : i < 40 ? "SE" : undefined
        node.record(
          march14,
          counted(
            country,
            `repo-${String(i % 25).padStart(2, "0")}`,
            i % 3 === 0 ? "aarch64" : "x86_64",
            i % 9 === 0 ? String((i % 4) + 1) : undefined
          )
        )
      }
      // 2026-03-13: 7 requests.
      for (let i = 0; i < 7; i++) node.record(march14 - 86_400_000, counted("FR", "epel-9", "x86_64"))
      const batch = node.takeBatch()!
      assert.isTrue(yield* statistics.add(batch))

      // The overview: the days, newest first, linked, with their totals.
      const overview = yield* request("GET", "/statistics", { token: null })
      assert.strictEqual(overview.status, 200, show(overview))
      assert.match(overview.headers.get("content-type") ?? "", /^text\/html/)
      assert.include(overview.text, '<a href="/statistics/2026-03-14">2026-03-14</a>')
      assert.include(overview.text, "every minute")
      const overviewJson = (yield* request("GET", "/statistics", { token: null, ...JSON_ACCEPT })).body
      assert.deepStrictEqual(overviewJson.days, [
        { day: "2026-03-14", requests: 45, href: "/statistics/2026-03-14" },
        { day: "2026-03-13", requests: 7, href: "/statistics/2026-03-13" }
      ])
      assert.strictEqual(overviewJson.newest.day, "2026-03-14")
      assert.deepStrictEqual(
        tables(overview.text)[0]!.map(([label, requests]) => [label, requests]),
        [
          ["2026-03-14", "45"],
          ["2026-03-13", "7"]
        ]
      )

      // A day: every kind, its chart's numbers the JSON's.
      const day = yield* request("GET", "/statistics/2026-03-14", { token: null })
      assert.strictEqual(day.status, 200, show(day))
      const dayJson = (yield* request("GET", "/statistics/2026-03-14", { token: null, ...JSON_ACCEPT })).body
      assert.strictEqual(dayJson.requests, 45)
      const kinds = ["countries", "arches", "repositories", "countme"]
      assert.deepStrictEqual(Object.keys(dayJson.kinds), kinds)
      const dayCharts = charts(day.text)
      const dayTables = tables(day.text)
      assert.strictEqual(dayCharts.length, 4)
      kinds.forEach((kind, i) => {
        const json = dayJson.kinds[kind]
        assert.strictEqual(json.requests, 45, kind)
        assert.deepStrictEqual(
          dayCharts[i]!.map(([, text]) => text),
          json.top.map((row: any) => `${count(row.requests)} · ${row.percent.toFixed(1)} %`),
          kind
        )
        assert.deepStrictEqual(
          dayTables[i],
          json.top.map((row: any) => [row.label, count(row.requests), `${row.percent.toFixed(1)} %`]),
          kind
        )
      })
      assert.deepStrictEqual(
        dayJson.kinds.countries.top.map((row: any) => [row.key, row.label, row.requests, row.percent]),
        [
          ["DE", "Germany (DE)", 30, 66.7],
          ["embargoed", "Embargoed countries", 10, 22.2],
          ["unknown", "Unknown", 5, 11.1]
        ]
      )
      assert.notInclude(day.text, "Sweden")
      assert.deepStrictEqual(
        dayJson.kinds.arches.top.map((row: any) => [row.key, row.requests]),
        [
          ["x86_64", 30],
          ["aarch64", 15]
        ]
      )
      // 25 repositories: the 20 with most requests drawn and listed, a link to all.
      assert.strictEqual(dayJson.kinds.repositories.keys, 25)
      assert.strictEqual(dayCharts[2]!.length, 20)
      assert.include(day.text, '<a href="/statistics/2026-03-14/repositories">All 25 repositories</a>')
      assert.deepStrictEqual(
        dayJson.kinds.countme.top.map((row: any) => [row.label, row.requests]),
        [
          ["1: first week", 2],
          ["2: first month", 1],
          ["3: first six months", 1],
          ["4: older than six months", 1],
          ["none: no countme on the request", 40]
        ]
      )

      // A kind: the full table, which adds up to the day.
      const repositories = yield* request("GET", "/statistics/2026-03-14/repositories", { token: null })
      assert.strictEqual(repositories.status, 200, show(repositories))
      const rows = tables(repositories.text)[0]!
      assert.strictEqual(rows.length, 25)
      assert.strictEqual(
        rows.reduce((sum, [, requests]) => sum + Number(requests.replace(/,/g, "")), 0),
        45
      )
      const kindJson = (yield* request("GET", "/statistics/2026-03-14/repositories", { token: null, ...JSON_ACCEPT }))
        .body
      assert.strictEqual(kindJson.rows.length, 25)
      assert.deepStrictEqual(
        charts(repositories.text)[0]!.map(([, text]) => text),
        kindJson.rows.map((row: any) => `${count(row.requests)} · ${row.percent.toFixed(1)} %`)
      )
    })
  )

  it.effect("answer 404 for what is not a day, a kind, or a day with figures", () =>
    Effect.gen(function* () {
      for (const path of [
        "/statistics/2026-02-30",
        "/statistics/yesterday",
        "/statistics/2026-3-1",
        "/statistics/2026-03-14/planets",
        "/statistics/2019-01-01",
        "/statistics/2019-01-01/countries"
      ]) {
        const html = yield* request("GET", path, { token: null })
        assert.strictEqual(html.status, 404, `${path}: ${show(html)}`)
        assert.match(html.headers.get("content-type") ?? "", /^text\/html/, path)
        assert.include(html.text, "<h1>Not found</h1>", path)
        const json = yield* request("GET", path, { token: null, ...JSON_ACCEPT })
        assert.strictEqual(json.status, 404, path)
        assert.strictEqual(json.body.status, 404, path)
        assert.isString(json.body.detail, path)
      }
    })
  )
})
