// Bearer-token authentication of admin API calls; 401 with a reason when the token is missing or unknown.
import { Accounts } from "@mirrormanager/actors/registry"
import { Authentication, CurrentPrincipal } from "@mirrormanager/domain/api"
import { Unauthorized } from "@mirrormanager/domain/registry"
import { Effect, Layer, Option, Redacted } from "effect"

export const AuthenticationLayer = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const accounts = yield* Accounts
    return Authentication.of({
      bearer: (httpEffect, { credential }) =>
        Effect.gen(function* () {
          const token = Redacted.value(credential)
          if (token.length === 0) {
            return yield* new Unauthorized({ detail: "missing credentials: send Authorization: Bearer <token>" })
          }
          const principal = yield* accounts.authenticate(token)
          if (Option.isNone(principal)) {
            return yield* new Unauthorized({ detail: "unknown or revoked API token" })
          }
          return yield* Effect.provideService(httpEffect, CurrentPrincipal, principal.value)
        })
    })
  })
)
