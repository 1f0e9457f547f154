// The public pages (docs/pages.md) as OpenAPI 3.1 path items: each answers an HTML page, or its JSON twin to
// `Accept: application/json`; no authentication. Merged into `/openapi.json` and `/docs` with the front endpoints.

type Json = Record<string, unknown>

const PAGES_TAG = "Public pages"

const pathParameter = (name: string, description: string, schema: Json = { type: "string" }): Json => ({
  name,
  in: "path",
  required: true,
  description,
  schema
})

const queryParameter = (name: string, description: string, schema: Json = { type: "string" }): Json => ({
  name,
  in: "query",
  required: false,
  description,
  schema
})

const KEPT = {
  ETag: { schema: { type: "string" }, description: "Of this page in this format: send it back in `If-None-Match`." },
  "Cache-Control": { schema: { type: "string", const: "public, max-age=60" } },
  Vary: { schema: { type: "string", const: "Accept" } }
}

const PROBLEM: Json = {
  type: "object",
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "number" },
    detail: { type: "string" }
  },
  required: ["type", "title", "status"]
}

const errorAnswer = (description: string): Json => ({
  description,
  content: {
    "text/html; charset=utf-8": { schema: { type: "string", description: "A page saying what is wrong." } },
    "application/problem+json": { schema: PROBLEM }
  }
})

const page = (operationId: string, summary: string, description: string, json: string, parameters: Array<Json>) => ({
  get: {
    tags: [PAGES_TAG],
    operationId,
    summary,
    description,
    parameters,
    responses: {
      "200": {
        description: "The page, or its JSON twin (`Accept: application/json`).",
        headers: KEPT,
        content: {
          "text/html; charset=utf-8": { schema: { type: "string", description: "The page." } },
          "application/json": { schema: { type: "object", description: json } }
        }
      },
      "304": { description: "The page has not changed since the `ETag` given in `If-None-Match`." },
      ...(parameters.length > 0
        ? {
            "400": errorAnswer("A query parameter is wrong (the page says which)."),
            "404": errorAnswer("No such page: an unknown product, version, arch, host, repository, date or kind.")
          }
        : {}),
      "503": errorAnswer("The registry database is not reachable.")
    }
  }
})

const LIST_QUERY = [
  queryParameter("country", "Only the mirrors in this country or serving it (ISO 3166 two-letter code, any case).", {
    type: "string",
    examples: ["DE"]
  }),
  queryParameter("sort", "`country` (default), `site`, `name` or `bandwidth`; `-` first for descending.", {
    type: "string",
    examples: ["-bandwidth"]
  }),
  queryParameter("page", "The page of the list, from 1.", { type: "integer", minimum: 1 }),
  queryParameter("pageSize", "Mirrors per page (default 500, at most 1,000).", {
    type: "integer",
    minimum: 1,
    maximum: 1000
  })
]

const PRODUCT = pathParameter("product", "A product's name, as the index of `/mirrors` lists it.")
const VERSION = pathParameter("version", "One of the product's versions (those displayed).")
const ARCH = pathParameter("arch", "An architecture of the version's repositories.")
const LIST_JSON =
  "`{ scope, catalog, countries, total, page, pageSize, pages, sort, mirrors }`: `mirrors` are `PublicMirror` rows."
const LIST_ABOUT =
  "The public, active mirrors up to date on at least one directory within the scope (the same mirrors the scope's metalinks offer), with an index of what the list can be narrowed to."

const DATE = pathParameter("date", "A day kept (UTC), `YYYY-MM-DD`.", { type: "string", format: "date" })

/** The public pages' path items, keyed as in an OpenAPI document. */
export const pagePaths: Record<string, Json> = {
  "/mirrors": page("pages.mirrors", "The public mirror list", LIST_ABOUT, LIST_JSON, LIST_QUERY),
  "/mirrors/{product}": page("pages.productMirrors", "A product's public mirrors", LIST_ABOUT, LIST_JSON, [
    PRODUCT,
    ...LIST_QUERY
  ]),
  "/mirrors/{product}/{version}": page("pages.versionMirrors", "A version's public mirrors", LIST_ABOUT, LIST_JSON, [
    PRODUCT,
    VERSION,
    ...LIST_QUERY
  ]),
  "/mirrors/{product}/{version}/{arch}": page(
    "pages.archMirrors",
    "A version and architecture's public mirrors",
    LIST_ABOUT,
    LIST_JSON,
    [PRODUCT, VERSION, ARCH, ...LIST_QUERY]
  ),
  "/mirrors/hosts/{id}": page(
    "pages.hostStatus",
    "A public host's status",
    "Per public category, the directories it is up to date on; its last crawl, address families and certificate expiry. Private hosts have no page. Its admins see more at `GET /api/hosts/{hostId}/status`.",
    "A `HostStatus` without its `admin` part.",
    [pathParameter("id", "The host's number.", { type: "integer", minimum: 1 })]
  ),
  "/propagation": page(
    "pages.propagation",
    "How far the mirrors are behind, per repository",
    "Per repository, the active public mirrors of its category by the age of the `repomd.xml` they carry, as the last crawl run found them.",
    "`{ series, repositories }`: `repositories` are `PropagationStat` rows, each repository's newest.",
    []
  ),
  "/propagation/{repositoryId}": page(
    "pages.repositoryPropagation",
    "A repository's propagation over the last seven days",
    "Every crawl run of the last seven days, as stacked columns and a table.",
    "`{ series, repositoryId, runs }`: `runs` are `PropagationStat` rows, newest first.",
    [pathParameter("repositoryId", "The repository's number.", { type: "integer", minimum: 1 })]
  ),
  "/statistics": page(
    "pages.statistics",
    "Access statistics: the days kept",
    "The `/mirrorlist` and `/metalink` requests of each day kept, summed over the nodes, and the newest day's summary.",
    "The days kept with their totals, and the newest day's figures.",
    []
  ),
  "/statistics/{date}": page(
    "pages.statisticsDay",
    "Access statistics of a day",
    "A day's requests by country, arch, repository and countme bucket, with percentages (embargoed countries in one bucket).",
    "The day's total and, per kind, its rows (key, requests, percent).",
    [DATE]
  ),
  "/statistics/{date}/{kind}": page(
    "pages.statisticsKind",
    "Access statistics of a day, one kind in full",
    "Every row of one kind of a day.",
    "The day, the kind, its total and every row (key, requests, percent).",
    [
      DATE,
      pathParameter("kind", "What the requests are counted by.", {
        type: "string",
        enum: ["countries", "arches", "repositories", "countme"]
      })
    ]
  ),
  "/map": page(
    "pages.map",
    "A map of the public mirrors",
    "A world map shaded by the number of public mirrors per country (embargoed countries left out), and the table of those countries.",
    "`{ countries: [{ code, name, mirrors }], total, embargoedSkipped? }`.",
    []
  )
}

export const pagesTag: Json = {
  name: PAGES_TAG,
  description:
    "What anyone can look at: HTML pages, each also answering its data as JSON to `Accept: application/json`. Rendered at most once a minute and sent with an `ETag`. No authentication."
}
