// The index feed over HTTP (docs/redirector.md#the-index-feed), answered by the front server of a full node for
// redirector nodes: `GET /internal/index/snapshot` streams the current index in the snapshot format (gzip JSON lines)
// with its generation and sequence in headers; `GET /internal/index/changes?generation=G&after=S` answers the
// batches after S, waiting up to 25 s for one, or 410 Gone when G is not served any more or S is no longer kept.
// Both want `Authorization: Bearer <MM_INDEX_FEED_TOKEN>`; without a token (or an IndexFeed) the feed is off (404).
import { createHash, timingSafeEqual } from "node:crypto"
import type * as http from "node:http"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as zlib from "node:zlib"
import { IndexFeed, Redirector, snapshotLines } from "@mirrormanager/actors/redirector"
import { Context, Effect, Layer, Option, Redacted } from "effect"

export interface IndexFeedRoutesOptions {
  /** MM_INDEX_FEED_TOKEN; undefined: the feed is off. */
  readonly token: Redacted.Redacted<string> | undefined
  /** Snapshot streams at once (each one walks the whole index); more are answered 503. */
  readonly maxSnapshotStreams: number
  /** The longest a changes request waits for a batch. */
  readonly longPollMs: number
}

export const defaultIndexFeedRoutesOptions = { maxSnapshotStreams: 4, longPollMs: 25_000 } as const

export const INDEX_FEED_PREFIX = "/internal/index/"

const digest = (text: string) => createHash("sha256").update(text).digest()

export class IndexFeedRoutes extends Context.Service<
  IndexFeedRoutes,
  {
    /** Answers a request whose path begins with INDEX_FEED_PREFIX. */
    readonly handle: (request: http.IncomingMessage, response: http.ServerResponse, path: string, query: string) => void
    /**
     * The server is closing: waiting long polls answer now (and later ones at once) and snapshots being sent are cut
     * off, so that a graceful stop does not wait for them.
     */
    readonly stop: () => void
  }
>()("http/IndexFeedRoutes") {
  static readonly layer = (options: IndexFeedRoutesOptions) =>
    Layer.effect(
      IndexFeedRoutes,
      Effect.gen(function* () {
        const redirector = yield* Redirector
        const indexFeed = Option.getOrUndefined(yield* Effect.serviceOption(IndexFeed))
        const services = yield* Effect.context<never>()
        const logWarning = (text: string) => Effect.runForkWith(services)(Effect.logWarning(text))
        // An empty token turns the feed off like none.
        const token = options.token === undefined ? "" : Redacted.value(options.token)
        const served =
          token.length === 0 || indexFeed === undefined ? undefined : { feed: indexFeed, expected: digest(token) }
        let snapshotStreams = 0
        const stopping = new AbortController()
        /** Snapshots being sent: cut off when the server closes (their readers fetch again, from another node). */
        const streams = new Set<http.ServerResponse>()

        const plain = (response: http.ServerResponse, status: number, text: string, headers = {}) => {
          const body = `${text}\n`
          response.writeHead(status, {
            "content-type": "text/plain; charset=utf-8",
            "content-length": String(Buffer.byteLength(body)),
            "cache-control": "no-store",
            ...headers
          })
          response.end(body)
        }

        const authorized = (request: http.IncomingMessage, expected: Buffer) => {
          const header = request.headers.authorization
          if (header === undefined || !header.startsWith("Bearer ")) return false
          return timingSafeEqual(digest(header.slice("Bearer ".length)), expected)
        }

        const snapshot = (request: http.IncomingMessage, response: http.ServerResponse, feed: IndexFeed["Service"]) => {
          const index = redirector.status().index
          if (index === undefined) return plain(response, 503, "no index yet", { "retry-after": "5" })
          if (snapshotStreams >= options.maxSnapshotStreams) {
            return plain(response, 503, "too many index snapshots being sent", { "retry-after": "2" })
          }
          // The rows and the position read together, in one step: a batch is published in the step that applies it.
          const position = feed.position()
          const source = index.toSource()
          snapshotStreams++
          response.writeHead(200, {
            "content-type": "application/gzip",
            "cache-control": "no-store",
            "x-mm-index-generation": position.generation,
            "x-mm-index-sequence": String(position.sequence)
          })
          if (request.method === "HEAD") {
            snapshotStreams--
            response.end()
            return
          }
          streams.add(response)
          pipeline(Readable.from(snapshotLines({ builtAt: index.builtAt, source })), zlib.createGzip(), response)
            .catch((error) => {
              if (!stopping.signal.aborted)
                logWarning(`index snapshot to ${request.socket.remoteAddress} cut off: ${error}`)
            })
            .finally(() => {
              snapshotStreams--
              streams.delete(response)
            })
        }

        const changes = (response: http.ServerResponse, query: string, feed: IndexFeed["Service"]) => {
          const params = new URLSearchParams(query)
          const generation = params.get("generation")
          const afterText = params.get("after")
          const after = afterText === null || !/^\d{1,15}$/.test(afterText) ? Number.NaN : Number(afterText)
          if (generation === null || generation.length > 100 || Number.isNaN(after)) {
            return plain(response, 400, "generation and after (a sequence number) are wanted")
          }
          const closed = new AbortController()
          response.on("close", () => closed.abort())
          const deadline = AbortSignal.timeout(options.longPollMs)
          const answer = () => {
            if (closed.signal.aborted) return
            const read = feed.read(generation, after)
            if (read._tag === "Gone") return plain(response, 410, read.reason)
            if (read.batches.length === 0 && !deadline.aborted && !stopping.signal.aborted) {
              feed.next(AbortSignal.any([closed.signal, deadline, stopping.signal])).then(answer)
              return
            }
            const body = `{"generation":${JSON.stringify(read.position.generation)},"sequence":${read.position.sequence},"following":${redirector.status().following},"batches":[${read.batches.join(",")}]}`
            response.writeHead(200, {
              "content-type": "application/json",
              "content-length": String(Buffer.byteLength(body)),
              "cache-control": "no-store",
              ...(stopping.signal.aborted ? { connection: "close" } : {})
            })
            response.end(body)
          }
          answer()
        }

        const handle = (request: http.IncomingMessage, response: http.ServerResponse, path: string, query: string) => {
          if (served === undefined) return plain(response, 404, "not found")
          if (path !== "/internal/index/snapshot" && path !== "/internal/index/changes") {
            return plain(response, 404, "not found")
          }
          if (!authorized(request, served.expected)) {
            return plain(response, 401, "the index feed wants its bearer token", { "www-authenticate": "Bearer" })
          }
          if (request.method !== "GET" && request.method !== "HEAD") {
            return plain(response, 405, "GET only", { allow: "GET, HEAD" })
          }
          if (path === "/internal/index/snapshot") return snapshot(request, response, served.feed)
          return changes(response, query, served.feed)
        }
        const stop = () => {
          stopping.abort()
          for (const response of streams) response.destroy()
        }
        return IndexFeedRoutes.of({ handle, stop })
      })
    )
}
