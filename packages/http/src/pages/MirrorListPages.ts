// The public mirror list (SPEC 9, docs/pages.md#the-mirror-list): `/mirrors[/{product}[/{version}[/{arch}]]]` with
// `?country=CC&sort=…&page=…&pageSize=…`. An index of what the list can be narrowed to, a country filter that works
// without JavaScript (a form and links), sortable columns (links), and the table: hosts up to date within the scope.
import { PublicMirrors, type UnknownScope } from "@mirrormanager/actors/publiclist"
import { Redirector } from "@mirrormanager/actors/redirector"
import type { MirrorCatalog, PublicMirror } from "@mirrormanager/domain/publiclist"
import { countryName } from "@mirrormanager/domain/registry"
import { Effect, Layer, Option } from "effect"
import { HttpRouter, HttpServerRequest } from "effect/http"
import { attr, escapeHtml, formatCount, headerCell, note, page, queryString } from "./Html.ts"
import { indexVersion } from "./IndexVersion.ts"
import { notFoundPage } from "./NotFoundPage.ts"
import type { PageCache, PageContent } from "./PageCache.ts"

const SORTS = ["country", "site", "name", "bandwidth"] as const
type SortKey = (typeof SORTS)[number]
const SORT_LABELS: Record<SortKey, string> = { country: "Country", site: "Site", name: "Host", bandwidth: "Bandwidth" }

export const DEFAULT_PAGE_SIZE = 500
export const MAX_PAGE_SIZE = 1000

interface ListQuery {
  readonly country: string | undefined
  readonly sort: SortKey
  readonly descending: boolean
  readonly page: number
  readonly pageSize: number
}

/** The query's parameters that change the list, checked; a bad one is said in words. */
const parseQuery = (params: URLSearchParams): ListQuery | string => {
  const country = params.get("country")?.trim().toUpperCase() || undefined
  if (country !== undefined && (!/^[A-Z]{2}$/.test(country) || countryName(country) === undefined))
    return `country must be a two-letter country code (ISO 3166-1 alpha-2), not "${country.slice(0, 40)}"`
  const sortText = params.get("sort") ?? "country"
  const descending = sortText.startsWith("-")
  const sort = (descending ? sortText.slice(1) : sortText) as SortKey
  if (!SORTS.includes(sort)) return `sort must be one of ${SORTS.join(", ")} (with "-" first for descending)`
  const number = (name: string, fallback: number, max: number) => {
    const text = params.get(name)
    if (text === null || text === "") return fallback
    const value = Number(text)
    return Number.isInteger(value) && value >= 1 && value <= max ? value : undefined
  }
  const pageNumber = number("page", 1, 1_000_000)
  if (pageNumber === undefined) return "page must be a whole number from 1"
  const pageSize = number("pageSize", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
  if (pageSize === undefined) return `pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}`
  return { country, sort, descending, page: pageNumber, pageSize }
}

const compare = (sort: SortKey) => (a: PublicMirror, b: PublicMirror) => {
  switch (sort) {
    case "bandwidth":
      return a.bandwidth - b.bandwidth || a.name.localeCompare(b.name)
    case "site":
      return a.site.localeCompare(b.site) || a.name.localeCompare(b.name)
    case "name":
      return a.name.localeCompare(b.name) || a.id - b.id
    default:
      return a.country.localeCompare(b.country) || a.name.localeCompare(b.name)
  }
}

const listPath = (scope: ReadonlyArray<string>) =>
  ["/mirrors", ...scope.map((segment) => encodeURIComponent(segment))].join("/")

const familyText = (mirror: PublicMirror) =>
  [mirror.ipv4 === "yes" ? "IPv4" : undefined, mirror.ipv6 === "yes" ? "IPv6" : undefined]
    .filter((f) => f !== undefined)
    .join(" · ") || "unknown"

const countryCell = (code: string) => {
  const name = countryName(code) ?? code
  return `<abbr title=${attr(name)}>${escapeHtml(code)}</abbr>`
}

const mirrorRow = (mirror: PublicMirror, filterHref: (country: string) => string) => {
  const site =
    mirror.siteUrl === null || !/^https?:\/\//i.test(mirror.siteUrl)
      ? escapeHtml(mirror.site)
      : `<a href=${attr(mirror.siteUrl)} rel="nofollow noopener">${escapeHtml(mirror.site)}</a>`
  const content = mirror.categories
    .map((category) => {
      const urls = (["https", "http", "ftp", "rsync"] as const)
        .flatMap((protocol) =>
          category.urls[protocol].map(
            (url) =>
              `<li><span class="tag">${protocol}</span> ${protocol === "rsync" ? `<code>${escapeHtml(url)}</code>` : `<a href=${attr(url)} rel="nofollow noopener">${escapeHtml(url)}</a>`}</li>`
          )
        )
        .join("")
      const marker = category.upToDate
        ? '<span class="ok" title="up to date">✓ up to date</span>'
        : '<span class="stale" title="not up to date in this scope">not current</span>'
      return `<div class="category"><strong>${escapeHtml(category.category)}</strong> ${marker}${urls === "" ? "" : `<ul class="urls">${urls}</ul>`}</div>`
    })
    .join("")
  return `<tr>
<td><a href=${attr(filterHref(mirror.country))} title=${attr(`Only ${countryName(mirror.country) ?? mirror.country}`)}>${countryCell(mirror.country)}</a></td>
<td>${site}</td>
<td><a href=${attr(`/mirrors/hosts/${mirror.id}`)}>${escapeHtml(mirror.name)}</a>${mirror.comment === null || mirror.comment === "" ? "" : `<p class="comment">${escapeHtml(mirror.comment)}</p>`}</td>
<td class="num">${formatCount(mirror.bandwidth)} Mbit/s</td>
<td>${mirror.internet2 ? "yes" : "no"}</td>
<td>${familyText(mirror)}</td>
<td class="content">${content}</td>
</tr>`
}

/** What the list can be narrowed to from here: products, a product's versions, a version's arches. */
const choices = (catalog: MirrorCatalog, scope: ReadonlyArray<string>, query: string) => {
  const [product, version, arch] = scope
  const chip = (label: string, href: string, current: boolean) =>
    current
      ? `<li><span aria-current="true">${escapeHtml(label)}</span></li>`
      : `<li><a href=${attr(href)}>${escapeHtml(label)}</a></li>`
  const products = catalog.products
    .map((p) => chip(p.name, `${listPath([p.name])}${query}`, p.name === product))
    .join("")
  let html = `<h2 id="products">Products</h2><ul class="choices">${chip("All", `/mirrors${query}`, product === undefined)}${products}</ul>`
  const chosen = catalog.products.find((p) => p.name === product)
  if (chosen !== undefined && chosen.versions.length > 0) {
    const versions = chosen.versions
      .map((v) =>
        chip(
          `${v.displayName ?? v.name}${v.isTest ? " (test)" : ""}`,
          `${listPath([chosen.name, v.name])}${query}`,
          v.name === version
        )
      )
      .join("")
    html += `<h2 id="versions">Versions of ${escapeHtml(chosen.name)}</h2><ul class="choices">${chip("All", `${listPath([chosen.name])}${query}`, version === undefined)}${versions}</ul>`
    const v = chosen.versions.find((x) => x.name === version)
    if (v !== undefined) {
      const arches = v.arches.map((a) => chip(a, `${listPath([chosen.name, v.name, a])}${query}`, a === arch)).join("")
      html += `<h2 id="arches">Architectures</h2><ul class="choices">${chip("All", `${listPath([chosen.name, v.name])}${query}`, arch === undefined)}${arches}</ul>`
    }
  }
  return html
}

const render = (
  publicMirrors: PublicMirrors["Service"],
  scope: ReadonlyArray<string>,
  query: ListQuery
): Effect.Effect<PageContent, unknown> =>
  Effect.gen(function* () {
    const [product, version, arch] = scope
    const [catalog, result] = yield* Effect.all(
      [publicMirrors.catalog(), publicMirrors.list({ product, version, arch, country: query.country })],
      { concurrency: 2 }
    )
    if ("_tag" in result) return unknownScope(result)
    const sorted = [...result.mirrors].sort(compare(query.sort))
    if (query.descending) sorted.reverse()
    const pages = Math.max(1, Math.ceil(sorted.length / query.pageSize))
    const shown = sorted.slice((query.page - 1) * query.pageSize, query.page * query.pageSize)
    const base = listPath(scope)
    const keep = (change: Partial<Record<"country" | "sort" | "page", string | number | undefined>>) =>
      queryString({
        country: query.country,
        sort: query.sort === "country" && !query.descending ? undefined : `${query.descending ? "-" : ""}${query.sort}`,
        pageSize: query.pageSize === DEFAULT_PAGE_SIZE ? undefined : query.pageSize,
        ...change
      })
    const filterHref = (country: string) => `${base}${keep({ country, page: undefined })}`
    const scopeText = scope.length === 0 ? "all products" : scope.join(" ")
    const title = scope.length === 0 ? "Public mirrors" : `Public mirrors of ${scope.join(" ")}`
    const countryOptions = result.countries
      .map(
        ({ country, mirrors }) =>
          `<option value=${attr(country)}${country === query.country ? " selected" : ""}>${escapeHtml(countryName(country) ?? country)} (${formatCount(mirrors)})</option>`
      )
      .join("")
    const filterForm = `<form class="filter" method="get" action=${attr(base)}>
<label for="country">Country<select id="country" name="country"><option value="">All countries</option>${countryOptions}</select></label>
${query.sort === "country" && !query.descending ? "" : `<input type="hidden" name="sort" value=${attr(`${query.descending ? "-" : ""}${query.sort}`)}>`}
<button type="submit">Show</button>${query.country === undefined ? "" : ` <a href=${attr(`${base}${keep({ country: undefined, page: undefined })}`)}>All countries</a>`}
</form>`
    const header = SORTS.map((key) => {
      const current = query.sort === key ? (query.descending ? "descending" : "ascending") : undefined
      const next = current === "ascending" ? `-${key}` : key
      return headerCell(SORT_LABELS[key], {
        href: `${base}${keep({ sort: next === "country" ? undefined : next, page: undefined })}`,
        current
      })
    })
    const table =
      shown.length === 0
        ? `<p>No public mirror is up to date on ${escapeHtml(scopeText)}${query.country === undefined ? "" : ` in ${escapeHtml(countryName(query.country) ?? query.country)}`} yet.</p>`
        : `<div class="table-wrap"><table class="mirrors">
<caption class="note">${formatCount(sorted.length)} public mirrors up to date on ${escapeHtml(scopeText)}${query.country === undefined ? "" : ` serving ${escapeHtml(countryName(query.country) ?? query.country)}`}</caption>
<thead><tr>${header[0]}${header[1]}${header[2]}${header[3]}<th scope="col">R&amp;E</th><th scope="col">Addresses</th><th scope="col">Content</th></tr></thead>
<tbody>${shown.map((mirror) => mirrorRow(mirror, filterHref)).join("")}</tbody></table></div>`
    const pager =
      pages <= 1
        ? ""
        : `<nav aria-label="Pages"><ul class="choices">${Array.from({ length: pages }, (_, i) => i + 1)
            .map((n) =>
              n === query.page
                ? `<li><span aria-current="page">${n}</span></li>`
                : `<li><a href=${attr(`${base}${keep({ page: n === 1 ? undefined : n })}`)}>${n}</a></li>`
            )
            .join("")}</ul></nav>`
    const trail: Array<readonly [string, string | undefined]> = [["Mirrors", "/mirrors"]]
    scope.forEach((segment, i) => {
      trail.push([segment, i === scope.length - 1 ? undefined : listPath(scope.slice(0, i + 1))])
    })
    if (scope.length === 0) trail.splice(0, 1, ["Mirrors", undefined])
    const body = [
      choices(catalog, scope, query.country === undefined ? "" : queryString({ country: query.country })),
      `<h2 id="list">Mirrors</h2>`,
      `<ul class="summary"><li><strong>${formatCount(sorted.length)}</strong>mirrors</li><li><strong>${formatCount(result.countries.length)}</strong>countries</li></ul>`,
      filterForm,
      table,
      pager,
      note(
        "A mirror is listed when it is public, active and up to date on at least one directory of what is shown: the same mirrors the metalinks of this scope offer. ✓ marks the content a mirror is up to date on."
      )
    ].join("\n")
    return {
      html: page({ title, section: "/mirrors", dataAt: Math.floor(Date.now() / 1000), trail, body }),
      json: {
        scope: result.scope,
        catalog,
        countries: result.countries,
        total: sorted.length,
        page: query.page,
        pageSize: query.pageSize,
        pages,
        sort: `${query.descending ? "-" : ""}${query.sort}`,
        mirrors: shown
      }
    }
  })

const unknownScope = (scope: UnknownScope): PageContent =>
  notFoundPage(`No public ${scope.what} is named "${scope.name.slice(0, 80)}".`, "/mirrors")

export const mirrorListRoutes = (pages: PageCache) => {
  const serve = Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const params = yield* HttpRouter.params
    const scope: Array<string> = []
    for (const name of ["product", "version", "arch"]) {
      const value = params[name]
      if (value === undefined) break
      let decoded: string
      try {
        decoded = decodeURIComponent(value)
      } catch {
        return yield* pages.send(notFoundPage("That address is not a mirror list.", "/mirrors"))
      }
      scope.push(decoded)
    }
    const url = new URL(request.url, "http://localhost")
    const query = parseQuery(url.searchParams)
    if (typeof query === "string") {
      return yield* pages.send(notFoundPage(query, "/mirrors", 400))
    }
    const publicMirrors = yield* PublicMirrors
    // On a node with an index, the list is kept while the index stays the same (a test node has none).
    const redirector = yield* Effect.serviceOption(Redirector)
    const version = Option.isSome(redirector) ? indexVersion(redirector.value) : undefined
    const key = `${listPath(scope)}${queryString({
      country: query.country,
      sort: `${query.descending ? "-" : ""}${query.sort}`,
      page: query.page,
      pageSize: query.pageSize
    })}`
    return yield* pages.serve(version === undefined ? { key } : { key, version }, render(publicMirrors, scope, query))
  })
  return Layer.mergeAll(
    HttpRouter.add("GET", "/mirrors", serve),
    HttpRouter.add("GET", "/mirrors/:product", serve),
    HttpRouter.add("GET", "/mirrors/:product/:version", serve),
    HttpRouter.add("GET", "/mirrors/:product/:version/:arch", serve)
  )
}
