// The node's one HTTP server. The redirector's endpoints (and health, metrics and the index feed) are answered right
// here, as plain Node handlers over the in-memory index: the hot path pays for no framework. Everything else goes to
// the Effect admin API once the database side of the node is up, and gets a 503 problem until then.
import * as http from "node:http"
import { CrawlMetrics } from "@mirrormanager/actors/crawler"
import { UNREACHABLE } from "@mirrormanager/actors/health"
import { endpointOf, Redirector } from "@mirrormanager/actors/redirector"
import { AccessCounts } from "@mirrormanager/actors/statistics"
import { Cause, Context, Effect, Layer, Option } from "effect"
import { DATABASE_RETRY_AFTER_SECONDS } from "../admin/index.ts"
import { type Answer, AnswerCache, answer, INDEX_FEED_PREFIX, IndexFeedRoutes } from "../redirector/index.ts"
import type { AccessLog } from "./AccessLog.ts"
import { NodeMetrics } from "./NodeMetrics.ts"

type Listener = (request: http.IncomingMessage, response: http.ServerResponse) => void

/** How long connections may idle and how many may be open (Node's own limits, at no cost per request). */
export interface ConnectionLimits {
  /** A kept-alive connection idle this long between requests is closed. */
  readonly keepAliveTimeoutMs: number
  /** A connection whose request's headers have not all arrived this long after it began is closed (408). */
  readonly headersTimeoutMs: number
  /** A request (headers and body) not received within this is answered 408; 0: no bound. */
  readonly requestTimeoutMs: number
  /** Connections beyond this many are refused (closed at once). */
  readonly maxConnections: number
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  keepAliveTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  maxConnections: 10_000
}

/**
 * An http.Server whose "request" listener is ours; the listener the Effect HTTP server registers (when the admin
 * API starts, possibly long after the server listens) becomes the fallback for every other path.
 */
export class FrontHttpServer extends http.Server {
  private fallback: Listener | undefined
  private readonly front: (request: http.IncomingMessage, response: http.ServerResponse) => boolean

  private fallbackContinue: Listener | undefined

  /** Called as the server begins to close, before the requests still open are answered (long polls end then). */
  onClosing: (() => void) | undefined

  constructor(
    front: (request: http.IncomingMessage, response: http.ServerResponse) => boolean,
    limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS
  ) {
    const headersTimeout =
      limits.requestTimeoutMs > 0 ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) : limits.headersTimeoutMs
    super({
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      headersTimeout,
      requestTimeout: limits.requestTimeoutMs,
      // Node looks for connections past these bounds this often (default 30 s); a connection that never sends a
      // byte counts as one whose headers are late.
      connectionsCheckingInterval: Math.max(250, Math.min(5_000, Math.floor(headersTimeout / 2)))
    })
    this.maxConnections = limits.maxConnections
    this.front = front
    // `Expect: 100-continue` requests arrive as "checkContinue": the redirector's answer them like any other.
    super.on("checkContinue", (request: http.IncomingMessage, response: http.ServerResponse) => {
      if (this.front(request, response)) return
      if (this.fallbackContinue !== undefined) return this.fallbackContinue(request, response)
      response.writeContinue()
      this.emit("request", request, response)
    })
    super.on("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
      if (this.front(request, response)) return
      if (this.fallback !== undefined) return this.fallback(request, response)
      const body = JSON.stringify({
        type: "about:blank",
        title: "Service Unavailable",
        status: 503,
        detail: "the registry database is not reachable yet; mirrorlists and metalinks are served from the index"
      })
      response.writeHead(503, {
        "content-type": "application/problem+json",
        "retry-after": String(DATABASE_RETRY_AFTER_SECONDS)
      })
      response.end(`${body}\n`)
    })
  }

  override close(callback?: (error?: Error) => void): this {
    this.onClosing?.()
    return super.close(callback)
  }

  override on(event: string | symbol, listener: (...args: Array<any>) => void): this {
    if (event === "request") {
      this.fallback = listener as Listener
      return this
    }
    if (event === "checkContinue") {
      this.fallbackContinue = listener as Listener
      return this
    }
    return super.on(event as string, listener)
  }

  override off(event: string | symbol, listener: (...args: Array<any>) => void): this {
    if (event === "request") {
      if (this.fallback === listener) this.fallback = undefined
      return this
    }
    if (event === "checkContinue") {
      if (this.fallbackContinue === listener) this.fallbackContinue = undefined
      return this
    }
    return super.off(event as string, listener)
  }
}

export interface FrontOptions {
  readonly accessLog: AccessLog
  readonly connections?: ConnectionLimits
}

export class FrontServer extends Context.Service<FrontServer, { readonly server: FrontHttpServer }>()(
  "http/FrontServer"
) {
  static readonly layer = (options: FrontOptions) =>
    Layer.effect(
      FrontServer,
      Effect.gen(function* () {
        const redirector = yield* Redirector
        // The access statistics' counts (docs/statistics.md), where the node keeps them.
        const accessCounts = Option.getOrUndefined(yield* Effect.serviceOption(AccessCounts))
        const metrics = new NodeMetrics(yield* CrawlMetrics, accessCounts)
        const answers = new AnswerCache(redirector.settings.answerCacheBytes)
        const answerOptions = { answers }
        const trustedProxies = redirector.settings.trustedProxies
        // The index feed for redirector nodes, on nodes that serve it (docs/redirector.md#the-index-feed).
        const indexFeed = Option.getOrUndefined(yield* Effect.serviceOption(IndexFeedRoutes))
        const services = yield* Effect.context<never>()
        const logFailure = (error: unknown) =>
          Effect.runForkWith(services)(Effect.logError("redirector answer failed", Cause.die(error)))
        yield* Effect.addFinalizer(() => Effect.promise(() => options.accessLog.close()))

        const send = (
          request: http.IncomingMessage,
          response: http.ServerResponse,
          status: number,
          headers: Record<string, string | ReadonlyArray<string>>,
          body: string | ReadonlyArray<string | Buffer>
        ) => {
          const chunks = typeof body === "string" ? [body] : body
          let length = 0
          for (const chunk of chunks)
            length += typeof chunk === "string" ? Buffer.byteLength(chunk, "utf8") : chunk.length
          response.writeHead(status, { ...headers, "content-length": String(length) })
          if (request.method === "HEAD" || chunks.length === 0) response.end()
          else if (chunks.length === 1) response.end(chunks[0])
          else {
            // Written together (one writev): the chunks are encoded straight into what the socket sends.
            response.cork()
            for (let i = 0; i < chunks.length - 1; i++) response.write(chunks[i])
            response.end(chunks[chunks.length - 1])
            response.uncork()
          }
        }

        // Answers are written together once the requests at hand are answered (after this turn of the event loop's
        // I/O): a burst of writes wakes a waiting client once rather than once per answer, which on loopback and on
        // busy machines is most of what a write costs. The wait is the time to answer the burst.
        let batch: Array<{
          readonly request: http.IncomingMessage
          readonly response: http.ServerResponse
          readonly answer: Answer
        }> = []
        const writeBatch = () => {
          const written = batch
          batch = []
          for (const { request, response, answer } of written) {
            try {
              send(request, response, answer.status, answer.headers, answer.body)
            } catch (error) {
              logFailure(error)
              response.destroy()
            }
          }
        }
        const sendSoon = (request: http.IncomingMessage, response: http.ServerResponse, answer: Answer) => {
          if (batch.length === 0) setImmediate(writeBatch)
          batch.push({ request, response, answer })
        }

        const health = (request: http.IncomingMessage, response: http.ServerResponse, path: string) => {
          if (path === "/healthz/live") {
            send(request, response, 200, { "content-type": "application/json" }, '{"status":"live"}\n')
            return
          }
          const status = redirector.status()
          const age =
            status.currentAt === undefined
              ? ""
              : `, current ${Math.round((Date.now() - status.currentAt) / 1000)} s ago`
          // Public: the database's address and the error are in the log, not here.
          // What the index follows: the registry database, or (MM_INDEX_FEED) a full node's index feed.
          const follows = status.origin === "feed" ? "feed" : "database"
          const checks: Record<string, string> = {
            index: status.index === undefined ? "not loaded" : `from the ${status.origin}${age}`,
            [follows]: status.following ? "ok" : status.lastError === undefined ? "connecting" : UNREACHABLE
          }
          const state = status.index === undefined ? "starting" : status.following ? "ready" : "degraded"
          // A degraded node still answers mirrorlists: it stays in rotation (200), the body says why it is degraded.
          const body =
            state === "starting"
              ? {
                  type: "about:blank",
                  title: "Service Unavailable",
                  status: 503,
                  detail: "the node is not ready",
                  checks
                }
              : { status: state, checks }
          send(
            request,
            response,
            state === "starting" ? 503 : 200,
            { "content-type": state === "starting" ? "application/problem+json" : "application/json" },
            `${JSON.stringify(body)}\n`
          )
        }

        /** Answers redirector, health and metrics requests; a defect ends the request, never the node. */
        const front = (request: http.IncomingMessage, response: http.ServerResponse): boolean => {
          try {
            return answerFront(request, response)
          } catch (error) {
            logFailure(error)
            const endpoint = endpointOf((request.url ?? "/").split("?")[0]!)
            if (endpoint !== undefined) metrics.count(endpoint, 500)
            if (!response.headersSent) {
              send(request, response, 500, { "content-type": "text/plain; charset=utf-8" }, "internal error\n")
            } else {
              response.destroy()
            }
            return true
          }
        }

        const answerFront = (request: http.IncomingMessage, response: http.ServerResponse): boolean => {
          const url = request.url ?? "/"
          const q = url.indexOf("?")
          const path = q < 0 ? url : url.slice(0, q)
          const endpoint = endpointOf(path)
          if (endpoint === undefined) {
            if (path === "/metrics") {
              send(
                request,
                response,
                200,
                { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
                metrics.render(redirector, answers, Date.now())
              )
              return true
            }
            if (path === "/healthz/live" || path === "/healthz/ready") {
              health(request, response, path)
              return true
            }
            if (indexFeed !== undefined && path.startsWith(INDEX_FEED_PREFIX)) {
              indexFeed.handle(request, response, path, q < 0 ? "" : url.slice(q + 1))
              return true
            }
            return false
          }
          if (request.method !== "GET" && request.method !== "HEAD") {
            send(request, response, 405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }, "")
            metrics.count(endpoint, 405)
            return true
          }
          // (Reading `request.headers` builds the whole header object: only when a proxy may have sent one.)
          const forwarded = trustedProxies.length === 0 ? undefined : request.headers["x-forwarded-for"]
          const result = answer(redirector, answerOptions, {
            path,
            query: q < 0 ? "" : url.slice(q + 1),
            peer: request.socket.remoteAddress,
            forwardedFor: Array.isArray(forwarded) ? forwarded.join(",") : forwarded
          })
          sendSoon(request, response, result)
          metrics.count(endpoint, result.status)
          const now = Date.now()
          options.accessLog.record(now, result)
          accessCounts?.record(now, result)
          return true
        }
        const server = new FrontHttpServer(front, options.connections)
        server.onClosing = indexFeed?.stop
        return FrontServer.of({ server })
      })
    )
}
