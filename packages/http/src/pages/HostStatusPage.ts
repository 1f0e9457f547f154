// A host's public status page (`/mirrors/hosts/{id}`, docs/pages.md#host-status): per category how much of it the host
// is up to date on, its last crawl, address families and certificate expiry. A private host has no page. Its admins
// get more at `GET /api/hosts/{id}/status`.
import { HostStatuses } from "@mirrormanager/actors/publiclist"
import type { HostStatus } from "@mirrormanager/domain/publiclist"
import { countryName, HostId } from "@mirrormanager/domain/registry"
import { Effect, Schema } from "effect"
import { HttpRouter } from "effect/http"
import { escapeHtml, formatCount, formatPercent, formatTime, note, page } from "./Html.ts"
import { notFoundPage } from "./NotFoundPage.ts"
import type { PageCache } from "./PageCache.ts"

const familyText = (value: "yes" | "no" | "unknown") =>
  value === "yes" ? '<span class="ok">yes</span>' : value === "no" ? "no" : '<span class="note">not known yet</span>'

const certificateText = (expires: number | null, now: number) => {
  if (expires === null) return '<span class="note">not known (no HTTPS URL crawled yet)</span>'
  const days = Math.floor((expires - now) / 86_400)
  const text = `${formatTime(expires)} (${days >= 0 ? `in ${days} days` : `${-days} days ago`})`
  return days < 0 ? `<span class="bad">${text}</span>` : days < 14 ? `<span class="stale">${text}</span>` : text
}

const renderStatus = (status: HostStatus) => {
  const now = Math.floor(Date.now() / 1000)
  const rows = status.categories
    .map(
      (c) =>
        `<tr><th scope="row">${escapeHtml(c.category)}</th><td class="num">${formatCount(c.upToDate)}</td><td class="num">${formatCount(c.directories)}</td><td class="num">${formatPercent(c.upToDate, c.directories)}</td><td>${c.alwaysUpToDate ? "always up to date (set by an admin)" : c.upToDate === c.directories && c.directories > 0 ? '<span class="ok">all current</span>' : c.upToDate === 0 ? '<span class="stale">nothing current</span>' : ""}</td></tr>`
    )
    .join("")
  const crawl =
    status.lastCrawl === null
      ? '<span class="note">not crawled yet</span>'
      : `${formatTime(status.lastCrawl.at)}: <span class=${status.lastCrawl.status === "ok" ? '"ok"' : '"bad"'}>${escapeHtml(status.lastCrawl.status)}</span>${status.lastCrawl.durationMs === null ? "" : ` in ${formatCount(Math.round(status.lastCrawl.durationMs / 1000))} s`}`
  const body = `<dl class="facts">
<dt>Site</dt><dd>${escapeHtml(status.site)}</dd>
<dt>Country</dt><dd>${escapeHtml(countryName(status.country) ?? status.country)} (${escapeHtml(status.country)})</dd>
<dt>Active</dt><dd>${status.active ? '<span class="ok">yes</span>' : '<span class="bad">no</span>'}</dd>
<dt>IPv4</dt><dd>${familyText(status.ipv4)}</dd>
<dt>IPv6</dt><dd>${familyText(status.ipv6)}</dd>
<dt>Last crawl</dt><dd>${crawl}</dd>
<dt>Certificate expires</dt><dd>${certificateText(status.certificateExpires, now)}</dd>
</dl>
<h2 id="content">Content</h2>
${
  rows === ""
    ? "<p>This host carries no public content.</p>"
    : `<div class="table-wrap"><table><thead><tr><th scope="col">Category</th><th scope="col" class="num">Up to date</th><th scope="col" class="num">Directories</th><th scope="col" class="num">Share</th><th scope="col">Note</th></tr></thead><tbody>${rows}</tbody></table></div>`
}
${note("Up to date: directories whose content matches the master tree, by the host's last check-in or crawl. The host's admins see its check-ins, crawl failures and crawl runs through the API (<code>GET /api/hosts/{id}/status</code>).")}`
  return page({
    title: status.name,
    section: "/mirrors",
    dataAt: now,
    trail: [
      ["Mirrors", "/mirrors"],
      [status.name, undefined]
    ],
    body
  })
}

const decodeHostId = Schema.decodeUnknownOption(HostId)

export const hostStatusRoute = (pages: PageCache) =>
  HttpRouter.add(
    "GET",
    "/mirrors/hosts/:id",
    Effect.gen(function* () {
      const { id } = yield* HttpRouter.params
      const hostId = /^[0-9]{1,10}$/.test(id ?? "") ? decodeHostId(Number(id)) : undefined
      if (hostId === undefined || hostId._tag === "None")
        return yield* pages.send(notFoundPage("A host is named by its number.", "/mirrors"))
      const statuses = yield* HostStatuses
      return yield* pages.serve(
        { key: `/mirrors/hosts/${hostId.value}` },
        Effect.map(statuses.status(hostId.value, "public"), (status) =>
          status === undefined
            ? notFoundPage(`No public host has the number ${hostId.value}.`, "/mirrors")
            : { html: renderStatus(status), json: status }
        )
      )
    })
  )
