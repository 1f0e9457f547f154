// Access statistics (`/statistics[/{date}[/{kind}]]`, docs/statistics.md#the-pages): mirrorlist and metalink
// requests per UTC day by country, arch, repository and countme bucket, as the nodes added them to the database;
// tables with each key's share of the day, and SVG bars of the same numbers. The JSON twin has the same figures.
import {
  ACCESS_KINDS,
  type AccessCount,
  type AccessDay,
  type AccessKind,
  AccessStatistics,
  EMBARGOED_KEY,
  isAccessKind,
  MAX_KEYS_PER_KIND,
  NO_COUNTME,
  OTHER_KEY,
  UNKNOWN_COUNTRY
} from "@mirrormanager/actors/statistics"
import { countryName } from "@mirrormanager/domain/registry"
import { Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { barChart } from "./Charts.ts"
import { attr, escapeHtml, formatCount, formatPercent, note, page } from "./Html.ts"
import { notFoundPage } from "./NotFoundPage.ts"
import type { PageCache } from "./PageCache.ts"

const SECTION = "/statistics"

/** Keys charted on a day's page (and listed there; the kind's page lists them all). */
const TOP = 20
/** Keys charted on a kind's page. */
const CHARTED = 30
/** Keys listed per kind in the overview's summary of the newest day. */
const SUMMARY = 5

const KIND_TITLES: Record<AccessKind, { readonly title: string; readonly column: string }> = {
  countries: { title: "Countries", column: "Country" },
  arches: { title: "Architectures", column: "Architecture" },
  repositories: { title: "Repositories", column: "Repository" },
  countme: { title: "countme buckets", column: "Bucket" }
}

/** libdnf's countme values: how long the system has been counting itself (its age), SPEC §3.6. */
const COUNTME_LABELS: Record<string, string> = {
  "1": "1: first week",
  "2": "2: first month",
  "3": "3: first six months",
  "4": "4: older than six months",
  [NO_COUNTME]: "none: no countme on the request"
}

/** What a key is called on the pages. */
export const keyLabel = (kind: AccessKind, key: string): string => {
  if (key === OTHER_KEY) return kind === "countme" ? "Other (not 1 to 4)" : "Other"
  if (kind === "countries") {
    if (key === EMBARGOED_KEY) return "Embargoed countries"
    if (key === UNKNOWN_COUNTRY) return "Unknown"
    const name = countryName(key)
    return name === undefined ? key : `${name} (${key})`
  }
  if (kind === "countme") return COUNTME_LABELS[key] ?? key
  return key
}

interface Row {
  readonly key: string
  readonly label: string
  readonly requests: number
  /** Of the day's requests, rounded to one decimal as the tables show it. */
  readonly percent: number
}

/** countme buckets in the systems' age order; other kinds most requests first (as read). */
const COUNTME_ORDER = ["1", "2", "3", "4", NO_COUNTME, OTHER_KEY]
const inOrder = (kind: AccessKind, counts: ReadonlyArray<AccessCount>) =>
  kind === "countme" ? counts.toSorted((a, b) => COUNTME_ORDER.indexOf(a.key) - COUNTME_ORDER.indexOf(b.key)) : counts

const rowsOf = (kind: AccessKind, counts: ReadonlyArray<AccessCount>, total: number): ReadonlyArray<Row> =>
  inOrder(
    kind,
    counts.filter((count) => count.kind === kind)
  ).map((count) => ({
    key: count.key,
    label: keyLabel(kind, count.key),
    requests: count.requests,
    percent: total === 0 ? 0 : Math.round((1000 * count.requests) / total) / 10
  }))

const sum = (rows: ReadonlyArray<{ readonly requests: number }>) => rows.reduce((total, row) => total + row.requests, 0)

const chart = (title: string, rows: ReadonlyArray<Row>, total: number) =>
  barChart(
    title,
    rows.map((row) => ({
      label: row.label,
      value: row.requests,
      text: `${formatCount(row.requests)} · ${formatPercent(row.requests, total)}`
    }))
  )

const table = (kind: AccessKind, rows: ReadonlyArray<Row>, total: number) => {
  const body = rows
    .map(
      (row) =>
        `<tr><th scope="row">${escapeHtml(row.label)}</th><td class="num">${formatCount(row.requests)}</td><td class="num">${formatPercent(row.requests, total)}</td></tr>`
    )
    .join("")
  return `<div class="table-wrap"><table><thead><tr><th scope="col">${escapeHtml(KIND_TITLES[kind].column)}</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Share of the day</th></tr></thead><tbody>${body}</tbody></table></div>`
}

const dayHref = (day: string) => `/statistics/${day}`
const kindHref = (day: string, kind: AccessKind) => `/statistics/${day}/${kind}`

const ADDED_NOTE = note(
  "Each node counts the mirrorlist and metalink requests it answers for a repository and arch, and adds its counts here every minute: today's figures grow through the day. Days are UTC. Requests from embargoed countries are counted in one bucket, never by country; no client address is kept."
)

/** A UTC day as asked for in a path: YYYY-MM-DD, a real date. */
const parseDay = (text: string | undefined): string | undefined => {
  if (text === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return undefined
  const date = new Date(`${text}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text ? text : undefined
}

const renderOverview = (
  days: ReadonlyArray<AccessDay>,
  newest: ReadonlyArray<AccessCount>,
  addedAt: number | undefined
) => {
  const dataAt = addedAt ?? Math.floor(Date.now() / 1000)
  if (days.length === 0) {
    return {
      html: page({
        title: "Access statistics",
        section: SECTION,
        dataAt,
        body: `<p>No requests have been counted yet.</p>${ADDED_NOTE}`
      }),
      json: { days: [], newest: null }
    }
  }
  const latest = days[0]!
  const summaries = ACCESS_KINDS.map((kind) => {
    const total = sum(newest.filter((c) => c.kind === kind))
    const rows = rowsOf(kind, newest, total)
    return { kind, total, keys: rows.length, top: rows.slice(0, SUMMARY) }
  })
  const dayRows = days
    .map(
      (d) =>
        `<tr><th scope="row"><a href=${attr(dayHref(d.day))}>${escapeHtml(d.day)}</a></th><td class="num">${formatCount(d.requests)}</td></tr>`
    )
    .join("")
  const summaryTables = summaries
    .map(
      // Shares of the kind's own sum, as on the day's page (each counted request is in every kind once).
      ({ kind, total, keys, top }) =>
        `<h3 id=${attr(`newest-${kind}`)}>${escapeHtml(KIND_TITLES[kind].title)}</h3>${table(kind, top, total)}<p><a href=${attr(kindHref(latest.day, kind))}>All ${formatCount(keys)} ${escapeHtml(KIND_TITLES[kind].title.toLowerCase())} of ${escapeHtml(latest.day)}</a></p>`
    )
    .join("")
  const oldestFirst = [...days].reverse()
  const body = `<ul class="summary"><li><strong>${formatCount(latest.requests)}</strong>requests on ${escapeHtml(latest.day)}</li><li><strong>${formatCount(days.length)}</strong>days kept</li><li><strong>${formatCount(sum(days))}</strong>requests in all</li></ul>
${ADDED_NOTE}
<h2 id="days">Days</h2>
${barChart(
  "Requests per day",
  oldestFirst.map((d) => ({ label: d.day, value: d.requests }))
)}
<div class="table-wrap"><table><thead><tr><th scope="col">Day (UTC)</th><th scope="col" class="num">Requests</th></tr></thead><tbody>${dayRows}</tbody></table></div>
<h2 id="newest">The newest day, ${escapeHtml(latest.day)}</h2>
${summaryTables}`
  return {
    html: page({ title: "Access statistics", section: SECTION, dataAt, body }),
    json: {
      days: days.map((d) => ({ day: d.day, requests: d.requests, href: dayHref(d.day) })),
      newest: {
        day: latest.day,
        requests: latest.requests,
        kinds: Object.fromEntries(summaries.map(({ kind, keys, top }) => [kind, { keys, top }]))
      }
    }
  }
}

const renderDay = (day: string, counts: ReadonlyArray<AccessCount>, addedAt: number | undefined) => {
  const dataAt = addedAt ?? Math.floor(Date.now() / 1000)
  const kinds = ACCESS_KINDS.map((kind) => {
    const total = sum(counts.filter((c) => c.kind === kind))
    const rows = rowsOf(kind, counts, total)
    return { kind, total, keys: rows.length, top: rows.slice(0, TOP) }
  })
  const requests = kinds[0]!.total
  const sections = kinds
    .map(({ kind, total, keys, top }) => {
      const title = KIND_TITLES[kind].title
      return `<h2 id=${attr(kind)}>${escapeHtml(title)}</h2>
${chart(`${title} of ${day}${keys > TOP ? `, the ${TOP} with most requests` : ""}`, top, total)}
${table(kind, top, total)}
<p><a href=${attr(kindHref(day, kind))}>${keys > TOP ? `All ${formatCount(keys)} ${escapeHtml(title.toLowerCase())}` : `${escapeHtml(title)} of ${escapeHtml(day)} on a page of their own`}</a></p>`
    })
    .join("\n")
  const contents = `<ul class="choices">${ACCESS_KINDS.map((kind) => `<li><a href=${attr(`#${kind}`)}>${escapeHtml(KIND_TITLES[kind].title)}</a></li>`).join("")}</ul>`
  return {
    html: page({
      title: `Access statistics of ${day}`,
      section: SECTION,
      dataAt,
      trail: [
        ["Access statistics", SECTION],
        [day, undefined]
      ],
      body: `<ul class="summary"><li><strong>${formatCount(requests)}</strong>requests</li></ul>
${ADDED_NOTE}
${contents}
${sections}`
    }),
    json: {
      day,
      requests,
      kinds: Object.fromEntries(
        kinds.map(({ kind, total, keys, top }) => [kind, { requests: total, keys, top, href: kindHref(day, kind) }])
      )
    }
  }
}

const renderKind = (day: string, kind: AccessKind, counts: ReadonlyArray<AccessCount>, addedAt: number | undefined) => {
  const dataAt = addedAt ?? Math.floor(Date.now() / 1000)
  const total = sum(counts)
  const rows = rowsOf(kind, counts, total)
  const title = KIND_TITLES[kind].title
  const kindNote =
    kind === "countries"
      ? note(
          "Countries are the clients' as the node's GeoIP database places them; Unknown: no country for the address. Embargoed countries are one bucket, whichever of them a request came from."
        )
      : kind === "countme"
        ? note(
            "dnf adds <code>countme</code> to one metadata request a week; its value says how long the system has been counting itself. Requests without it are <em>none</em>."
          )
        : note(
            `At most ${formatCount(MAX_KEYS_PER_KIND)} names are kept a day per node; requests for names past that, or for names longer than 128 characters, are counted as Other.`
          )
  return {
    html: page({
      title: `${title} of ${day}`,
      section: SECTION,
      dataAt,
      trail: [
        ["Access statistics", SECTION],
        [day, dayHref(day)],
        [title, undefined]
      ],
      body: `<ul class="summary"><li><strong>${formatCount(total)}</strong>requests</li><li><strong>${formatCount(rows.length)}</strong>${escapeHtml(title.toLowerCase())}</li></ul>
${kindNote}
${ADDED_NOTE}
${chart(`${title} of ${day}${rows.length > CHARTED ? `, the ${CHARTED} with most requests` : ""}`, rows.slice(0, CHARTED), total)}
${table(kind, rows, total)}`
    }),
    json: { day, kind, requests: total, rows }
  }
}

const noDay = (text: string | undefined) =>
  notFoundPage(
    `"${(text ?? "").slice(0, 40)}" is not a day: days are written YYYY-MM-DD (UTC), as listed on the statistics page.`,
    SECTION
  )

const noFigures = (day: string) =>
  notFoundPage(
    `No requests are counted for ${day}: the days kept are listed on the statistics page (today's appear within a minute of the first request).`,
    SECTION
  )

const routes = (pages: PageCache, statistics: AccessStatistics["Service"]) =>
  Layer.mergeAll(
    HttpRouter.add(
      "GET",
      SECTION,
      pages.serve(
        { key: SECTION },
        Effect.gen(function* () {
          const days = yield* statistics.days()
          const newest = days.length === 0 ? [] : yield* statistics.day(days[0]!.day)
          return renderOverview(days, newest, yield* statistics.lastAddedAt())
        })
      )
    ),
    HttpRouter.add(
      "GET",
      "/statistics/:day",
      Effect.gen(function* () {
        const params = yield* HttpRouter.params
        const day = parseDay(params.day)
        if (day === undefined) return yield* pages.send(noDay(params.day))
        return yield* pages.serve(
          { key: dayHref(day) },
          Effect.gen(function* () {
            const counts = yield* statistics.day(day)
            return counts.length === 0 ? noFigures(day) : renderDay(day, counts, yield* statistics.lastAddedAt())
          })
        )
      })
    ),
    HttpRouter.add(
      "GET",
      "/statistics/:day/:kind",
      Effect.gen(function* () {
        const params = yield* HttpRouter.params
        const day = parseDay(params.day)
        if (day === undefined) return yield* pages.send(noDay(params.day))
        const kind = params.kind ?? ""
        if (!isAccessKind(kind)) {
          return yield* pages.send(
            notFoundPage(
              `"${kind.slice(0, 40)}" is not counted: the statistics of a day are by ${ACCESS_KINDS.join(", ")}.`,
              SECTION
            )
          )
        }
        return yield* pages.serve(
          { key: kindHref(day, kind) },
          Effect.gen(function* () {
            const counts = yield* statistics.day(day, kind)
            return counts.length === 0 ? noFigures(day) : renderKind(day, kind, counts, yield* statistics.lastAddedAt())
          })
        )
      })
    )
  )

/** The statistics pages, reading the database through their own AccessStatistics. */
export const statisticsRoutes = (pages: PageCache) =>
  Layer.unwrap(Effect.map(AccessStatistics, (statistics) => routes(pages, statistics))).pipe(
    Layer.provide(AccessStatistics.layer)
  )
