// The pages' own error page: what was wrong, in words, and the way back; its JSON twin is a problem document.
import { escapeHtml, page } from "./Html.ts"
import type { PageContent } from "./PageCache.ts"

const TITLES: Record<number, string> = { 400: "Bad Request", 404: "Not Found" }

export const notFoundPage = (detail: string, section: string, status: 400 | 404 = 404): PageContent => ({
  status,
  html: page({
    title: status === 404 ? "Not found" : "Not understood",
    section,
    body: `<p>${escapeHtml(detail)}</p><p><a href="${section}">Back to the list</a></p>`
  }),
  json: { type: "about:blank", title: TITLES[status], status, detail }
})
