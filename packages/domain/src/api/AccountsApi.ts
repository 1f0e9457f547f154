// Users and API tokens; /api/me tells callers who they are.
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import * as A from "../registry/index.ts"
import { ApiTokenId, Forbidden, NotFound, Page, PageQuery, UserId } from "../registry/index.ts"
import { Authentication } from "./Authentication.ts"
import { BodyWriteErrors, Created, crudEndpoints, ReadErrors } from "./Crud.ts"

const [, createUser, , updateUser, deleteUser] = crudEndpoints("User", "/api/users", {
  id: UserId,
  item: A.User,
  create: A.CreateUser,
  update: A.UpdateUser
})
// Only global admins list users; a user reads only themself unless a global admin.
const listUsers = HttpApiEndpoint.get("listUser", "/api/users", {
  query: PageQuery,
  success: Page(A.User),
  error: Forbidden
})
const getUser = HttpApiEndpoint.get("getUser", "/api/users/:id", {
  params: { id: UserId },
  success: A.User,
  error: ReadErrors
})

export class AccountsApi extends HttpApiGroup.make("accounts")
  .add(HttpApiEndpoint.get("me", "/api/me", { success: A.Me, error: NotFound }))
  .add(listUsers, createUser, getUser, updateUser, deleteUser)
  .add(
    HttpApiEndpoint.get("listTokens", "/api/users/:id/tokens", {
      params: { id: UserId },
      query: PageQuery,
      success: Page(A.ApiToken),
      error: ReadErrors
    }),
    HttpApiEndpoint.post("issueToken", "/api/users/:id/tokens", {
      params: { id: UserId },
      payload: A.IssueApiToken,
      success: Created(A.IssuedApiToken),
      error: BodyWriteErrors
    }),
    HttpApiEndpoint.delete("revokeToken", "/api/tokens/:id", {
      params: { id: ApiTokenId },
      success: A.ApiToken,
      error: ReadErrors
    })
  )
  .middleware(Authentication)
  .annotateMerge(OpenApi.annotations({ title: "Accounts", description: "Users and their API tokens" })) {}
