// Products, versions, arches, categories, repositories and repository redirects (writes: global admins).
import { HttpApiGroup, OpenApi } from "effect/http-api"
import * as C from "../registry/index.ts"
import { ArchId, CategoryId, ProductId, RepositoryId, RepositoryRedirectId, VersionId } from "../registry/index.ts"
import { Authentication } from "./Authentication.ts"
import { crudEndpoints } from "./Crud.ts"

export class ContentApi extends HttpApiGroup.make("content")
  .add(
    ...crudEndpoints("Product", "/api/products", {
      id: ProductId,
      item: C.Product,
      create: C.CreateProduct,
      update: C.UpdateProduct
    })
  )
  .add(
    ...crudEndpoints("Version", "/api/versions", {
      id: VersionId,
      item: C.Version,
      create: C.CreateVersion,
      update: C.UpdateVersion
    })
  )
  .add(
    ...crudEndpoints("Arch", "/api/arches", { id: ArchId, item: C.Arch, create: C.CreateArch, update: C.UpdateArch })
  )
  .add(
    ...crudEndpoints("Category", "/api/categories", {
      id: CategoryId,
      item: C.Category,
      create: C.CreateCategory,
      update: C.UpdateCategory
    })
  )
  .add(
    ...crudEndpoints("Repository", "/api/repositories", {
      id: RepositoryId,
      item: C.Repository,
      create: C.CreateRepository,
      update: C.UpdateRepository
    })
  )
  .add(
    ...crudEndpoints("RepositoryRedirect", "/api/repository-redirects", {
      id: RepositoryRedirectId,
      item: C.RepositoryRedirect,
      create: C.CreateRepositoryRedirect,
      update: C.UpdateRepositoryRedirect
    })
  )
  .middleware(Authentication)
  .annotateMerge(
    OpenApi.annotations({ title: "Content", description: "What mirrors carry; written by global admins" })
  ) {}
