// `/map`: where the public mirrors are. A world map shading each country by its number of public mirrors (the shapes
// built once per process, only the shading per render), a legend, and the same numbers in a table linking to each
// country's mirror list. Embargoed countries are not shown (PublicMirrors.countries leaves them out).
import { type MirrorsByCountry, PublicMirrors } from "@mirrormanager/actors/publiclist"
import { countryName } from "@mirrormanager/domain/registry"
import { Effect } from "effect"
import { HttpRouter } from "effect/http"
import { attr, escapeHtml, formatCount, headerCell, note, page } from "./Html.ts"
import { loadMapShapes, MAP_ATTRIBUTION_HTML, type MapShapes } from "./MapShapes.ts"
import type { PageCache } from "./PageCache.ts"

const TITLE = "Mirrors by country"

/** 1, 2, 3, 5, 10, 20, 30, 50, 100, ...: the lower bounds a step may start at. */
const roundNumber = (x: number): number => {
  let best = 1
  for (let decade = 1; decade <= 1e9; decade *= 10) {
    for (const m of [1, 2, 3, 5]) {
      const candidate = m * decade
      if (Math.abs(Math.log(candidate / x)) < Math.abs(Math.log(best / x))) best = candidate
    }
  }
  return best
}

/**
 * The lower bounds of the shading steps m1..m4 (m0 is no mirror): round numbers spaced evenly on a log scale up to
 * the country with the most mirrors, at least 1, 2, 3, 4.
 */
export const shadingSteps = (most: number): readonly [number, number, number, number] => {
  const steps: Array<number> = [1]
  for (let k = 1; k < 4; k++) {
    steps.push(Math.max(steps[k - 1]! + 1, roundNumber(Math.max(1, most) ** (k / 4))))
  }
  return steps as unknown as readonly [number, number, number, number]
}

/** The step (0-4) of a count. */
export const stepOf = (mirrors: number, steps: ReadonlyArray<number>): number =>
  mirrors <= 0 ? 0 : steps.filter((lower) => mirrors >= lower).length

const mirrorsText = (mirrors: number) =>
  mirrors === 0 ? "no public mirrors" : mirrors === 1 ? "1 mirror" : `${formatCount(mirrors)} mirrors`

const legendOf = (steps: ReadonlyArray<number>): string => {
  const labels = steps.map((lower, i) => {
    const next = steps[i + 1]
    if (next === undefined) return `${formatCount(lower)} or more`
    return next - 1 === lower ? formatCount(lower) : `${formatCount(lower)}–${formatCount(next - 1)}`
  })
  return `<ul class="legend" aria-label="Shading"><li><i class="m0"></i>none</li>${labels
    .map((label, i) => `<li><i class="m${i + 1}"></i>${escapeHtml(label)}</li>`)
    .join("")}</ul>`
}

/** The map as SVG: every country drawn, shaded by its step, each with a title saying its count. */
const mapSvg = (shapes: MapShapes, data: MirrorsByCountry, steps: ReadonlyArray<number>): string => {
  const counts = new Map(data.countries.map((country) => [country.code, country.mirrors]))
  const nameOf = (code: string) => countryName(code) ?? code
  const titled = (code: string) => {
    const mirrors = counts.get(code) ?? 0
    return {
      step: stepOf(mirrors, steps),
      title: `<title>${escapeHtml(`${nameOf(code)}: ${mirrorsText(mirrors)}`)}</title>`
    }
  }
  const paths = [...shapes.paths]
    .map(([code, d]) => {
      const { step, title } = titled(code)
      return `<path class="m${step}" d="${d}">${title}</path>`
    })
    .join("\n")
  // Countries too small to draw at this scale: a point, only where there are mirrors.
  const points = [...shapes.points]
    .filter(([code]) => (counts.get(code) ?? 0) > 0)
    .map(([code, [x, y]]) => {
      const { step, title } = titled(code)
      return `<circle class="m${step}" cx="${x}" cy="${y}" r="4">${title}</circle>`
    })
    .join("\n")
  const countries = data.countries.length
  const label = `Public mirrors by country: ${formatCount(data.total)} in ${formatCount(countries)} ${countries === 1 ? "country" : "countries"}`
  return `<svg role="img" aria-labelledby="map-title" viewBox="0 0 ${shapes.width} ${shapes.height}" width="${shapes.width}" height="${shapes.height}"><title id="map-title">${escapeHtml(label)}</title>
${paths}
${points}
</svg>`
}

const tableOf = (data: MirrorsByCountry): string => {
  const rows =
    data.countries.length === 0
      ? `<tr><td colspan="3">No public mirrors yet.</td></tr>`
      : data.countries
          .map(
            (country) =>
              `<tr><th scope="row"><a href=${attr(`/mirrors?country=${encodeURIComponent(country.code)}`)}>${escapeHtml(country.name)}</a></th><td><code>${escapeHtml(country.code)}</code></td><td class="num">${formatCount(country.mirrors)}</td></tr>`
          )
          .join("\n")
  return `<div class="table-wrap"><table aria-labelledby="by-country">
<thead><tr>${headerCell("Country")}${headerCell("Code")}<th scope="col" class="num">Public mirrors</th></tr></thead>
<tbody>
${rows}
</tbody>
</table></div>`
}

/** The page and its JSON twin from one reading of the numbers. */
export const renderMap = (
  shapes: MapShapes,
  data: MirrorsByCountry,
  dataAt: number
): { readonly html: string; readonly json: unknown } => {
  const most = data.countries.reduce((max, country) => Math.max(max, country.mirrors), 0)
  const steps = shadingSteps(most)
  const countries = data.countries.length
  const body = `<ul class="summary">
<li><strong>${formatCount(data.total)}</strong> public ${data.total === 1 ? "mirror" : "mirrors"}</li>
<li><strong>${formatCount(countries)}</strong> ${countries === 1 ? "country" : "countries"}</li>
</ul>
${note("A mirror counts when it is public and active and up to date on at least one directory. Each country is shaded by the number of its public mirrors; the table below has the same numbers, and each country links to its mirror list.")}
<figure class="map">
${mapSvg(shapes, data, steps)}
<figcaption>${legendOf(steps)}<p>${MAP_ATTRIBUTION_HTML}</p></figcaption>
</figure>
<h2 id="by-country">Public mirrors per country</h2>
${tableOf(data)}
${data.embargoedSkipped > 0 ? note("Countries under embargo are not shown on this page.") : ""}`
  return {
    html: page({ title: TITLE, section: "/map", dataAt, body }),
    json: {
      countries: data.countries.map(({ code, name, mirrors }) => ({ code, name, mirrors })),
      total: data.total,
      ...(data.embargoedSkipped > 0 ? { embargoedSkipped: data.embargoedSkipped } : {})
    }
  }
}

export const mapRoute = (pages: PageCache) =>
  HttpRouter.add(
    "GET",
    "/map",
    pages.serve(
      { key: "/map" },
      Effect.gen(function* () {
        const data = yield* (yield* PublicMirrors).countries()
        const shapes = yield* Effect.promise(loadMapShapes)
        return renderMap(shapes, data, Math.floor(Date.now() / 1000))
      })
    )
  )
