// The admin API's answers to what goes wrong: bodies over the limit get 413 (announced or streamed), bare 4xx/5xx
// answers of the router (unknown route, wrong media type, a defect) get an RFC 9457 body, and a 401 names its scheme
// in WWW-Authenticate (RFC 9110 section 11.6.1). While the registry database is unreachable (down, or frozen and
// answering nothing), a request waiting for it gets 503 with Retry-After, not a 500 or no answer at all; so does a
// request that waited for it longer than its bound (every pooled connection taken, a slow statement).
import { isDatabaseUnavailable, until } from "@mirrormanager/actors/db"
import { Readiness } from "@mirrormanager/actors/health"
import { PayloadTooLarge } from "@mirrormanager/domain/registry"
import { ByteSize, Cause, Context, Deferred, Duration, Effect, Fiber, Option, type Scope } from "effect"
import {
  HttpIncomingMessage,
  HttpRouter,
  HttpServerRequest,
  HttpServerRespondable,
  HttpServerResponse
} from "effect/http"

const TITLES: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  500: "Internal Server Error",
  503: "Service Unavailable"
}

const DETAILS: Record<number, string> = {
  404: "no such resource; see /docs for the API",
  415: "send request bodies as application/json",
  500: "the server failed; the request changed nothing",
  503: "the registry database is not reachable; try again later"
}

/**
 * The longest an admin request waits for the database: taking a pooled connection and its statements (a node sets it
 * from MM_ADMIN_DATABASE_TIMEOUT); zero: unbounded.
 */
export const DEFAULT_ADMIN_DATABASE_TIMEOUT = Duration.seconds(30)
export const AdminDatabaseTimeout = Context.Reference<Duration.Duration>("http/AdminDatabaseTimeout", {
  defaultValue: () => DEFAULT_ADMIN_DATABASE_TIMEOUT
})

/** The bound of the admin request being answered (see `outsideDatabaseBound`). */
class DatabaseBound extends Context.Service<
  DatabaseBound,
  { readonly lift: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> }
>()("http/DatabaseBound") {}

/**
 * Runs a wait of an admin request that is not for the database (a crawl of a mirror, minutes for a big one) outside
 * the request's database bound, which starts afresh after it.
 */
export const outsideDatabaseBound = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.serviceOption(DatabaseBound), (bound) =>
    Option.isSome(bound) ? bound.value.lift(effect) : effect
  )

/** A bound of `limit` that completes `passed` unless lifted meanwhile; its timer lives in `scope`. */
const startDatabaseBound = (limit: Duration.Duration, scope: Scope.Scope) =>
  Effect.gen(function* () {
    const passed = yield* Deferred.make<void>()
    let lifts = 0
    let timer: Fiber.Fiber<boolean> | undefined
    const arm = Effect.suspend(() =>
      Duration.isZero(limit)
        ? Effect.void
        : Effect.map(
            Effect.forkIn(Effect.andThen(Effect.sleep(limit), Deferred.succeed(passed, undefined)), scope),
            (fiber) => {
              timer = fiber
            }
          )
    )
    yield* arm
    const lift = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.acquireUseRelease(
        Effect.suspend(() => {
          const running = timer
          timer = undefined
          return lifts++ > 0 || running === undefined ? Effect.void : Fiber.interrupt(running)
        }),
        () => effect,
        () => Effect.suspend(() => (--lifts === 0 ? arm : Effect.void))
      )
    return { passed: Deferred.await(passed), bound: DatabaseBound.of({ lift }) }
  })

/** Seconds a client is asked to wait when the database is unreachable (the probe looks every second). */
export const DATABASE_RETRY_AFTER_SECONDS = 10

/** Paths answered without the database. */
const WITHOUT_DATABASE = new Set([
  "/",
  "/docs",
  "/openapi.json",
  "/healthz/live",
  "/healthz/ready",
  "/static/mirrormanager.css"
])

const problem = (status: number, headers?: HttpServerResponse.HttpServerResponse["headers"], detail?: string) =>
  HttpServerResponse.jsonUnsafe(
    { type: "about:blank", title: TITLES[status], status, detail: detail ?? DETAILS[status] },
    { status, contentType: "application/problem+json", ...(headers === undefined ? {} : { headers }) }
  )

/** A problem document, or a public page's own HTML error page: either says what went wrong as it is. */
const isProblem = (response: HttpServerResponse.HttpServerResponse) => {
  const type =
    response.headers["content-type"] ?? (response.body._tag === "Uint8Array" ? response.body.contentType : "")
  return type.startsWith("application/problem+json") || type.startsWith("text/html")
}

/** The read of a streamed body stopped at MaxBodySize: a RequestParseError, possibly wrapped in HttpServerError. */
const isBodyTooLarge = (error: unknown): boolean => {
  if (typeof error !== "object" || error === null) return false
  const e = error as { readonly _tag?: unknown; readonly reason?: unknown; readonly cause?: unknown }
  if (e._tag === "HttpServerError") return isBodyTooLarge(e.reason)
  return e._tag === "RequestParseError" && (e.reason === "BodyTooLarge" || /maxBytes exceeded/.test(String(e.cause)))
}

const causedByBodyTooLarge = (cause: Cause.Cause<unknown>) =>
  cause.reasons.some((reason) =>
    isBodyTooLarge(reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : undefined)
  )

export const problemResponses = (options: {
  readonly maxBodyBytes: number
  /** Paths that answer in a protocol of their own (XML-RPC), with their own body limit: left alone. */
  readonly except?: ReadonlyArray<string>
}) => {
  const tooLarge = new PayloadTooLarge({ detail: `request body exceeds the limit of ${options.maxBodyBytes} bytes` })
  const unavailable = HttpServerResponse.setHeader(problem(503), "retry-after", String(DATABASE_RETRY_AFTER_SECONDS))
  return HttpRouter.middleware(
    Effect.gen(function* () {
      const readiness = yield* Readiness
      const limit = yield* AdminDatabaseTimeout
      const busy = HttpServerResponse.setHeader(
        problem(
          503,
          undefined,
          `the registry database did not answer within ${Duration.format(limit)}; try again later`
        ),
        "retry-after",
        String(DATABASE_RETRY_AFTER_SECONDS)
      )
      /**
       * Ended (and answered 503) when the database is found unreachable while the request waits for it, or when it
       * has waited longer than its bound; its work is interrupted in the background (its transaction rolled back).
       */
      const bounded = <E, R>(answer: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
        Effect.scoped(
          Effect.gen(function* () {
            const { passed, bound } = yield* startDatabaseBound(limit, yield* Effect.scope)
            const outcome = yield* answer.pipe(
              Effect.provideService(DatabaseBound, bound),
              until(Effect.raceFirst(readiness.unreachable, passed))
            )
            if (Option.isSome(outcome)) return outcome.value
            if (!readiness.reachable()) return unavailable
            yield* Effect.logWarning(
              `admin request answered 503: it waited for the database longer than ${Duration.format(limit)} (MM_ADMIN_DATABASE_TIMEOUT)`
            )
            return busy
          })
        )
      return (httpEffect) =>
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          const path = request.url.split("?")[0]!
          if (options.except?.includes(path)) return yield* httpEffect
          if (Number(request.headers["content-length"] ?? 0) > options.maxBodyBytes) {
            return yield* HttpServerRespondable.toResponse(tooLarge)
          }
          const answer = httpEffect.pipe(
            Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(options.maxBodyBytes))
          )
          return yield* (WITHOUT_DATABASE.has(path) ? answer : bounded(answer)).pipe(
            // A defect (a bug, a lost database) is logged with its cause and answered with a problem, never an empty
            // body: 503 when the database could not be reached, 500 otherwise.
            Effect.catchCause((cause) =>
              causedByBodyTooLarge(cause)
                ? HttpServerRespondable.toResponse(tooLarge)
                : Cause.hasInterruptsOnly(cause)
                  ? Effect.failCause(cause)
                  : isDatabaseUnavailable(cause)
                    ? Effect.as(Effect.logWarning("request failed: the database is unreachable", cause), unavailable)
                    : Effect.as(Effect.logError("request failed", cause), problem(500))
            ),
            Effect.map((response) => {
              let out = response
              if (out.status >= 400 && !isProblem(out) && out.status in TITLES) out = problem(out.status, out.headers)
              if (out.status === 401 && out.headers["www-authenticate"] === undefined) {
                out = HttpServerResponse.setHeader(out, "www-authenticate", 'Bearer realm="mirrormanager"')
              }
              return out
            })
          )
        })
    }),
    { global: true }
  )
}

/** Any path no route serves: 404 as a problem document. */
export const NotFoundRoute = HttpRouter.add("*", "*", problem(404))
