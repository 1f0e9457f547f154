// The public mirror list, host status and propagation pages over real HTTP on a fresh database: hosts in and out of
// the asked scope (product, version, arch), private and stale hosts absent, the country filter and sorting, HTML and
// JSON twin saying the same, ETags, the host status page and its admin API, and the propagation figures.
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import {
  create,
  createArch,
  createCategory,
  createHost,
  createHostCategory,
  createProduct,
  createSite,
  makeUser,
  SITE_PASSWORD,
  unique
} from "../support/Fixtures.ts"
import { request, show } from "../support/Requests.ts"
import { testNodeLayer } from "../support/TestNode.ts"

/** The host names in the mirror list's table, in order. */
const rowHosts = (html: string) =>
  [...html.matchAll(/<td><a href="\/mirrors\/hosts\/\d+">([^<]+)<\/a>/g)].map((m) => m[1]!)

const getHtml = (path: string, status = 200) =>
  Effect.map(request("GET", path, { token: null, headers: { accept: "text/html" } }), (reply) => {
    assert.strictEqual(reply.status, status, `${path}: ${show(reply)}`)
    assert.match(reply.headers.get("content-type") ?? "", /^text\/html/)
    return reply.text
  })

const getJson = (path: string, status = 200) =>
  Effect.map(request("GET", path, { token: null, headers: { accept: "application/json" } }), (reply) => {
    assert.strictEqual(reply.status, status, `${path}: ${show(reply)}`)
    return reply.body
  })

/** A world: one product, versions 40 and 41, two arches, three repositories; hosts up to date on some of them. */
const makeWorld = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const product = yield* createProduct({ name: unique("Fedora") })
  const category = yield* createCategory({ productId: product.id })
  const v40 = yield* create("/api/versions", { productId: product.id, name: "40", sortOrder: 40 })
  const v41 = yield* create("/api/versions", { productId: product.id, name: "41", sortOrder: 41 })
  const a1 = yield* createArch()
  const a2 = yield* createArch()
  const repository = (version: any, arch: any) =>
    create("/api/repositories", {
      prefix: unique("fedora-"),
      arch: arch.name,
      directory: `${category.topdir}/${version.name}/${arch.name}/os`,
      categoryId: category.id,
      versionId: version.id
    })
  const r40a1 = yield* repository(v40, a1)
  const r40a2 = yield* repository(v40, a2)
  const r41a1 = yield* repository(v41, a1)
  // Each repository has a repodata/ below it; the master scan links the tree's directories to the category (and
  // numbers them): here the repositories' and their repodata/.
  for (const r of [r40a1, r40a2, r41a1]) {
    yield* sql`INSERT INTO directories (name) VALUES (${`${r.directory}/repodata`}) ON CONFLICT DO NOTHING`
  }
  yield* sql`INSERT INTO category_directories (category_id, directory_id)
    SELECT ${category.id}, id FROM directories WHERE name LIKE ${`${category.topdir}/%`} ORDER BY id
    ON CONFLICT DO NOTHING`
  const site = yield* createSite({ orgUrl: "https://sponsor.example.org/" })
  /** A host carrying the category, up to date on the given repositories' directories. */
  const host = (
    name: string,
    country: string,
    upToDate: ReadonlyArray<any>,
    fields: Record<string, unknown> = {},
    siteId = site.id,
    withoutRepodata = false
  ) =>
    Effect.gen(function* () {
      const created = yield* createHost(siteId, { name, country, ...fields })
      const hc = yield* createHostCategory(created.id, category.id)
      yield* create(`/api/host-categories/${hc.id}/urls`, { url: `https://${name}.example.org/pub` })
      yield* create(`/api/host-categories/${hc.id}/urls`, { url: `rsync://${name}.example.org/pub` })
      // Up to date on a repository: on its directory and its repodata/; `withoutRepodata`: on the directory only.
      const directories = upToDate.flatMap((r) =>
        withoutRepodata ? [r.directory as string] : [r.directory as string, `${r.directory}/repodata`]
      )
      yield* sql`INSERT INTO host_category_up2date (host_category_id, bits)
        SELECT ${hc.id}, mm_bits_of(coalesce(array_agg(cd.ordinal), '{}'))
        FROM category_directories cd JOIN directories d ON d.id = cd.directory_id
        WHERE cd.category_id = ${category.id} AND d.name = ANY(${directories})
        ON CONFLICT (host_category_id) DO UPDATE SET bits = excluded.bits`
      return { id: created.id as number, hostCategoryId: hc.id as number }
    })
  const berlin = yield* host(unique("berlin"), "DE", [r40a1], { bandwidth: 1000, comment: "Berlin & <friends>" })
  const paris = yield* host(unique("paris"), "FR", [r41a1], { bandwidth: 10_000, internet2: true })
  const hidden = yield* host(unique("hidden"), "DE", [r40a1, r41a1], { private: true })
  const stale = yield* host(unique("stale"), "US", [])
  const always = yield* host(unique("always"), "SE", [], { bandwidth: 100 })
  yield* sql`UPDATE host_categories SET always_up2date = true WHERE id = ${always.hostCategoryId}`
  const privateSite = yield* createSite({ private: true })
  const onPrivateSite = yield* host(unique("onprivate"), "DE", [r40a1], {}, privateSite.id)
  // Up to date on 40's x86_64 directory but not on its repodata/: no metalink of 40 offers it.
  const halfStale = yield* host(unique("halfstale"), "IT", [r40a1], {}, site.id, true)
  const names = yield* sql<{ id: number; name: string }>`SELECT id, name FROM hosts`
  const nameOf = (h: { id: number }) => names.find((n) => n.id === h.id)!.name
  return {
    product: product.name as string,
    a1: a1.name as string,
    a2: a2.name as string,
    category: category.name as string,
    berlin: { ...berlin, name: nameOf(berlin) },
    paris: { ...paris, name: nameOf(paris) },
    hidden: { ...hidden, name: nameOf(hidden) },
    stale: { ...stale, name: nameOf(stale) },
    always: { ...always, name: nameOf(always) },
    onPrivateSite: { ...onPrivateSite, name: nameOf(onPrivateSite) },
    halfStale: { ...halfStale, name: nameOf(halfStale) },
    r40a1: r40a1.id as number
  }
})

layer(testNodeLayer(), { excludeTestServices: true, timeout: "60 seconds" })("public pages", (it) => {
  it.effect("the mirror list holds the public hosts up to date within the scope, and nobody else", () =>
    Effect.gen(function* () {
      const w = yield* makeWorld
      const sorted = (names: ReadonlyArray<string>) => [...names].sort()
      const scopes: Array<[string, ReadonlyArray<string>]> = [
        [`/mirrors/${w.product}`, [w.berlin.name, w.paris.name, w.always.name, w.halfStale.name]],
        [`/mirrors/${w.product}/40`, [w.berlin.name, w.always.name]],
        [`/mirrors/${w.product}/40/${w.a1}`, [w.berlin.name, w.always.name]],
        [`/mirrors/${w.product}/40/${w.a2}`, [w.always.name]],
        [`/mirrors/${w.product}/41/${w.a1}`, [w.paris.name, w.always.name]]
      ]
      for (const [path, expected] of scopes) {
        const html = yield* getHtml(path)
        assert.deepStrictEqual(sorted(rowHosts(html)), sorted(expected), path)
        const json = yield* getJson(path)
        assert.deepStrictEqual(sorted(json.mirrors.map((m: any) => m.name)), sorted(expected), `${path} (JSON)`)
        assert.strictEqual(json.total, expected.length)
        const absentHere = path === `/mirrors/${w.product}` ? [] : [w.halfStale]
        for (const absent of [w.hidden, w.stale, w.onPrivateSite, ...absentHere]) {
          assert.notInclude(html, absent.name, path)
          assert.notInclude(JSON.stringify(json), absent.name, path)
        }
        // Nothing an admin alone sees: passwords, contacts.
        assert.notInclude(html, SITE_PASSWORD)
        assert.notMatch(JSON.stringify(json), /password|robot|email/i)
      }
      // The whole list (every product) has them too; the index links the product, its versions and arches.
      const root = yield* getHtml("/mirrors")
      assert.includeMembers(rowHosts(root), [w.berlin.name, w.paris.name, w.always.name])
      assert.include(root, `href="/mirrors/${encodeURIComponent(w.product)}"`)
      const versionPage = yield* getHtml(`/mirrors/${w.product}/40`)
      assert.include(versionPage, `href="/mirrors/${encodeURIComponent(w.product)}/40/${w.a1}"`)
      // A row says what the JSON says: the site linked to its sponsor page, bandwidth, the URLs by protocol, the
      // comment escaped, and the up-to-date marker for the category.
      const json = yield* getJson(`/mirrors/${w.product}/40`)
      const berlin = json.mirrors.find((m: any) => m.name === w.berlin.name)
      assert.strictEqual(berlin.country, "DE")
      assert.strictEqual(berlin.bandwidth, 1000)
      assert.strictEqual(berlin.siteUrl, "https://sponsor.example.org/")
      assert.deepStrictEqual(berlin.categories, [
        {
          category: w.category,
          upToDate: true,
          urls: {
            https: [`https://${w.berlin.name}.example.org/pub`],
            http: [],
            ftp: [],
            rsync: [`rsync://${w.berlin.name}.example.org/pub`]
          }
        }
      ])
      const html = yield* getHtml(`/mirrors/${w.product}/40`)
      assert.include(html, "Berlin &amp; &lt;friends&gt;")
      assert.notInclude(html, "<friends>")
      assert.include(html, '<a href="https://sponsor.example.org/" rel="nofollow noopener">')
      assert.include(html, `<a href="https://${w.berlin.name}.example.org/pub" rel="nofollow noopener">`)
    })
  )

  it.effect("filters by country and sorts by the links of the column headers", () =>
    Effect.gen(function* () {
      const w = yield* makeWorld
      const base = `/mirrors/${w.product}`
      const germany = yield* getHtml(`${base}?country=DE`)
      assert.deepStrictEqual(rowHosts(germany), [w.berlin.name])
      assert.include(germany, '<option value="DE" selected>')
      assert.deepStrictEqual(rowHosts(yield* getHtml(`${base}?country=de`)), [w.berlin.name])
      assert.deepStrictEqual(
        (yield* getJson(`${base}?country=FR`)).mirrors.map((m: any) => m.name),
        [w.paris.name]
      )
      // A host serving other countries is listed in theirs too.
      yield* create(`/api/hosts/${w.paris.id}/countries-allowed`, { country: "BE" })
      const belgium = yield* getJson(`/mirrors/${w.product}/41?country=BE`)
      assert.deepStrictEqual(
        belgium.mirrors.map((m: any) => m.name),
        [w.paris.name]
      )

      // Default order: country, then name; the header links sort by bandwidth, then the other way round.
      const all = yield* getHtml(base)
      assert.deepStrictEqual(rowHosts(all), [w.berlin.name, w.paris.name, w.halfStale.name, w.always.name])
      const link = /<th scope="col"><a href="([^"]+)">Bandwidth<\/a><\/th>/.exec(all)?.[1]
      assert.strictEqual(link, `${base}?sort=bandwidth`)
      const ascending = yield* getHtml(link!.replace(/&amp;/g, "&"))
      assert.deepStrictEqual(rowHosts(ascending), [w.always.name, w.halfStale.name, w.berlin.name, w.paris.name])
      assert.include(ascending, 'aria-sort="ascending"')
      const back = /<th scope="col" aria-sort="ascending"><a href="([^"]+)">/.exec(ascending)?.[1]
      assert.strictEqual(back, `${base}?sort=-bandwidth`)
      assert.deepStrictEqual(rowHosts(yield* getHtml(back!)), [
        w.paris.name,
        w.berlin.name,
        w.halfStale.name,
        w.always.name
      ])
      // Paging.
      const paged = yield* getJson(`${base}?sort=-bandwidth&pageSize=2&page=2`)
      assert.deepStrictEqual(
        paged.mirrors.map((m: any) => m.name),
        [w.halfStale.name, w.always.name]
      )
      assert.strictEqual(paged.pages, 2)
    })
  )

  it.effect("says what is wrong with a bad address or query; keeps pages with an ETag", () =>
    Effect.gen(function* () {
      const w = yield* makeWorld
      const unknown = yield* getHtml("/mirrors/NoSuchProduct", 404)
      assert.include(unknown, "No public product is named &quot;NoSuchProduct&quot;")
      const problem = yield* getJson(`/mirrors/${w.product}/99`, 404)
      assert.strictEqual(problem.status, 404)
      assert.include(problem.detail, 'No public version is named "99"')
      yield* getHtml(`/mirrors/${w.product}/40/no-such-arch`, 404)
      assert.include(yield* getHtml("/mirrors?country=XX", 400), "country must be a two-letter country code")
      assert.include(yield* getHtml("/mirrors?sort=password", 400), "sort must be one of")
      yield* getHtml("/mirrors?pageSize=100000", 400)

      const first = yield* request("GET", `/mirrors/${w.product}`, { token: null })
      const etag = first.headers.get("etag")
      assert.isString(etag)
      assert.strictEqual(first.headers.get("cache-control"), "public, max-age=60")
      assert.strictEqual(first.headers.get("vary"), "Accept")
      const again = yield* request("GET", `/mirrors/${w.product}`, { token: null, headers: { "if-none-match": etag! } })
      assert.strictEqual(again.status, 304)
      // The JSON twin has its own tag.
      const json = yield* request("GET", `/mirrors/${w.product}`, {
        token: null,
        headers: { accept: "application/json" }
      })
      assert.notStrictEqual(json.headers.get("etag"), etag)
    })
  )

  it.effect("a host's status page is public for public hosts; its admins get more through the API", () =>
    Effect.gen(function* () {
      const w = yield* makeWorld
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE hosts SET ipv6 = 'yes', last_checked_in = now(), crawl_failures = 2,
        disable_reason = 'secret reason' WHERE id = ${w.berlin.id}`
      yield* sql`UPDATE host_category_urls SET tls_expires_at = now() + interval '30 days'
        WHERE host_category_id = ${w.berlin.hostCategoryId}`
      const status = yield* getJson(`/mirrors/hosts/${w.berlin.id}`)
      assert.strictEqual(status.name, w.berlin.name)
      assert.strictEqual(status.ipv6, "yes")
      assert.isNumber(status.certificateExpires)
      assert.lengthOf(status.categories, 1)
      assert.strictEqual(status.categories[0].category, w.category)
      // Its repository's directory and repodata/.
      assert.strictEqual(status.categories[0].upToDate, 2)
      assert.isAbove(status.categories[0].directories, 2)
      assert.notProperty(status, "admin")
      const html = yield* getHtml(`/mirrors/hosts/${w.berlin.id}`)
      assert.include(html, `<h1>${w.berlin.name}</h1>`)
      assert.notInclude(html, "secret reason")
      // Private hosts have no public page; numbers that are no host neither.
      yield* getHtml(`/mirrors/hosts/${w.hidden.id}`, 404)
      yield* getHtml(`/mirrors/hosts/${w.onPrivateSite.id}`, 404)
      yield* getHtml("/mirrors/hosts/99999", 404)
      yield* getHtml("/mirrors/hosts/abc", 404)

      // The API: global admins, and the host's site admins, see the admin part; others do not see the host.
      const full = yield* request("GET", `/api/hosts/${w.berlin.id}/status`)
      assert.strictEqual(full.status, 200, show(full))
      assert.strictEqual(full.body.admin.crawlFailures, 2)
      assert.strictEqual(full.body.admin.disableReason, "secret reason")
      assert.isNumber(full.body.admin.lastCheckedIn)
      assert.strictEqual((yield* request("GET", `/api/hosts/${w.hidden.id}/status`)).status, 200)
      assert.strictEqual((yield* request("GET", `/api/hosts/${w.berlin.id}/status`, { token: null })).status, 401)
      const stranger = yield* makeUser()
      const refused = yield* request("GET", `/api/hosts/${w.berlin.id}/status`, { token: stranger.token })
      assert.include([403, 404], refused.status, show(refused))
    })
  )

  it.effect("propagation: the figures of each repository's runs, in the table, the chart and the JSON", () =>
    Effect.gen(function* () {
      const w = yield* makeWorld
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO propagation_stats (repository_id, run_at, newest_timestamp, same_day, one_day, two_day, older, no_info)
        VALUES (${w.r40a1}, now() - interval '2 hours', 1700000000, 3, 1, 0, 2, 1),
               (${w.r40a1}, now() - interval '1 hour', 1700003600, 5, 0, 1, 0, 1)`
      const overview = yield* getJson("/propagation")
      const mine = overview.repositories.find((r: any) => r.repositoryId === w.r40a1)
      assert.deepInclude(mine, { sameDay: 5, oneDay: 0, twoDay: 1, older: 0, noInfo: 1 })
      const html = yield* getHtml("/propagation")
      assert.include(html, `href="/propagation/${w.r40a1}"`)
      const history = yield* getJson(`/propagation/${w.r40a1}`)
      assert.deepStrictEqual(
        history.runs.map((r: any) => [r.sameDay, r.oneDay, r.twoDay, r.older, r.noInfo]),
        [
          [5, 0, 1, 0, 1],
          [3, 1, 0, 2, 1]
        ]
      )
      const page = yield* getHtml(`/propagation/${w.r40a1}`)
      // The chart's bars carry the same numbers (their titles), oldest run first.
      const bars = [...page.matchAll(/<rect class="s(\d)"[^>]*><title>[^<]*: ([^<]+) (\d+)<\/title>/g)].map(
        (m) => `${m[2]} ${m[3]}`
      )
      assert.deepStrictEqual(bars, [
        "Newest (same day) 3",
        "One day older 1",
        "Older or stale 2",
        "Not known 1",
        "Newest (same day) 5",
        "Two days older 1",
        "Not known 1"
      ])
      yield* getHtml("/propagation/99999", 404)
      yield* getHtml("/propagation/x", 404)
    })
  )

  it.effect("/ leads to every page; the stylesheet is ours and kept by browsers", () =>
    Effect.gen(function* () {
      const home = yield* getHtml("/")
      for (const href of ["/mirrors", "/map", "/propagation", "/statistics", "/docs"]) {
        assert.include(home, `href="${href}"`)
      }
      assert.include(home, '<html lang="en">')
      const css = yield* request("GET", "/static/mirrormanager.css", { token: null })
      assert.strictEqual(css.status, 200)
      assert.match(css.headers.get("content-type") ?? "", /^text\/css/)
      assert.include(css.text, "prefers-color-scheme: dark")
      const cached = yield* request("GET", "/static/mirrormanager.css", {
        token: null,
        headers: { "if-none-match": css.headers.get("etag")! }
      })
      assert.strictEqual(cached.status, 304)
    })
  )
})
