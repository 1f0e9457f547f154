// Propagation (`/propagation[/{repositoryId}]`, docs/pages.md#propagation): how many public mirrors carry a
// repository's newest metadata, one day older, two days, older, or are not known, as the crawler last saw them; per
// repository over the last week. Stacked SVG bars with their numbers beside them; the JSON twin has the same numbers.
import { Propagation } from "@mirrormanager/actors/crawler"
import type { PropagationStat } from "@mirrormanager/domain/crawler"
import { RepositoryId } from "@mirrormanager/domain/registry"
import { Effect, Layer, Schema } from "effect"
import { HttpRouter } from "effect/http"
import { stackedChart } from "./Charts.ts"
import { attr, escapeHtml, formatCount, formatPercent, formatTime, note, page } from "./Html.ts"
import { notFoundPage } from "./NotFoundPage.ts"
import type { PageCache } from "./PageCache.ts"

export const PROPAGATION_SERIES = [
  { key: "sameDay", label: "Newest (same day)" },
  { key: "oneDay", label: "One day older" },
  { key: "twoDay", label: "Two days older" },
  { key: "older", label: "Older or stale" },
  { key: "noInfo", label: "Not known" }
] as const

const valuesOf = (stat: PropagationStat) => PROPAGATION_SERIES.map(({ key }) => stat[key])
const totalOf = (stat: PropagationStat) => valuesOf(stat).reduce((a, b) => a + b, 0)

/** One run as a thin bar of its shares, for a table row (its numbers are in the row's cells). */
const shareBar = (stat: PropagationStat) => {
  const total = totalOf(stat)
  let x = 0
  const parts = valuesOf(stat)
    .map((value, i) => {
      if (value === 0 || total === 0) return ""
      const width = (200 * value) / total
      const rect = `<rect class="s${i}" x="${x.toFixed(1)}" y="0" width="${width.toFixed(1)}" height="14"/>`
      x += width
      return rect
    })
    .join("")
  return `<svg viewBox="0 0 200 14" width="200" height="14" aria-hidden="true">${parts === "" ? '<rect class="s4" x="0" y="0" width="200" height="14"/>' : parts}</svg>`
}

const legend = `<ul class="legend">${PROPAGATION_SERIES.map((s, i) => `<li><i class="s${i}" aria-hidden="true"></i>${escapeHtml(s.label)}</li>`).join("")}</ul>`

const numberCells = (stat: PropagationStat) =>
  valuesOf(stat)
    .map((value) => `<td class="num">${formatCount(value)}</td>`)
    .join("")

const seriesHeader = PROPAGATION_SERIES.map((s) => `<th scope="col" class="num">${escapeHtml(s.label)}</th>`).join("")

const renderOverview = (stats: ReadonlyArray<PropagationStat>) => {
  const now = Math.floor(Date.now() / 1000)
  const dataAt = stats.reduce((newest, s) => Math.max(newest, s.runAt), 0) || now
  const rows = stats
    .map(
      (s) =>
        `<tr><th scope="row"><a href=${attr(`/propagation/${s.repositoryId}`)}>${escapeHtml(s.repository)}</a></th><td>${escapeHtml(s.arch)}</td><td>${escapeHtml(s.category)}</td><td>${shareBar(s)}</td>${numberCells(s)}<td class="num">${formatPercent(s.sameDay, totalOf(s))}</td><td>${formatTime(s.runAt)}</td></tr>`
    )
    .join("")
  const body =
    stats.length === 0
      ? `<p>No propagation figures yet: they are recorded after each crawl run, for repositories with a <code>repodata/repomd.xml</code>.</p>`
      : `${legend}<div class="table-wrap"><table><thead><tr><th scope="col">Repository</th><th scope="col">Arch</th><th scope="col">Category</th><th scope="col">Mirrors</th>${seriesHeader}<th scope="col" class="num">Current</th><th scope="col">Seen</th></tr></thead><tbody>${rows}</tbody></table></div>
${note("Per repository, the active public mirrors of its category by the age of the <code>repomd.xml</code> they carry against the newest one, as the crawler found them on its last run. Choose a repository for its last seven days.")}`
  return {
    html: page({ title: "Propagation", section: "/propagation", dataAt, body }),
    json: { series: PROPAGATION_SERIES.map((s) => s.key), repositories: stats }
  }
}

/** At most this many runs drawn (evenly picked, the newest always); the table lists them all. */
const MAX_COLUMNS = 84

const renderHistory = (runs: ReadonlyArray<PropagationStat>) => {
  const newest = runs[0]!
  const oldestFirst = [...runs].reverse()
  const step = Math.max(1, Math.ceil(oldestFirst.length / MAX_COLUMNS))
  const drawn = oldestFirst.filter((_, i) => (oldestFirst.length - 1 - i) % step === 0)
  const chart = stackedChart(
    `Mirrors of ${newest.repository} ${newest.arch} by the age of their metadata, per crawl run`,
    PROPAGATION_SERIES,
    drawn.map((run) => ({
      label: new Date(run.runAt * 1000).toISOString().slice(5, 10),
      values: valuesOf(run)
    }))
  )
  const rows = runs
    .map(
      (run) =>
        `<tr><th scope="row">${formatTime(run.runAt)}</th>${numberCells(run)}<td class="num">${formatCount(totalOf(run))}</td><td>${formatTime(run.newestTimestamp)}</td></tr>`
    )
    .join("")
  const body = `<p>Category ${escapeHtml(newest.category)}. The newest <code>repomd.xml</code> is of ${formatTime(newest.newestTimestamp)}.</p>
${chart}
<h2 id="runs">Runs</h2>
<div class="table-wrap"><table><thead><tr><th scope="col">Run</th>${seriesHeader}<th scope="col" class="num">Mirrors</th><th scope="col">Newest metadata</th></tr></thead><tbody>${rows}</tbody></table></div>
${note("Figures are kept for seven days.")}`
  return {
    html: page({
      title: `Propagation of ${newest.repository} ${newest.arch}`,
      section: "/propagation",
      dataAt: newest.runAt,
      trail: [
        ["Propagation", "/propagation"],
        [`${newest.repository} ${newest.arch}`, undefined]
      ],
      body
    }),
    json: { series: PROPAGATION_SERIES.map((s) => s.key), repositoryId: newest.repositoryId, runs }
  }
}

const decodeRepositoryId = Schema.decodeUnknownOption(RepositoryId)

export const propagationRoutes = (pages: PageCache) =>
  Layer.mergeAll(
    HttpRouter.add(
      "GET",
      "/propagation",
      Effect.gen(function* () {
        const propagation = yield* Propagation
        return yield* pages.serve({ key: "/propagation" }, Effect.map(propagation.published(), renderOverview))
      })
    ),
    HttpRouter.add(
      "GET",
      "/propagation/:repositoryId",
      Effect.gen(function* () {
        const { repositoryId } = yield* HttpRouter.params
        const id = /^[0-9]{1,10}$/.test(repositoryId ?? "") ? decodeRepositoryId(Number(repositoryId)) : undefined
        if (id === undefined || id._tag === "None")
          return yield* pages.send(notFoundPage("A repository is named by its number.", "/propagation"))
        const propagation = yield* Propagation
        return yield* pages.serve(
          { key: `/propagation/${id.value}` },
          Effect.map(propagation.published(id.value), (runs) =>
            runs.length === 0
              ? notFoundPage(
                  `No propagation figures for repository ${id.value} in the last seven days.`,
                  "/propagation"
                )
              : renderHistory(runs)
          )
        )
      })
    )
  )
