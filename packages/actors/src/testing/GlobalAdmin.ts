// The global admin of a test or a benchmark.

import { Effect, Option, Redacted } from "effect"
import { Accounts } from "../registry/index.ts"

/** The global admin signing in with `token`, made (once) as a node's bootstrap makes it from MM_ADMIN_TOKEN. */
export const globalAdminWithToken = (token: string) =>
  Effect.gen(function* () {
    const accounts = yield* Accounts
    yield* accounts.bootstrap(Option.some(Redacted.make(token)))
    return Option.getOrThrow(yield* accounts.authenticate(token))
  })
