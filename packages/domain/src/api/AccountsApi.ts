// Users and API tokens; /api/me tells callers who they are.
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import * as A from "../Account.ts"
import { Page, PageQuery } from "../Fields.ts"
import { ApiTokenId, SiteId, UserId } from "../Ids.ts"
import { Authentication } from "./Authentication.ts"
import { Created, crudEndpoints, Errors } from "./Crud.ts"

export const Me = Schema.Struct({ user: A.User, siteIds: Schema.Array(SiteId) }).annotate({ identifier: "Me" })

const [listUsers, createUser, getUser, updateUser, deleteUser] = crudEndpoints("User", "/api/users", {
  id: UserId,
  item: A.User,
  create: A.CreateUser,
  update: A.UpdateUser
})

export class AccountsApi extends HttpApiGroup.make("accounts")
  .add(HttpApiEndpoint.get("me", "/api/me", { success: Me, error: Errors }))
  .add(listUsers, createUser, getUser, updateUser, deleteUser)
  .add(
    HttpApiEndpoint.get("listTokens", "/api/users/:id/tokens", {
      params: { id: UserId },
      query: PageQuery,
      success: Page(A.ApiToken),
      error: Errors
    }),
    HttpApiEndpoint.post("issueToken", "/api/users/:id/tokens", {
      params: { id: UserId },
      payload: A.IssueApiToken,
      success: Created(A.IssuedApiToken),
      error: Errors
    }),
    HttpApiEndpoint.delete("revokeToken", "/api/tokens/:id", {
      params: { id: ApiTokenId },
      success: A.ApiToken,
      error: Errors
    })
  )
  .middleware(Authentication)
  .annotateMerge(OpenApi.annotations({ title: "Accounts", description: "Users and their API tokens" })) {}
