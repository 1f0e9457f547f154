// The public pages' HTML: escaping, the page shell (header, navigation, main, data age) and small shared pieces. Every
// value that came from the registry or a request goes through `escapeHtml` (or `attr`) before it is written.

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }

export const escapeHtml = (value: string | number): string => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!)

/** An attribute value, quoted. */
export const attr = (value: string | number): string => `"${escapeHtml(value)}"`

/** Numbers with thousands separators, the same on every page. */
export const formatCount = (value: number): string => value.toLocaleString("en-US")

/** A share as a percentage with one decimal ("0.0 %" for nothing of nothing). */
export const formatPercent = (part: number, whole: number): string =>
  `${whole === 0 ? "0.0" : ((100 * part) / whole).toFixed(1)} %`

/** Epoch seconds as `2026-12-07 12:34 UTC`. */
export const formatTime = (epochSeconds: number): string =>
  `${new Date(epochSeconds * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`

/** A query string from the non-empty parameters, `?a=1&b=2`, or "". */
export const queryString = (params: Record<string, string | number | undefined>): string => {
  const parts = Object.entries(params)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined && entry[1] !== "")
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
  return parts.length === 0 ? "" : `?${parts.join("&")}`
}

export const NAVIGATION: ReadonlyArray<{ readonly href: string; readonly label: string }> = [
  { href: "/mirrors", label: "Mirrors" },
  { href: "/map", label: "Map" },
  { href: "/propagation", label: "Propagation" },
  { href: "/statistics", label: "Statistics" },
  { href: "/docs", label: "API" }
]

export interface PageShell {
  readonly title: string
  /** The navigation entry this page belongs to (its href), marked as the current one. */
  readonly section?: string
  /** When the data shown was read (epoch seconds): shown as the page's data age. None on an error page. */
  readonly dataAt?: number
  /** Trails above the heading: [label, href] pairs, the last one the page itself (no link). */
  readonly trail?: ReadonlyArray<readonly [string, string | undefined]>
  readonly body: string
}

/** A whole page: one stylesheet of our own, no script needed to read or use it. */
export const page = (shell: PageShell): string => {
  const nav = NAVIGATION.map(
    ({ href, label }) =>
      `<li><a href=${attr(href)}${href === shell.section ? ' aria-current="page"' : ""}>${escapeHtml(label)}</a></li>`
  ).join("")
  const trail =
    shell.trail === undefined || shell.trail.length < 2
      ? ""
      : `<nav class="trail" aria-label="Breadcrumb"><ol>${shell.trail
          .map(([label, href]) =>
            href === undefined
              ? `<li aria-current="page">${escapeHtml(label)}</li>`
              : `<li><a href=${attr(href)}>${escapeHtml(label)}</a></li>`
          )
          .join("")}</ol></nav>`
  const footer =
    shell.dataAt === undefined
      ? ""
      : `<footer><p>Data as of <time datetime="${new Date(shell.dataAt * 1000).toISOString()}">${formatTime(shell.dataAt)}</time>. The same page as JSON: ask with <code>Accept: application/json</code>.</p></footer>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(shell.title)} · MirrorManager</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<header class="site"><a class="brand" href="/">MirrorManager</a><nav aria-label="Sections"><ul>${nav}</ul></nav></header>
<main>
${trail}<h1>${escapeHtml(shell.title)}</h1>
${shell.body}
</main>
${footer}
</body>
</html>
`
}

export const STYLESHEET_PATH = "/static/mirrormanager.css"

/** A table's header cell with scope, optionally a sort link (`aria-sort` when it is the current order). */
export const headerCell = (
  label: string,
  sort?: { readonly href: string; readonly current: "ascending" | "descending" | undefined }
): string =>
  sort === undefined
    ? `<th scope="col">${escapeHtml(label)}</th>`
    : `<th scope="col"${sort.current === undefined ? "" : ` aria-sort="${sort.current}"`}><a href=${attr(sort.href)}>${escapeHtml(label)}${sort.current === "ascending" ? " ▲" : sort.current === "descending" ? " ▼" : ""}</a></th>`

/** A small explanatory paragraph. */
export const note = (html: string): string => `<p class="note">${html}</p>`
