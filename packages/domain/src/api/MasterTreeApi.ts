// The master tree as scanned (docs/masterscan.md#overview): directories, file details, and scans of a category's master
// tree.
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { DirectoryFilter, ExpireResult, ScanStatus } from "../masterscan/index.ts"
import {
  CategoryId,
  Directory,
  DirectoryId,
  FileDetail,
  Forbidden,
  NotFound,
  Page,
  RepositoryId,
  Unprocessable,
  VersionId
} from "../registry/index.ts"
import { Authentication } from "./Authentication.ts"

export class MasterTreeApi extends HttpApiGroup.make("masterTree")
  .add(
    HttpApiEndpoint.get("listDirectories", "/api/directories", {
      query: DirectoryFilter.fields,
      success: Page(Directory)
    }),
    HttpApiEndpoint.get("getDirectory", "/api/directories/:id", {
      params: { id: DirectoryId },
      success: Directory,
      error: NotFound
    }),
    HttpApiEndpoint.get("listDirectoryFileDetails", "/api/directories/:id/file-details", {
      params: { id: DirectoryId },
      success: Schema.Array(FileDetail),
      error: NotFound
    }).annotateMerge(
      OpenApi.annotations({ description: "Every known version of every file of the directory, newest first per file" })
    ),
    HttpApiEndpoint.get("listRepositoryFileDetails", "/api/repositories/:id/file-details", {
      params: { id: RepositoryId },
      success: Schema.Array(FileDetail),
      error: NotFound
    }).annotateMerge(
      OpenApi.annotations({
        description:
          "The known versions of the repository's repodata/repomd.xml, newest first: the newest is what the metalink announces, the others its alternates"
      })
    ),
    HttpApiEndpoint.post("expireRepository", "/api/repositories/:id/expire", {
      params: { id: RepositoryId },
      success: ExpireResult,
      error: [Forbidden, NotFound]
    }).annotateMerge(
      OpenApi.annotations({
        description:
          "Emergency expire (global admins): keeps only the newest file detail of every file of the repository, so clients accept only the newest metadata (after a bad push or a security incident)"
      })
    ),
    HttpApiEndpoint.post("expireVersion", "/api/versions/:id/expire", {
      params: { id: VersionId },
      success: ExpireResult,
      error: [Forbidden, NotFound]
    }).annotateMerge(
      OpenApi.annotations({ description: "Emergency expire of every repository of a version (global admins)" })
    ),
    HttpApiEndpoint.get("getCategoryScan", "/api/categories/:id/scan", {
      params: { id: CategoryId },
      success: ScanStatus,
      error: NotFound
    }),
    HttpApiEndpoint.post("scanCategory", "/api/categories/:id/scan", {
      params: { id: CategoryId },
      success: ScanStatus.pipe(HttpApiSchema.status(202)),
      error: [Forbidden, NotFound, Unprocessable]
    }).annotateMerge(
      OpenApi.annotations({
        description:
          "Starts a scan of the category's master tree on this node (global admins); answers at once. A request while a scan runs queues one more."
      })
    )
  )
  .middleware(Authentication)
  .annotateMerge(
    OpenApi.annotations({ title: "Master tree", description: "Directories, file details and master-tree scans" })
  ) {}
