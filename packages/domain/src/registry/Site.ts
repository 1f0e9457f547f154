// A site: an organisation running mirrors; its name and password are the check-in login.
import { Schema, Struct } from "effect"
import { Username } from "./Account.ts"
import { EpochSeconds, Name, Password, WebUrl } from "./Fields.ts"
import { SiteId, UserId } from "./Ids.ts"

const SiteFields = {
  name: Name,
  orgUrl: Schema.NullOr(WebUrl),
  private: Schema.Boolean,
  adminActive: Schema.Boolean,
  userActive: Schema.Boolean,
  emailOnAdd: Schema.Boolean,
  emailOnDrop: Schema.Boolean
}

export const Site = Schema.Struct({
  id: SiteId,
  ...SiteFields,
  createdBy: Schema.NullOr(Schema.String),
  createdAt: EpochSeconds
}).annotate({ identifier: "Site" })
export type Site = typeof Site.Type

export const UpdateSite = Schema.Struct({ ...SiteFields, password: Password })
  .mapFields(Struct.map(Schema.optionalKey))
  .annotate({ identifier: "UpdateSite" })
export type UpdateSite = typeof UpdateSite.Type

export const CreateSite = Schema.Struct({ ...UpdateSite.fields, name: Name, password: Password }).annotate({
  identifier: "CreateSite"
})
export type CreateSite = typeof CreateSite.Type

export const SiteAdmin = Schema.Struct({ siteId: SiteId, userId: UserId, username: Schema.String }).annotate({
  identifier: "SiteAdmin"
})
export type SiteAdmin = typeof SiteAdmin.Type

export const AddSiteAdmin = Schema.Struct({ username: Username }).annotate({ identifier: "AddSiteAdmin" })
