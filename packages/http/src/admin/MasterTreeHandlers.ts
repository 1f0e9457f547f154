// Handlers of /api/directories, file details, and /api/categories/{id}/scan.

import { Directories, logProgress, MasterScanner } from "@mirrormanager/actors/masterscan"
import { Api } from "@mirrormanager/domain/api"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { asCaller } from "./Principal.ts"

export const MasterTreeHandlers = HttpApiBuilder.group(
  Api,
  "masterTree",
  Effect.fn(function* (handlers) {
    const directories = yield* Directories
    const scanner = yield* MasterScanner
    return handlers
      .handle("listDirectories", ({ query }) => asCaller((p) => directories.list(p, query)))
      .handle("getDirectory", ({ params }) => asCaller((p) => directories.get(p, params.id)))
      .handle("listDirectoryFileDetails", ({ params }) => asCaller((p) => directories.fileDetails(p, params.id)))
      .handle("listRepositoryFileDetails", ({ params }) =>
        asCaller((p) => directories.repositoryFileDetails(p, params.id))
      )
      .handle("expireRepository", ({ params }) => asCaller((p) => directories.expire(p, { repositoryId: params.id })))
      .handle("expireVersion", ({ params }) => asCaller((p) => directories.expire(p, { versionId: params.id })))
      .handle("getCategoryScan", ({ params }) => asCaller((p) => scanner.status(p, params.id)))
      .handle("scanCategory", ({ params }) =>
        asCaller((p) =>
          scanner.request(p, params.id, {
            onProgress: logProgress,
            progressInterval: "10 seconds"
          })
        )
      )
  })
)
