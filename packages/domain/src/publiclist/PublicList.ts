// What the public pages tell of the mirrors (SPEC 9): the public mirror list of a scope (product, version, arch,
// country), the products, versions and arches it can be narrowed to, and a host's status. The same shapes are the
// pages' JSON twins and the status API's answer.
import { Schema } from "effect"
import { EpochSeconds, HostId } from "../registry/index.ts"

/** A host category's public URLs, by protocol. */
export const UrlsByProtocol = Schema.Struct({
  https: Schema.Array(Schema.String),
  http: Schema.Array(Schema.String),
  ftp: Schema.Array(Schema.String),
  rsync: Schema.Array(Schema.String)
}).annotate({ identifier: "UrlsByProtocol" })
export type UrlsByProtocol = typeof UrlsByProtocol.Type

export const PublicMirrorCategory = Schema.Struct({
  category: Schema.String,
  /** Whether the host is up to date on at least one directory of this category within the scope. */
  upToDate: Schema.Boolean,
  urls: UrlsByProtocol
}).annotate({ identifier: "PublicMirrorCategory" })
export type PublicMirrorCategory = typeof PublicMirrorCategory.Type

export const FamilySupport = Schema.Literals(["yes", "no", "unknown"])

/** One row of the public mirror list: no private host, password, contact or admin-only field is ever here. */
export const PublicMirror = Schema.Struct({
  id: HostId,
  name: Schema.String,
  country: Schema.String,
  site: Schema.String,
  /** The site's sponsor page. */
  siteUrl: Schema.NullOr(Schema.String),
  bandwidth: Schema.Int,
  /** On a research and education network (Internet2 and its peers). */
  internet2: Schema.Boolean,
  ipv4: FamilySupport,
  ipv6: FamilySupport,
  comment: Schema.NullOr(Schema.String),
  /** The countries the host serves besides its own, when it limits itself to some. */
  countriesAllowed: Schema.Array(Schema.String),
  categories: Schema.Array(PublicMirrorCategory)
}).annotate({ identifier: "PublicMirror" })
export type PublicMirror = typeof PublicMirror.Type

export const MirrorScope = Schema.Struct({
  product: Schema.NullOr(Schema.String),
  version: Schema.NullOr(Schema.String),
  arch: Schema.NullOr(Schema.String),
  country: Schema.NullOr(Schema.String)
}).annotate({ identifier: "MirrorScope" })
export type MirrorScope = typeof MirrorScope.Type

export const CatalogVersion = Schema.Struct({
  name: Schema.String,
  displayName: Schema.NullOr(Schema.String),
  isTest: Schema.Boolean,
  arches: Schema.Array(Schema.String)
})
export type CatalogVersion = typeof CatalogVersion.Type

export const CatalogProduct = Schema.Struct({ name: Schema.String, versions: Schema.Array(CatalogVersion) })
export type CatalogProduct = typeof CatalogProduct.Type

/** The products, versions and arches listed publicly (those with `publiclist`, and versions with `display`). */
export const MirrorCatalog = Schema.Struct({ products: Schema.Array(CatalogProduct) }).annotate({
  identifier: "MirrorCatalog"
})
export type MirrorCatalog = typeof MirrorCatalog.Type

export const CategoryStatus = Schema.Struct({
  category: Schema.String,
  /** Directories the host is up to date on, of the category's directories. */
  upToDate: Schema.Int,
  directories: Schema.Int,
  alwaysUpToDate: Schema.Boolean,
  /** Repodata directories whose repomd.xml the last crawl matched with the newest, or with an older kept one. */
  matchedNewest: Schema.optionalKey(Schema.Int),
  matchedAlternate: Schema.optionalKey(Schema.Int)
}).annotate({ identifier: "CategoryStatus" })
export type CategoryStatus = typeof CategoryStatus.Type

export const CrawlRun = Schema.Struct({
  startedAt: EpochSeconds,
  mode: Schema.String,
  status: Schema.String,
  reason: Schema.NullOr(Schema.String),
  durationMs: Schema.Number,
  requests: Schema.Int
}).annotate({ identifier: "CrawlRun" })
export type CrawlRun = typeof CrawlRun.Type

/** What a host's admins see of it beyond its public status. */
export const HostAdminStatus = Schema.Struct({
  lastCheckedIn: Schema.NullOr(EpochSeconds),
  crawlFailures: Schema.Int,
  disabledBy: Schema.String,
  disableReason: Schema.NullOr(Schema.String),
  adminActive: Schema.Boolean,
  userActive: Schema.Boolean,
  private: Schema.Boolean,
  /** The last crawl runs, newest first. */
  crawls: Schema.Array(CrawlRun)
}).annotate({ identifier: "HostAdminStatus" })
export type HostAdminStatus = typeof HostAdminStatus.Type

export const HostStatus = Schema.Struct({
  id: HostId,
  name: Schema.String,
  site: Schema.String,
  country: Schema.String,
  active: Schema.Boolean,
  ipv4: FamilySupport,
  ipv6: FamilySupport,
  lastCrawl: Schema.NullOr(
    Schema.Struct({ at: EpochSeconds, status: Schema.String, durationMs: Schema.NullOr(Schema.Number) })
  ),
  /** The soonest expiry of the host's HTTPS certificates, as the crawler last saw them. */
  certificateExpires: Schema.NullOr(EpochSeconds),
  categories: Schema.Array(CategoryStatus),
  /** Only for the host's site admins and global admins (`GET /api/hosts/{id}/status`). */
  admin: Schema.optionalKey(HostAdminStatus)
}).annotate({ identifier: "HostStatus" })
export type HostStatus = typeof HostStatus.Type
