// `/`: where a person lands. What the node offers people, each with a line on what it is for, and the API reference.

import { Effect } from "effect"
import { HttpRouter } from "effect/http"
import { attr, escapeHtml, NAVIGATION, page } from "./Html.ts"
import type { PageCache } from "./PageCache.ts"

const ABOUT: Record<string, string> = {
  "/mirrors":
    "The public mirrors of each product, version and architecture: where they are, which protocols they serve and whether they are up to date.",
  "/map": "Where the public mirrors are, country by country.",
  "/propagation": "How quickly the mirrors pick up a new push of each repository, over the last week.",
  "/statistics": "Who asks for mirror lists: requests per day by country, architecture, repository and countme bucket.",
  "/docs": "The HTTP API for site and global admins (JSON, OpenAPI) and the endpoints dnf and yum use."
}

export const homeRoute = (pages: PageCache) =>
  HttpRouter.add(
    "GET",
    "/",
    pages.serve(
      { key: "/" },
      Effect.sync(() => {
        const sections = NAVIGATION.map(
          ({ href, label }) =>
            `<li><h2><a href=${attr(href)}>${escapeHtml(label)}</a></h2><p>${escapeHtml(ABOUT[href] ?? "")}</p></li>`
        ).join("")
        return {
          html: page({
            title: "Mirrors of this distribution",
            dataAt: Math.floor(Date.now() / 1000),
            body: `<p>This mirror manager sends every <code>dnf</code> and <code>yum</code> request for a mirror list or metalink to a nearby, fast, up-to-date mirror. What it knows about the mirrors is public:</p><ul class="sections">${sections}</ul>`
          }),
          json: { pages: NAVIGATION.map(({ href, label }) => ({ href, label, about: ABOUT[href] ?? "" })) }
        }
      })
    )
  )
