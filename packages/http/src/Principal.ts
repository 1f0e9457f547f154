// Runs a service call as the authenticated caller.
import type { Principal } from "@mirrormanager/domain/Account"
import { CurrentPrincipal } from "@mirrormanager/domain/api/Authentication"
import { Effect } from "effect"

export const asCaller = <A, E, R>(
  f: (principal: Principal) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | CurrentPrincipal> =>
  Effect.gen(function* () {
    return yield* f(yield* CurrentPrincipal)
  })
