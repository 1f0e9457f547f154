// Runs a service call as the authenticated caller.

import { CurrentPrincipal } from "@mirrormanager/domain/api"
import type { Principal } from "@mirrormanager/domain/registry"
import { Effect } from "effect"

export const asCaller = <A, E, R>(
  f: (principal: Principal) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | CurrentPrincipal> =>
  Effect.gen(function* () {
    return yield* f(yield* CurrentPrincipal)
  })
