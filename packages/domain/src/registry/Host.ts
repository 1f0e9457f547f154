// A host (one mirror server) and what it carries: categories, URLs, directories, networks, countries.
import { Schema, Struct } from "effect"
import {
  Asn,
  Bandwidth,
  CountryCode,
  EpochSeconds,
  Label,
  Latitude,
  Longitude,
  MaxConnections,
  MirrorUrlText,
  Name,
  NetblockText,
  Text
} from "./Fields.ts"
import {
  CategoryId,
  DirectoryId,
  HostCategoryDirId,
  HostCategoryId,
  HostCategoryUrlId,
  HostCountryAllowedId,
  HostId,
  HostNetblockId,
  HostPeerAsnId,
  SiteId
} from "./Ids.ts"

export const AddressFamilySupport = Schema.Literals(["yes", "no", "unknown"])
export const DisabledBy = Schema.Literals(["none", "user", "crawler"])

const HostFields = {
  name: Name,
  country: CountryCode,
  bandwidth: Bandwidth,
  private: Schema.Boolean,
  asn: Schema.NullOr(Asn),
  asnClients: Schema.Boolean,
  internet2: Schema.Boolean,
  internet2Clients: Schema.Boolean,
  maxConnections: MaxConnections,
  adminActive: Schema.Boolean,
  userActive: Schema.Boolean,
  comment: Schema.NullOr(Text),
  robotEmail: Schema.NullOr(Label),
  latitude: Schema.NullOr(Latitude),
  longitude: Schema.NullOr(Longitude)
}

export const Host = Schema.Struct({
  id: HostId,
  siteId: SiteId,
  ...HostFields,
  ipv4: AddressFamilySupport,
  ipv6: AddressFamilySupport,
  disabledBy: DisabledBy,
  disableReason: Schema.NullOr(Schema.String),
  crawlFailures: Schema.Int,
  lastCrawled: Schema.NullOr(EpochSeconds),
  lastCrawlDuration: Schema.NullOr(Schema.Finite),
  lastCheckedIn: Schema.NullOr(EpochSeconds),
  createdAt: EpochSeconds
}).annotate({ identifier: "Host" })
export type Host = typeof Host.Type

export const UpdateHost = Schema.Struct(HostFields).mapFields(Struct.map(Schema.optionalKey)).annotate({
  identifier: "UpdateHost"
})
export type UpdateHost = typeof UpdateHost.Type

export const CreateHost = Schema.Struct({ ...UpdateHost.fields, name: Name, country: CountryCode }).annotate({
  identifier: "CreateHost"
})
export type CreateHost = typeof CreateHost.Type

export const HostCategory = Schema.Struct({
  id: HostCategoryId,
  hostId: HostId,
  categoryId: CategoryId,
  category: Schema.String,
  alwaysUp2date: Schema.Boolean
}).annotate({ identifier: "HostCategory" })
export type HostCategory = typeof HostCategory.Type

export const CreateHostCategory = Schema.Struct({
  categoryId: CategoryId,
  alwaysUp2date: Schema.optionalKey(Schema.Boolean)
}).annotate({ identifier: "CreateHostCategory" })
export type CreateHostCategory = typeof CreateHostCategory.Type

export const UpdateHostCategory = Schema.Struct({ alwaysUp2date: Schema.optionalKey(Schema.Boolean) }).annotate({
  identifier: "UpdateHostCategory"
})

export const HostCategoryUrl = Schema.Struct({
  id: HostCategoryUrlId,
  hostCategoryId: HostCategoryId,
  url: Schema.String,
  private: Schema.Boolean,
  reachable: Schema.NullOr(Schema.Boolean),
  tlsValid: Schema.NullOr(Schema.Boolean),
  tlsExpiresAt: Schema.NullOr(EpochSeconds),
  ipv4: Schema.NullOr(Schema.Boolean),
  ipv6: Schema.NullOr(Schema.Boolean),
  checkedAt: Schema.NullOr(EpochSeconds)
}).annotate({ identifier: "HostCategoryUrl" })
export type HostCategoryUrl = typeof HostCategoryUrl.Type

export const CreateHostCategoryUrl = Schema.Struct({
  url: MirrorUrlText,
  private: Schema.optionalKey(Schema.Boolean)
}).annotate({ identifier: "CreateHostCategoryUrl" })
export type CreateHostCategoryUrl = typeof CreateHostCategoryUrl.Type

export const UpdateHostCategoryUrl = CreateHostCategoryUrl.mapFields(Struct.map(Schema.optionalKey)).annotate({
  identifier: "UpdateHostCategoryUrl"
})
export type UpdateHostCategoryUrl = typeof UpdateHostCategoryUrl.Type

/** Per-directory up-to-date state of a host category (written by check-ins and crawls). */
export const HostCategoryDir = Schema.Struct({
  id: HostCategoryDirId,
  hostCategoryId: HostCategoryId,
  directoryId: DirectoryId,
  path: Schema.String,
  up2date: Schema.Boolean,
  verifiedBy: Schema.NullOr(Schema.Literals(["crawl", "checkin"])),
  verifiedAt: Schema.NullOr(EpochSeconds),
  matched: Schema.NullOr(Schema.Literals(["newest", "alternate"]))
}).annotate({ identifier: "HostCategoryDir" })
export type HostCategoryDir = typeof HostCategoryDir.Type

export const HostNetblock = Schema.Struct({
  id: HostNetblockId,
  hostId: HostId,
  netblock: Schema.String,
  name: Schema.String
}).annotate({ identifier: "HostNetblock" })
export type HostNetblock = typeof HostNetblock.Type

export const CreateHostNetblock = Schema.Struct({
  netblock: NetblockText,
  name: Schema.optionalKey(Label)
}).annotate({ identifier: "CreateHostNetblock" })
export type CreateHostNetblock = typeof CreateHostNetblock.Type

export const HostPeerAsn = Schema.Struct({
  id: HostPeerAsnId,
  hostId: HostId,
  asn: Asn,
  name: Schema.String
}).annotate({ identifier: "HostPeerAsn" })
export type HostPeerAsn = typeof HostPeerAsn.Type

export const CreateHostPeerAsn = Schema.Struct({
  asn: Asn,
  name: Schema.optionalKey(Label)
}).annotate({ identifier: "CreateHostPeerAsn" })
export type CreateHostPeerAsn = typeof CreateHostPeerAsn.Type

export const HostCountryAllowed = Schema.Struct({
  id: HostCountryAllowedId,
  hostId: HostId,
  country: CountryCode
}).annotate({ identifier: "HostCountryAllowed" })
export type HostCountryAllowed = typeof HostCountryAllowed.Type

export const CreateHostCountryAllowed = Schema.Struct({ country: CountryCode }).annotate({
  identifier: "CreateHostCountryAllowed"
})
