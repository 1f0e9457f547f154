// Users (global and site admins) and their API tokens.
import { Schema } from "effect"
import { EpochSeconds, Label } from "./Fields.ts"
import { ApiTokenId, SiteId, UserId } from "./Ids.ts"

export const Username = Schema.String.check(
  Schema.isPattern(/^[a-z0-9][a-z0-9._@-]{0,63}$/, {
    message: "must be 1..64 lower-case letters, digits, '.', '_', '@' or '-'"
  })
)

export const User = Schema.Struct({
  id: UserId,
  username: Username,
  admin: Schema.Boolean,
  createdAt: EpochSeconds
}).annotate({ identifier: "User" })
export type User = typeof User.Type

export const CreateUser = Schema.Struct({
  username: Username,
  admin: Schema.optionalKey(Schema.Boolean)
}).annotate({ identifier: "CreateUser" })

export const UpdateUser = Schema.Struct({ admin: Schema.optionalKey(Schema.Boolean) }).annotate({
  identifier: "UpdateUser"
})

export const ApiToken = Schema.Struct({
  id: ApiTokenId,
  userId: UserId,
  name: Schema.String,
  createdAt: EpochSeconds,
  lastUsedAt: Schema.NullOr(EpochSeconds),
  revokedAt: Schema.NullOr(EpochSeconds)
}).annotate({ identifier: "ApiToken" })
export type ApiToken = typeof ApiToken.Type

/** Returned once, when a token is issued; only its hash is stored. */
export const IssuedApiToken = Schema.Struct({ ...ApiToken.fields, token: Schema.String }).annotate({
  identifier: "IssuedApiToken"
})
export type IssuedApiToken = typeof IssuedApiToken.Type

export const IssueApiToken = Schema.Struct({
  name: Schema.optionalKey(Label)
}).annotate({ identifier: "IssueApiToken" })

/** Who is calling: a user, whether they are a global admin, and the sites they administer. */
export interface Principal {
  readonly userId: UserId
  readonly username: string
  readonly admin: boolean
  readonly siteIds: ReadonlySet<SiteId>
}

/** What /api/me tells callers: who they are, and the sites they administer. */
export const Me = Schema.Struct({ user: User, siteIds: Schema.Array(SiteId) }).annotate({ identifier: "Me" })
export type Me = typeof Me.Type
