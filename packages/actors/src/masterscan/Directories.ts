// The master tree as scanned: directories and the file details (known versions) of their files, and the emergency
// expire of file details (docs/masterscan.md#aging).

import type { DirectoryFilter, ExpireResult } from "@mirrormanager/domain/masterscan"
import type {
  Directory,
  DirectoryId,
  FileDetail,
  Forbidden,
  NotFound,
  Page,
  Principal,
  RepositoryId,
  VersionId
} from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient, type Statement } from "effect/sql"
import { ChangeLog, makeTable, transaction } from "../db/index.ts"
import { requireAdmin } from "../registry/index.ts"

export class Directories extends Context.Service<
  Directories,
  {
    readonly list: (p: Principal, filter: DirectoryFilter) => Effect.Effect<Page<Directory>>
    readonly get: (p: Principal, id: DirectoryId) => Effect.Effect<Directory, NotFound>
    readonly fileDetails: (p: Principal, directoryId: DirectoryId) => Effect.Effect<ReadonlyArray<FileDetail>, NotFound>
    readonly repositoryFileDetails: (
      p: Principal,
      repositoryId: RepositoryId
    ) => Effect.Effect<ReadonlyArray<FileDetail>, NotFound>
    /** Keeps only the newest file detail of every file in and below the repository's (or version's) directories. */
    readonly expire: (
      p: Principal,
      target: { readonly repositoryId: RepositoryId } | { readonly versionId: VersionId }
    ) => Effect.Effect<ExpireResult, Forbidden | NotFound>
  }
>()("actors/Directories") {
  static readonly layer = Layer.effect(
    Directories,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const changes = yield* ChangeLog
      const directories = yield* makeTable<Directory>({
        table: "directories",
        resource: "directory",
        select: { id: "t.id", name: "t.name", files: "t.files", readable: "t.readable", ctime: "t.ctime::float8" },
        columns: {},
        orderBy: "t.name"
      })
      const repositories = yield* makeTable<{ id: number; directory: string }>({
        table: "repositories",
        resource: "repository",
        select: { id: "t.id", directory: "d.name" },
        joins: "JOIN directories d ON d.id = t.directory_id",
        columns: {}
      })

      const versions = yield* makeTable<{ id: number }>({
        table: "versions",
        resource: "version",
        select: { id: "t.id" },
        columns: {}
      })

      const detailsWhere = (where: Statement.Fragment) =>
        sql<FileDetail>`SELECT id, directory_id AS "directoryId", filename, timestamp::float8 AS timestamp,
            size::float8 AS size, md5, sha1, sha256, sha512
          FROM file_details WHERE ${where} ORDER BY filename, timestamp DESC, id DESC`.pipe(Effect.orDie)

      return Directories.of({
        list: Effect.fn("Directories.list")(function* (_p, filter) {
          const conditions = [sql`true`]
          if (filter.categoryId !== undefined) {
            conditions.push(sql`t.id IN (SELECT directory_id FROM category_directories
              WHERE category_id = ${filter.categoryId})`)
          }
          if (filter.under !== undefined) {
            const under = filter.under.replace(/^\/+|\/+$/g, "")
            const pattern = `${under.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`
            conditions.push(sql`(t.name = ${under} OR t.name LIKE ${pattern})`)
          }
          return yield* directories.list(filter, sql.and(conditions))
        }),
        get: Effect.fn("Directories.get")(function* (_p, id) {
          return yield* directories.get(id)
        }),
        fileDetails: Effect.fn("Directories.fileDetails")(function* (_p, directoryId) {
          yield* directories.get(directoryId)
          return yield* detailsWhere(sql`directory_id = ${directoryId}`)
        }),
        repositoryFileDetails: Effect.fn("Directories.repositoryFileDetails")(function* (_p, repositoryId) {
          const repository = yield* repositories.get(repositoryId)
          return yield* detailsWhere(sql`filename = 'repomd.xml' AND directory_id =
            (SELECT id FROM directories WHERE name = ${`${repository.directory}/repodata`})`)
        }),
        expire: Effect.fn("Directories.expire")(function* (p, target) {
          yield* requireAdmin(p, "expire file details")
          if ("repositoryId" in target) yield* repositories.get(target.repositoryId)
          else yield* versions.get(target.versionId)
          const which =
            "repositoryId" in target ? sql`r.id = ${target.repositoryId}` : sql`r.version_id = ${target.versionId}`
          return yield* transaction(sql)(
            Effect.gen(function* () {
              const removed = yield* sql<{ directoryId: number }>`DELETE FROM file_details f USING (
                  SELECT fd.id, row_number() OVER (PARTITION BY fd.directory_id, fd.filename
                    ORDER BY fd.timestamp DESC, fd.id DESC) AS rank
                  FROM file_details fd JOIN directories d ON d.id = fd.directory_id
                  WHERE EXISTS (SELECT 1 FROM repositories r JOIN directories rd ON rd.id = r.directory_id
                    WHERE ${which} AND (d.name = rd.name OR starts_with(d.name, rd.name || '/')))
                ) x
                WHERE f.id = x.id AND x.rank > 1
                RETURNING f.directory_id AS "directoryId"`
              if (removed.length > 0) {
                yield* changes.record("file-details-expired", {
                  ...target,
                  fileDetailDirectories: [...new Set(removed.map((row) => row.directoryId))]
                })
              }
              return { fileDetailsRemoved: removed.length }
            })
          )
        })
      })
    })
  )
}
