// The public pages' one stylesheet: ours, small, served by the node itself (no CDN). Light and dark by the reader's
// setting; tables scroll sideways on a phone instead of squeezing their columns.
import { createHash } from "node:crypto"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { STYLESHEET_PATH } from "./Html.ts"

export const STYLESHEET = `:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa;
  --link: #0a58ca; --accent: #1a7f37; --warn: #9a6700; --bad: #cf222e;
  --c0: #1a7f37; --c1: #4ac26b; --c2: #d4a72c; --c3: #cf222e; --c4: #8c959f;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  line-height: 1.5;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9ba5b0; --line: #30363d; --soft: #161b22;
    --link: #6cb6ff; --accent: #3fb950; --warn: #d29922; --bad: #f85149;
    --c0: #3fb950; --c1: #2ea043; --c2: #d29922; --c3: #f85149; --c4: #6e7681;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--link); }
a:focus-visible, button:focus-visible, select:focus-visible { outline: 3px solid var(--link); outline-offset: 2px; }
header.site { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .75rem 1rem;
  border-bottom: 1px solid var(--line); background: var(--soft); }
header.site .brand { font-weight: 700; color: var(--fg); text-decoration: none; font-size: 1.1rem; }
header.site ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
header.site a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 2px; }
main { max-width: 80rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 .5rem; }
footer { max-width: 80rem; margin: 2rem auto 0; padding: 1rem; color: var(--muted); font-size: .875rem;
  border-top: 1px solid var(--line); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
.note { color: var(--muted); font-size: .925rem; }
ul.sections { list-style: none; padding: 0; margin: 1rem 0; display: grid; gap: .75rem;
  grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); }
ul.sections li { border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; background: var(--soft); }
ul.sections h2 { margin: 0 0 .25rem; font-size: 1.15rem; }
ul.sections p { margin: 0; }
.trail ol { display: flex; flex-wrap: wrap; list-style: none; margin: 0; padding: 0; font-size: .925rem; }
.trail li + li::before { content: "/"; padding: 0 .4rem; color: var(--muted); }
.choices { display: flex; flex-wrap: wrap; gap: .4rem; list-style: none; padding: 0; margin: .25rem 0 1rem; }
.choices a, .choices span { display: inline-block; padding: .15rem .6rem; border: 1px solid var(--line);
  border-radius: 999px; text-decoration: none; }
.choices [aria-current] { background: var(--fg); color: var(--bg); border-color: var(--fg); }
form.filter { display: flex; flex-wrap: wrap; align-items: end; gap: .5rem 1rem; margin: 0 0 1rem; }
form.filter label { display: flex; flex-direction: column; font-size: .875rem; color: var(--muted); }
select, input, button { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; padding: .3rem .5rem; }
button { cursor: pointer; background: var(--soft); }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; margin: .5rem 0 1rem; }
table { border-collapse: collapse; width: 100%; font-size: .925rem; }
th, td { text-align: left; vertical-align: top; padding: .45rem .6rem; border-bottom: 1px solid var(--line); }
thead th { background: var(--soft); position: sticky; top: 0; }
/* A row's own header (a country, a day, a repository) stays on one line; the table scrolls instead. */
tbody th { white-space: nowrap; }
tbody tr:last-child > * { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
thead th a { color: inherit; white-space: nowrap; }
caption { text-align: left; padding: .4rem .6rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0 0 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.category + .category { margin-top: .4rem; }
.urls { list-style: none; margin: 0; padding: 0; }
.urls li { overflow-wrap: anywhere; }
td.content { min-width: 18rem; }
p.comment { margin: .25rem 0 0; color: var(--muted); font-size: .875rem; max-width: 22rem; }
.tag { display: inline-block; padding: 0 .4rem; border-radius: 4px; font-size: .8rem; border: 1px solid var(--line);
  color: var(--muted); }
.ok { color: var(--accent); }
.stale { color: var(--warn); }
.bad { color: var(--bad); }
.summary { display: flex; flex-wrap: wrap; gap: .75rem; margin: 0 0 1rem; padding: 0; list-style: none; }
.summary li { border: 1px solid var(--line); border-radius: 8px; padding: .5rem .8rem; background: var(--soft); }
.summary strong { display: block; font-size: 1.3rem; }
figure { margin: .5rem 0 1.5rem; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: .875rem; }
svg text { fill: var(--fg); font-size: 12px; font-family: inherit; }
svg .axis { stroke: var(--line); }
svg .bar { fill: var(--link); }
svg .s0 { fill: var(--c0); } svg .s1 { fill: var(--c1); } svg .s2 { fill: var(--c2); }
svg .s3 { fill: var(--c3); } svg .s4 { fill: var(--c4); }
.legend { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; padding: 0; margin: .25rem 0; font-size: .875rem; }
.legend i { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
.legend .s0 { background: var(--c0); } .legend .s1 { background: var(--c1); } .legend .s2 { background: var(--c2); }
.legend .s3 { background: var(--c3); } .legend .s4 { background: var(--c4); }
.map path { stroke: var(--bg); stroke-width: .5; }
.map circle { stroke: var(--bg); stroke-width: 1; }
/* Light: a country with mirrors stands out from one without by at least 3:1 (WCAG's contrast for graphics). */
.map .m0 { fill: #e4e8ec; } .legend .m0 { background: #e4e8ec; }
.map .m1 { fill: #3a87bf; } .map .m2 { fill: #2166ac; } .map .m3 { fill: #134f8c; } .map .m4 { fill: #08306b; }
.legend .m1 { background: #3a87bf; } .legend .m2 { background: #2166ac; } .legend .m3 { background: #134f8c; }
.legend .m4 { background: #08306b; }
@media (prefers-color-scheme: dark) {
  /* Dark: one mirror stands out from none by about 3:1 too; each step lighter than the last. */
  .map .m0 { fill: #30363d; } .legend .m0 { background: #30363d; }
  .map .m1 { fill: #3f8ad6; } .map .m2 { fill: #7ab3f0; } .map .m3 { fill: #a8cdf7; } .map .m4 { fill: #d6e9ff; }
  .legend .m1 { background: #3f8ad6; } .legend .m2 { background: #7ab3f0; } .legend .m3 { background: #a8cdf7; }
  .legend .m4 { background: #d6e9ff; }
}
@media (max-width: 40rem) {
  header.site { padding: .6rem .75rem; }
  header.site ul { gap: .25rem .8rem; }
  main { padding: .75rem; }
  /* A chart keeps its size (its labels stay readable) and scrolls sideways; the map still shrinks to fit. */
  figure:not(.map) { overflow-x: auto; }
  figure:not(.map) svg { max-width: none; }
  /* Tables of figures keep each cell on one line (no three-line dates) and scroll as a whole. */
  .table-wrap table:not(.mirrors) { width: max-content; min-width: 100%; }
  h1 { font-size: 1.35rem; }
  th, td { padding: .35rem .45rem; }
}
`

const ETAG = `"${createHash("sha256").update(STYLESHEET).digest("base64url").slice(0, 22)}"`

/** The stylesheet, with an ETag: a browser asks again at most once an hour and gets 304 when it has it. */
const stylesheetRoute = HttpRouter.add(
  "GET",
  STYLESHEET_PATH,
  Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
    request.headers["if-none-match"] === ETAG
      ? HttpServerResponse.empty({ status: 304, headers: { etag: ETAG, "cache-control": "public, max-age=3600" } })
      : HttpServerResponse.text(STYLESHEET, {
          contentType: "text/css; charset=utf-8",
          headers: { etag: ETAG, "cache-control": "public, max-age=3600" }
        })
  )
)

// Every browser asks for /favicon.ico on its own: nothing, kept a day, rather than a 404 in each page's console.
const faviconRoute = HttpRouter.add(
  "GET",
  "/favicon.ico",
  HttpServerResponse.empty({ status: 204, headers: { "cache-control": "public, max-age=86400" } })
)

/** The pages' static routes: the stylesheet and the favicon browsers ask for. */
export const StylesheetRoute = Layer.mergeAll(stylesheetRoute, faviconRoute)
