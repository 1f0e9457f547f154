// The bearer-token middleware contract: it authenticates every admin API call and provides the caller.
import { Context } from "effect"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import type { Principal } from "../registry/index.ts"
import { Unauthorized } from "../registry/index.ts"

export class CurrentPrincipal extends Context.Service<CurrentPrincipal, Principal>()("domain/CurrentPrincipal") {}

export class Authentication extends HttpApiMiddleware.Service<
  Authentication,
  { provides: CurrentPrincipal; requires: never }
>()("domain/Authentication", {
  requiredForClient: true,
  security: { bearer: HttpApiSecurity.bearer },
  error: Unauthorized
}) {}
