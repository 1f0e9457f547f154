// Handlers of the content collections: products, versions, arches, categories, repositories, redirects.
import { Content } from "@mirrormanager/actors/registry"
import { Api } from "@mirrormanager/domain/api"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { crudHandlers } from "./CrudHandlers.ts"

export const ContentHandlers = HttpApiBuilder.group(
  Api,
  "content",
  Effect.fn(function* (handlers) {
    const content = yield* Content
    const products = crudHandlers(content.products)
    const versions = crudHandlers(content.versions)
    const arches = crudHandlers(content.arches)
    const categories = crudHandlers(content.categories)
    const repositories = crudHandlers(content.repositories)
    const redirects = crudHandlers(content.repositoryRedirects)
    return handlers
      .handle("listProduct", products.list)
      .handle("createProduct", products.create)
      .handle("getProduct", products.get)
      .handle("updateProduct", products.update)
      .handle("deleteProduct", products.remove)
      .handle("listVersion", versions.list)
      .handle("createVersion", versions.create)
      .handle("getVersion", versions.get)
      .handle("updateVersion", versions.update)
      .handle("deleteVersion", versions.remove)
      .handle("listArch", arches.list)
      .handle("createArch", arches.create)
      .handle("getArch", arches.get)
      .handle("updateArch", arches.update)
      .handle("deleteArch", arches.remove)
      .handle("listCategory", categories.list)
      .handle("createCategory", categories.create)
      .handle("getCategory", categories.get)
      .handle("updateCategory", categories.update)
      .handle("deleteCategory", categories.remove)
      .handle("listRepository", repositories.list)
      .handle("createRepository", repositories.create)
      .handle("getRepository", repositories.get)
      .handle("updateRepository", repositories.update)
      .handle("deleteRepository", repositories.remove)
      .handle("listRepositoryRedirect", redirects.list)
      .handle("createRepositoryRedirect", redirects.create)
      .handle("getRepositoryRedirect", redirects.get)
      .handle("updateRepositoryRedirect", redirects.update)
      .handle("deleteRepositoryRedirect", redirects.remove)
  })
)
