// Branded integer ids of every registry entity; path parameters decode them from strings.
import { Schema } from "effect"

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

export const SiteId = PositiveInt.pipe(Schema.brand("SiteId"))
export type SiteId = typeof SiteId.Type
export const HostId = PositiveInt.pipe(Schema.brand("HostId"))
export type HostId = typeof HostId.Type
export const UserId = PositiveInt.pipe(Schema.brand("UserId"))
export type UserId = typeof UserId.Type
export const ApiTokenId = PositiveInt.pipe(Schema.brand("ApiTokenId"))
export type ApiTokenId = typeof ApiTokenId.Type
export const CategoryId = PositiveInt.pipe(Schema.brand("CategoryId"))
export type CategoryId = typeof CategoryId.Type
export const ProductId = PositiveInt.pipe(Schema.brand("ProductId"))
export type ProductId = typeof ProductId.Type
export const VersionId = PositiveInt.pipe(Schema.brand("VersionId"))
export type VersionId = typeof VersionId.Type
export const ArchId = PositiveInt.pipe(Schema.brand("ArchId"))
export type ArchId = typeof ArchId.Type
export const DirectoryId = PositiveInt.pipe(Schema.brand("DirectoryId"))
export type DirectoryId = typeof DirectoryId.Type
export const RepositoryId = PositiveInt.pipe(Schema.brand("RepositoryId"))
export type RepositoryId = typeof RepositoryId.Type
export const RepositoryRedirectId = PositiveInt.pipe(Schema.brand("RepositoryRedirectId"))
export type RepositoryRedirectId = typeof RepositoryRedirectId.Type
export const FileDetailId = PositiveInt.pipe(Schema.brand("FileDetailId"))
export type FileDetailId = typeof FileDetailId.Type
export const HostCategoryId = PositiveInt.pipe(Schema.brand("HostCategoryId"))
export type HostCategoryId = typeof HostCategoryId.Type
export const HostCategoryUrlId = PositiveInt.pipe(Schema.brand("HostCategoryUrlId"))
export type HostCategoryUrlId = typeof HostCategoryUrlId.Type
export const HostCategoryDirId = PositiveInt.pipe(Schema.brand("HostCategoryDirId"))
export type HostCategoryDirId = typeof HostCategoryDirId.Type
export const HostNetblockId = PositiveInt.pipe(Schema.brand("HostNetblockId"))
export type HostNetblockId = typeof HostNetblockId.Type
export const HostPeerAsnId = PositiveInt.pipe(Schema.brand("HostPeerAsnId"))
export type HostPeerAsnId = typeof HostPeerAsnId.Type
export const HostCountryAllowedId = PositiveInt.pipe(Schema.brand("HostCountryAllowedId"))
export type HostCountryAllowedId = typeof HostCountryAllowedId.Type
export const NetblockCountryId = PositiveInt.pipe(Schema.brand("NetblockCountryId"))
export type NetblockCountryId = typeof NetblockCountryId.Type
export const CountryContinentRedirectId = PositiveInt.pipe(Schema.brand("CountryContinentRedirectId"))
export type CountryContinentRedirectId = typeof CountryContinentRedirectId.Type
export const EmbargoedCountryId = PositiveInt.pipe(Schema.brand("EmbargoedCountryId"))
export type EmbargoedCountryId = typeof EmbargoedCountryId.Type
