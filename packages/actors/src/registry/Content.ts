// The content model kept by global admins: products, versions, arches, categories, repositories and redirects.
import type {
  Arch,
  Category,
  CreateArch,
  CreateCategory,
  CreateProduct,
  CreateRepository,
  CreateRepositoryRedirect,
  CreateVersion,
  Product,
  Repository,
  RepositoryRedirect,
  UpdateRepository,
  Version
} from "@mirrormanager/domain/registry"
import { Unprocessable } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { makeTable } from "../db/index.ts"
import { type AdminCrud, adminCrud, type Patch } from "./AdminCrud.ts"

const REDIRECTS_LOCK = 4242003

export class Content extends Context.Service<
  Content,
  {
    readonly products: AdminCrud<Product, CreateProduct, Patch<CreateProduct>>
    readonly versions: AdminCrud<Version, CreateVersion, Patch<CreateVersion>>
    readonly arches: AdminCrud<Arch, CreateArch, Patch<CreateArch>>
    readonly categories: AdminCrud<Category, CreateCategory, Patch<CreateCategory>>
    readonly repositories: AdminCrud<Repository, CreateRepository, UpdateRepository>
    readonly repositoryRedirects: AdminCrud<
      RepositoryRedirect,
      CreateRepositoryRedirect,
      Patch<CreateRepositoryRedirect>
    >
  }
>()("actors/Content") {
  static readonly layer = Layer.effect(
    Content,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      /** Directories are shared by categories and repositories; they are created on first mention. */
      const directoryId = (path: string) =>
        sql<{ id: number }>`INSERT INTO directories (name) VALUES (${path})
          ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`.pipe(
          Effect.map((rows) => rows[0]!.id),
          Effect.orDie
        )

      const archId = (name: string) =>
        Effect.flatMap(sql<{ id: number }>`SELECT id FROM arches WHERE name = ${name}`.pipe(Effect.orDie), ([row]) =>
          row === undefined
            ? Effect.fail(new Unprocessable({ detail: `unknown arch "${name}"; a global admin adds arches first` }))
            : Effect.succeed(row.id)
        )

      const products = yield* makeTable<Product>({
        table: "products",
        resource: "product",
        select: { id: "t.id", name: "t.name", publiclist: "t.publiclist" },
        columns: { name: "name", publiclist: "publiclist" },
        unique: { products_name_key: "a product with this name already exists" }
      })
      const versions = yield* makeTable<Version>({
        table: "versions",
        resource: "version",
        select: {
          id: "t.id",
          productId: "t.product_id",
          name: "t.name",
          isTest: "t.is_test",
          display: "t.display",
          displayName: "t.display_name",
          codename: "t.codename",
          sortOrder: "t.sort_order"
        },
        columns: {
          productId: "product_id",
          name: "name",
          isTest: "is_test",
          display: "display",
          displayName: "display_name",
          codename: "codename",
          sortOrder: "sort_order"
        },
        unique: { versions_product_id_name_key: "this product already has a version with this name" }
      })
      const arches = yield* makeTable<Arch>({
        table: "arches",
        resource: "arch",
        select: { id: "t.id", name: "t.name", publiclist: "t.publiclist", primaryArch: "t.primary_arch" },
        columns: { name: "name", publiclist: "publiclist", primaryArch: "primary_arch" },
        unique: { arches_name_key: "an arch with this name already exists" }
      })
      const categories = yield* makeTable<Category>({
        table: "categories",
        resource: "category",
        select: {
          id: "t.id",
          name: "t.name",
          productId: "t.product_id",
          topdir: "d.name",
          masterPath: "t.master_path",
          canonicalHost: "t.canonical_host",
          publiclist: "t.publiclist",
          adminOnly: "t.admin_only",
          geoDnsDomain: "t.geo_dns_domain"
        },
        joins: "JOIN directories d ON d.id = t.topdir_id",
        columns: {
          name: "name",
          productId: "product_id",
          topdirId: "topdir_id",
          masterPath: "master_path",
          canonicalHost: "canonical_host",
          publiclist: "publiclist",
          adminOnly: "admin_only",
          geoDnsDomain: "geo_dns_domain"
        },
        unique: {
          categories_name_key: "a category with this name already exists",
          categories_name_ci: "a category with this name (ignoring case) already exists"
        }
      })
      const repositories = yield* makeTable<Repository>({
        table: "repositories",
        resource: "repository",
        select: {
          id: "t.id",
          name: "t.name",
          prefix: "t.prefix",
          arch: "a.name",
          directory: "d.name",
          categoryId: "t.category_id",
          versionId: "t.version_id",
          disabled: "t.disabled",
          scanned: "t.scanned"
        },
        joins: "JOIN arches a ON a.id = t.arch_id JOIN directories d ON d.id = t.directory_id",
        columns: {
          name: "name",
          prefix: "prefix",
          archId: "arch_id",
          directoryId: "directory_id",
          categoryId: "category_id",
          versionId: "version_id",
          disabled: "disabled",
          scanned: "scanned"
        },
        unique: { repositories_prefix_arch_id_key: "a repository with this prefix and arch already exists" }
      })
      const redirects = yield* makeTable<RepositoryRedirect>({
        table: "repository_redirects",
        resource: "repository redirect",
        select: { id: "t.id", fromRepo: "t.from_repo", toRepo: "t.to_repo" },
        columns: { fromRepo: "from_repo", toRepo: "to_repo" },
        unique: { repository_redirects_from_repo_key: "a redirect from this repo already exists" }
      })

      const categoryRow = (input: Patch<CreateCategory>) =>
        input.topdir === undefined
          ? Effect.succeed({ ...input })
          : Effect.map(directoryId(input.topdir), (topdirId) => ({ ...input, topdirId }))

      const repositoryRow = (input: UpdateRepository) =>
        Effect.gen(function* () {
          const row: Record<string, unknown> = { ...input }
          // What an admin names by hand is theirs: the master scan no longer renames it.
          if (
            input.scanned === undefined &&
            [input.prefix, input.arch, input.directory, input.versionId].some((v) => v !== undefined)
          ) {
            row.scanned = false
          }
          if (input.arch !== undefined) row.archId = yield* archId(input.arch)
          if (input.directory !== undefined) {
            row.directoryId = yield* directoryId(input.directory)
            row.name = input.directory
          }
          return row
        })

      /**
       * docs/registry.md#data-model: a redirect is a single hop; its target must not itself be redirected, nor its
       * source a target.
       */
      const checkRedirect = (id: number | undefined, from: string, to: string) =>
        Effect.gen(function* () {
          if (from === to) return yield* new Unprocessable({ detail: "a repository cannot redirect to itself" })
          // Concurrent writes could each pass the check and together build a chain: check and write one at a time.
          yield* sql`SELECT pg_advisory_xact_lock(${REDIRECTS_LOCK})`.pipe(Effect.orDie)
          const others = id ?? 0
          const chained = yield* sql<{ fromRepo: string; toRepo: string }>`SELECT from_repo AS "fromRepo",
            to_repo AS "toRepo" FROM repository_redirects
            WHERE id <> ${others} AND (from_repo = ${to} OR to_repo = ${from})`.pipe(Effect.orDie)
          const hop = chained[0]
          if (hop !== undefined) {
            return yield* new Unprocessable({
              detail: `redirects are single hop: ${hop.fromRepo} -> ${hop.toRepo} already exists`
            })
          }
        })

      return Content.of({
        products: adminCrud(sql, products, { plural: "products" }),
        versions: adminCrud(sql, versions, { plural: "versions" }),
        arches: adminCrud(sql, arches, { plural: "arches" }),
        categories: adminCrud(sql, categories, {
          plural: "categories",
          createRow: categoryRow,
          updateRow: (_id, input) => categoryRow(input)
        }),
        repositories: adminCrud(sql, repositories, {
          plural: "repositories",
          createRow: repositoryRow,
          updateRow: (_id, input) => repositoryRow(input)
        }),
        repositoryRedirects: adminCrud(sql, redirects, {
          plural: "repository redirects",
          createRow: (input) => Effect.as(checkRedirect(undefined, input.fromRepo, input.toRepo), { ...input }),
          updateRow: (id, input) =>
            Effect.gen(function* () {
              const current = yield* redirects.get(id).pipe(Effect.orDie)
              yield* checkRedirect(id, input.fromRepo ?? current.fromRepo, input.toRepo ?? current.toRepo)
              return { ...input }
            })
        })
      })
    })
  )
}
