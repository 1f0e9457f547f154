// Every error answer is a problem document: bare 4xx/5xx answers of the router (unknown route, wrong media type)
// get an RFC 9457 body, and a 401 names its scheme in WWW-Authenticate (RFC 9110 section 11.6.1).
import { Effect } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"

const TITLES: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  415: "Unsupported Media Type",
  500: "Internal Server Error",
  503: "Service Unavailable"
}

const DETAILS: Record<number, string> = {
  404: "no such resource; see /docs for the API",
  415: "send request bodies as application/json",
  500: "the server failed; the request changed nothing"
}

const isProblem = (response: HttpServerResponse.HttpServerResponse) =>
  (response.headers["content-type"] ?? "").startsWith("application/problem+json")

export const problemResponses = HttpRouter.middleware(
  (httpEffect) =>
    Effect.map(httpEffect, (response) => {
      let out = response
      if (out.status >= 400 && !isProblem(out) && out.status in TITLES) {
        out = HttpServerResponse.jsonUnsafe(
          { type: "about:blank", title: TITLES[out.status], status: out.status, detail: DETAILS[out.status] },
          { status: out.status, contentType: "application/problem+json", headers: out.headers }
        )
      }
      if (out.status === 401 && out.headers["www-authenticate"] === undefined) {
        out = HttpServerResponse.setHeader(out, "www-authenticate", 'Bearer realm="mirrormanager"')
      }
      return out
    }),
  { global: true }
)

/** Any path no route serves: 404 as a problem document. */
export const NotFoundRoute = HttpRouter.add(
  "*",
  "*",
  HttpServerResponse.jsonUnsafe(
    { type: "about:blank", title: "Not Found", status: 404, detail: DETAILS[404] },
    { status: 404, contentType: "application/problem+json" }
  )
)
