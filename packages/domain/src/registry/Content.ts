// The content model: products, versions, arches, categories (mirrorable trees), directories, repositories.
import { Schema, Struct } from "effect"
import { DirectoryPath, EpochSeconds, Int32, Label, LocalPath, Name, partial, Token, WebUrl } from "./Fields.ts"
import {
  ArchId,
  CategoryId,
  DirectoryId,
  FileDetailId,
  ProductId,
  RepositoryId,
  RepositoryRedirectId,
  VersionId
} from "./Ids.ts"

export const Product = Schema.Struct({ id: ProductId, name: Name, publiclist: Schema.Boolean }).annotate({
  identifier: "Product"
})
export type Product = typeof Product.Type
export const UpdateProduct = partial(Product.mapFields(Struct.omit(["id"]))).annotate({ identifier: "UpdateProduct" })
export const CreateProduct = Schema.Struct({ ...UpdateProduct.fields, name: Name }).annotate({
  identifier: "CreateProduct"
})
export type CreateProduct = typeof CreateProduct.Type

export const Version = Schema.Struct({
  id: VersionId,
  productId: ProductId,
  name: Name,
  isTest: Schema.Boolean,
  display: Schema.Boolean,
  displayName: Schema.NullOr(Name),
  codename: Schema.NullOr(Name),
  sortOrder: Int32
}).annotate({ identifier: "Version" })
export type Version = typeof Version.Type
export const UpdateVersion = partial(Version.mapFields(Struct.omit(["id"]))).annotate({ identifier: "UpdateVersion" })
export const CreateVersion = Schema.Struct({ ...UpdateVersion.fields, productId: ProductId, name: Name }).annotate({
  identifier: "CreateVersion"
})
export type CreateVersion = typeof CreateVersion.Type

export const Arch = Schema.Struct({
  id: ArchId,
  name: Token,
  publiclist: Schema.Boolean,
  primaryArch: Schema.Boolean
}).annotate({ identifier: "Arch" })
export type Arch = typeof Arch.Type
export const UpdateArch = partial(Arch.mapFields(Struct.omit(["id"]))).annotate({ identifier: "UpdateArch" })
export const CreateArch = Schema.Struct({ ...UpdateArch.fields, name: Token }).annotate({ identifier: "CreateArch" })
export type CreateArch = typeof CreateArch.Type

const CategoryFields = {
  name: Name,
  productId: ProductId,
  topdir: DirectoryPath,
  masterPath: Schema.NullOr(LocalPath),
  canonicalHost: Schema.NullOr(WebUrl),
  publiclist: Schema.Boolean,
  adminOnly: Schema.Boolean,
  geoDnsDomain: Schema.NullOr(Label)
}

export const Category = Schema.Struct({ id: CategoryId, ...CategoryFields }).annotate({ identifier: "Category" })
export type Category = typeof Category.Type
export const UpdateCategory = partial(Schema.Struct(CategoryFields)).annotate({ identifier: "UpdateCategory" })
export const CreateCategory = Schema.Struct({
  ...UpdateCategory.fields,
  name: Name,
  productId: ProductId,
  topdir: DirectoryPath
}).annotate({ identifier: "CreateCategory" })
export type CreateCategory = typeof CreateCategory.Type

/** One file a crawler checks in a directory. */
export const DirectoryFile = Schema.Struct({ name: Schema.String, size: Schema.Int, timestamp: EpochSeconds })

export const Directory = Schema.Struct({
  id: DirectoryId,
  name: Schema.String,
  files: Schema.Array(DirectoryFile),
  readable: Schema.Boolean,
  ctime: Schema.NullOr(EpochSeconds)
}).annotate({ identifier: "Directory" })
export type Directory = typeof Directory.Type

export const Repository = Schema.Struct({
  id: RepositoryId,
  name: Schema.String,
  prefix: Schema.NullOr(Schema.String),
  arch: Schema.String,
  directory: Schema.String,
  categoryId: CategoryId,
  versionId: Schema.NullOr(VersionId),
  disabled: Schema.Boolean,
  /** Made by the master scan from the prefix rules (which rename it when they change); false = an admin's. */
  scanned: Schema.Boolean
}).annotate({ identifier: "Repository" })
export type Repository = typeof Repository.Type

const RepositoryInputFields = {
  prefix: Schema.NullOr(Token),
  arch: Token,
  directory: DirectoryPath,
  categoryId: CategoryId,
  versionId: Schema.NullOr(VersionId),
  disabled: Schema.Boolean,
  /** true hands a repository back to the scan's rules; changing its name, arch, directory or version takes it. */
  scanned: Schema.Boolean
}
export const UpdateRepository = partial(Schema.Struct(RepositoryInputFields)).annotate({
  identifier: "UpdateRepository"
})
export type UpdateRepository = typeof UpdateRepository.Type
export const CreateRepository = Schema.Struct({
  ...UpdateRepository.fields,
  arch: Token,
  directory: DirectoryPath,
  categoryId: CategoryId
}).annotate({ identifier: "CreateRepository" })
export type CreateRepository = typeof CreateRepository.Type

export const RepositoryRedirect = Schema.Struct({
  id: RepositoryRedirectId,
  fromRepo: Token,
  toRepo: Token
}).annotate({ identifier: "RepositoryRedirect" })
export type RepositoryRedirect = typeof RepositoryRedirect.Type
export const CreateRepositoryRedirect = Schema.Struct({ fromRepo: Token, toRepo: Token }).annotate({
  identifier: "CreateRepositoryRedirect"
})
export type CreateRepositoryRedirect = typeof CreateRepositoryRedirect.Type
export const UpdateRepositoryRedirect = partial(CreateRepositoryRedirect).annotate({
  identifier: "UpdateRepositoryRedirect"
})

const Hex = (length: number) => Schema.String.check(Schema.isPattern(new RegExp(`^[0-9a-f]{${length}}$`)))

/** One known version of a file (newest = current, older = metalink alternates). */
export const FileDetail = Schema.Struct({
  id: FileDetailId,
  directoryId: DirectoryId,
  filename: Schema.String,
  timestamp: EpochSeconds,
  size: Schema.Int,
  md5: Schema.NullOr(Hex(32)),
  sha1: Schema.NullOr(Hex(40)),
  sha256: Hex(64),
  sha512: Schema.NullOr(Hex(128))
}).annotate({ identifier: "FileDetail" })
export type FileDetail = typeof FileDetail.Type
