// Rendered public pages, kept: each page (path and query) is rendered at most once a minute, or kept longer while the
// index it shows has not changed, and sent with an ETag (304 when the browser has it). A page's HTML and JSON come
// from one rendering, so the two always agree. The pages are rendered from the database off the redirector's path;
// what is kept is bounded in entries and bytes.
import { createHash } from "node:crypto"
import { Deferred, Effect, Exit } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"

/** What a page renders to: the HTML page and its JSON twin. */
export interface PageContent {
  readonly html: string
  readonly json: unknown
  /** 200 unless said (a 404 page for an unknown product, say: sent, never kept). */
  readonly status?: number
}

interface Kept {
  readonly html: Buffer
  readonly htmlTag: string
  readonly json: Buffer
  readonly jsonTag: string
  readonly status: number
  readonly renderedAt: number
  readonly version: string | undefined
}

export interface PageCacheOptions {
  /** Pages kept at most (least recently asked go first). */
  readonly maxPages: number
  /** Bytes kept at most (HTML and JSON together). */
  readonly maxBytes: number
  /** A page is rendered again when older than this (seconds)... */
  readonly maxAgeSeconds: number
  /** ...unless it names a version (the index's) that has not changed, up to this age (seconds). */
  readonly maxVersionedAgeSeconds: number
}

export const DEFAULT_PAGE_CACHE_OPTIONS: PageCacheOptions = {
  maxPages: 2_000,
  maxBytes: 64 * 1024 * 1024,
  maxAgeSeconds: 60,
  maxVersionedAgeSeconds: 900
}

export interface PageRequest {
  /** The page's identity: its path and its canonical query (the parameters that change it, in a fixed order). */
  readonly key: string
  /** What the page shows depends on, besides time (the index's version): kept while unchanged. */
  readonly version?: string
}

const tagOf = (bytes: Buffer) => `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 27)}"`

/** JSON when the client prefers it to HTML (by the Accept header's q-values); HTML otherwise, browsers included. */
export const prefersJson = (accept: string | undefined): boolean => {
  if (accept === undefined) return false
  let json = -1
  let html = -1
  for (const range of accept.split(",")) {
    const [type, ...params] = range.trim().toLowerCase().split(";")
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="))
    const q = qParam === undefined ? 1 : Number(qParam.slice(2))
    const weight = Number.isFinite(q) ? q : 0
    if (type === "application/json") json = Math.max(json, weight)
    else if (type === "text/html") html = Math.max(html, weight)
  }
  return json > 0 && json > html
}

const encode = (content: PageContent, version: string | undefined, now: number): Kept => {
  const html = Buffer.from(content.html, "utf8")
  const json = Buffer.from(`${JSON.stringify(content.json, null, 2)}\n`, "utf8")
  return {
    html,
    htmlTag: tagOf(html),
    json,
    jsonTag: tagOf(json),
    status: content.status ?? 200,
    renderedAt: now,
    version
  }
}

/** The pages of one node's routes (made with them: see PagesRoutes). */
export interface PageCache {
  /** The page for this request: kept, or rendered now (once for all who ask meanwhile), in the format asked for. */
  readonly serve: <E, R>(
    page: PageRequest,
    render: Effect.Effect<PageContent, E, R>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>
  /** A page rendered for this request alone (an error page): sent in the format asked for, never kept. */
  readonly send: (
    content: PageContent
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>
  /** Pages kept now, and their bytes. */
  readonly size: () => { readonly pages: number; readonly bytes: number }
}

export const makePageCache = (options: PageCacheOptions = DEFAULT_PAGE_CACHE_OPTIONS): PageCache => {
  const kept = new Map<string, Kept>()
  const rendering = new Map<string, Deferred.Deferred<Kept, unknown>>()
  let bytes = 0
  const keep = (key: string, page: Kept) => {
    const before = kept.get(key)
    if (before !== undefined) {
      bytes -= before.html.length + before.json.length
      kept.delete(key)
    }
    if (page.status !== 200) return
    kept.set(key, page)
    bytes += page.html.length + page.json.length
    for (const [oldest, entry] of kept) {
      if (kept.size <= options.maxPages && bytes <= options.maxBytes) break
      kept.delete(oldest)
      bytes -= entry.html.length + entry.json.length
    }
  }
  const fresh = (page: Kept, version: string | undefined, now: number) => {
    const age = (now - page.renderedAt) / 1000
    return (
      age < options.maxAgeSeconds ||
      (version !== undefined && page.version === version && age < options.maxVersionedAgeSeconds)
    )
  }
  const respond = (request: HttpServerRequest.HttpServerRequest, page: Kept) => {
    const json = prefersJson(request.headers.accept)
    const tag = json ? page.jsonTag : page.htmlTag
    const headers = {
      etag: tag,
      vary: "Accept",
      "cache-control": page.status === 200 ? "public, max-age=60" : "no-store",
      "last-modified": new Date(page.renderedAt).toUTCString()
    }
    if (page.status === 200 && request.headers["if-none-match"] === tag) {
      return HttpServerResponse.empty({ status: 304, headers })
    }
    return HttpServerResponse.uint8Array(json ? page.json : page.html, {
      status: page.status,
      // An error's JSON twin is a problem document, as the API's are.
      contentType: json
        ? page.status >= 400
          ? "application/problem+json"
          : "application/json"
        : "text/html; charset=utf-8",
      headers
    })
  }
  return {
    serve: <E, R>(page: PageRequest, render: Effect.Effect<PageContent, E, R>) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const now = Date.now()
        const have = kept.get(page.key)
        if (have !== undefined && fresh(have, page.version, now)) {
          // Asked again: the last to go.
          kept.delete(page.key)
          kept.set(page.key, have)
          return respond(request, have)
        }
        const waiting = rendering.get(page.key)
        if (waiting !== undefined) {
          // The same page's rendering fails alike for all who wait for it.
          return respond(request, yield* Deferred.await(waiting as Deferred.Deferred<Kept, E>))
        }
        const deferred = Deferred.makeUnsafe<Kept, unknown>()
        rendering.set(page.key, deferred)
        const exit = yield* Effect.exit(
          Effect.map(render, (content) => encode(content, page.version, Date.now()))
        ).pipe(
          // A request that goes away mid-render leaves no one waiting for ever.
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              rendering.delete(page.key)
              Deferred.doneUnsafe(deferred, Effect.interrupt)
            })
          )
        )
        rendering.delete(page.key)
        Deferred.doneUnsafe(deferred, exit)
        if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)
        keep(page.key, exit.value)
        return respond(request, exit.value)
      }),
    send: (content) =>
      Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
        respond(request, encode(content, undefined, Date.now()))
      ),
    size: () => ({ pages: kept.size, bytes })
  }
}
