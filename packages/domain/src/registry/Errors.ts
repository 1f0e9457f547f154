// API errors as RFC 9457 problems (application/problem+json): every 4xx says what is wrong in `detail`.
import { Schema } from "effect"
import { HttpApiError } from "effect/http-api"

export class Unauthorized extends HttpApiError.Problem<Unauthorized>()("Unauthorized", {
  type: "about:blank",
  status: 401,
  title: "Unauthorized"
}) {}

export class Forbidden extends HttpApiError.Problem<Forbidden>()("Forbidden", {
  type: "about:blank",
  status: 403,
  title: "Forbidden"
}) {}

export class NotFound extends HttpApiError.Problem<NotFound>()(
  "NotFound",
  { type: "about:blank", status: 404, title: "Not Found" },
  { resource: Schema.optionalKey(Schema.String) }
) {}

export class Conflict extends HttpApiError.Problem<Conflict>()("Conflict", {
  type: "about:blank",
  status: 409,
  title: "Conflict"
}) {}

export class PayloadTooLarge extends HttpApiError.Problem<PayloadTooLarge>()("PayloadTooLarge", {
  type: "about:blank",
  status: 413,
  title: "Payload Too Large"
}) {}

/** Well-formed input that breaks a rule of the registry (e.g. a redirect chain, removing the last site admin). */
export class Unprocessable extends HttpApiError.Problem<Unprocessable>()("Unprocessable", {
  type: "about:blank",
  status: 422,
  title: "Unprocessable Content"
}) {}

export const notFound = (resource: string, id: number | string) =>
  new NotFound({ resource, detail: `${resource} ${id} does not exist` })
