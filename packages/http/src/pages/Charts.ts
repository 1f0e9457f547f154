// Server-rendered SVG charts for the public pages: plain shapes and text, coloured by the stylesheet (light and dark),
// each with a title for screen readers; the numbers are always in a table beside them too.
import { createHash } from "node:crypto"
import { attr, escapeHtml, formatCount } from "./Html.ts"

/** An id for the chart's title element, the same for the same title (a page renders alike every time). */
const idOf = (title: string) => `chart-${createHash("sha1").update(title).digest("hex").slice(0, 10)}`

export interface Bar {
  readonly label: string
  readonly value: number
  /** Written after the bar (e.g. "12,345 · 40.1 %"); the value with separators when absent. */
  readonly text?: string
}

/** Horizontal bars, one a row, longest first as given; scaled to the largest value. */
export const barChart = (title: string, bars: ReadonlyArray<Bar>): string => {
  const id = idOf(title)
  const rowHeight = 22
  const labelWidth = 150
  const barWidth = 420
  const textWidth = 130
  const width = labelWidth + barWidth + textWidth
  const height = Math.max(1, bars.length) * rowHeight + 4
  const max = Math.max(1, ...bars.map((bar) => bar.value))
  const rows = bars
    .map((bar, i) => {
      const y = i * rowHeight + 2
      const w = Math.max(bar.value > 0 ? 1 : 0, Math.round((bar.value / max) * barWidth))
      const label = bar.label.length > 22 ? `${bar.label.slice(0, 21)}…` : bar.label
      return (
        `<text x="${labelWidth - 6}" y="${y + 15}" text-anchor="end">${escapeHtml(label)}</text>` +
        `<rect class="bar" x="${labelWidth}" y="${y + 3}" width="${w}" height="${rowHeight - 6}" rx="2"/>` +
        `<text x="${labelWidth + w + 6}" y="${y + 15}">${escapeHtml(bar.text ?? formatCount(bar.value))}</text>`
      )
    })
    .join("")
  return `<figure><svg role="img" aria-labelledby=${attr(id)} viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title id=${attr(id)}>${escapeHtml(title)}</title>${rows}</svg><figcaption>${escapeHtml(title)}</figcaption></figure>`
}

export interface StackedSeries {
  readonly label: string
}

export interface StackedColumn {
  readonly label: string
  /** One value per series, in the series' order. */
  readonly values: ReadonlyArray<number>
}

/** Vertical stacked columns (e.g. one per run or day), the series bottom up, with a legend. */
export const stackedChart = (
  title: string,
  series: ReadonlyArray<StackedSeries>,
  columns: ReadonlyArray<StackedColumn>
): string => {
  const id = idOf(title)
  const height = 200
  const top = 10
  const bottom = 40
  const left = 44
  const columnWidth = Math.max(8, Math.min(48, Math.floor(640 / Math.max(1, columns.length))))
  const gap = Math.max(2, Math.round(columnWidth / 5))
  const width = left + columns.length * (columnWidth + gap) + 10
  const max = Math.max(1, ...columns.map((column) => column.values.reduce((a, b) => a + b, 0)))
  const scale = (height - top - bottom) / max
  const labelEvery = Math.max(1, Math.ceil(columns.length / 12))
  const bars = columns
    .map((column, i) => {
      const x = left + i * (columnWidth + gap)
      let y = height - bottom
      const parts = column.values
        .map((value, s) => {
          const h = value * scale
          y -= h
          return value <= 0
            ? ""
            : `<rect class="s${s % 5}" x="${x}" y="${y.toFixed(1)}" width="${columnWidth}" height="${h.toFixed(1)}"><title>${escapeHtml(`${column.label}: ${series[s]?.label ?? ""} ${formatCount(value)}`)}</title></rect>`
        })
        .join("")
      const label =
        i % labelEvery === 0
          ? `<text x="${x + columnWidth / 2}" y="${height - bottom + 14}" text-anchor="middle">${escapeHtml(column.label)}</text>`
          : ""
      return parts + label
    })
    .join("")
  const axis =
    `<line class="axis" x1="${left - 4}" y1="${height - bottom}" x2="${width}" y2="${height - bottom}"/>` +
    `<text x="${left - 8}" y="${top + 4}" text-anchor="end">${formatCount(max)}</text>` +
    `<text x="${left - 8}" y="${height - bottom}" text-anchor="end">0</text>`
  const legend = series
    .map((s, i) => `<li><i class="s${i % 5}" aria-hidden="true"></i>${escapeHtml(s.label)}</li>`)
    .join("")
  return `<figure><svg role="img" aria-labelledby=${attr(id)} viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title id=${attr(id)}>${escapeHtml(title)}</title>${axis}${bars}</svg><ul class="legend">${legend}</ul><figcaption>${escapeHtml(title)}</figcaption></figure>`
}
