// Handlers of /api/me, /api/users and /api/tokens.
import { Accounts } from "@mirrormanager/actors/registry"
import { Api } from "@mirrormanager/domain/api"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { asCaller } from "./Principal.ts"

export const AccountsHandlers = HttpApiBuilder.group(
  Api,
  "accounts",
  Effect.fn(function* (handlers) {
    const accounts = yield* Accounts
    return handlers
      .handle("me", () => asCaller((p) => accounts.me(p)))
      .handle("listUser", ({ query }) => asCaller((p) => accounts.listUsers(p, query)))
      .handle("createUser", ({ payload }) => asCaller((p) => accounts.createUser(p, payload)))
      .handle("getUser", ({ params }) => asCaller((p) => accounts.getUser(p, params.id)))
      .handle("updateUser", ({ params, payload }) => asCaller((p) => accounts.updateUser(p, params.id, payload)))
      .handle("deleteUser", ({ params }) => asCaller((p) => accounts.deleteUser(p, params.id)))
      .handle("listTokens", ({ params, query }) => asCaller((p) => accounts.listTokens(p, params.id, query)))
      .handle("issueToken", ({ params, payload }) => asCaller((p) => accounts.issueToken(p, params.id, payload)))
      .handle("revokeToken", ({ params }) => asCaller((p) => accounts.revokeToken(p, params.id)))
  })
)
