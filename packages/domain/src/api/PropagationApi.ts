// Propagation statistics (SPEC 10.2): per repository and crawl run, how many active public hosts carry the newest
// repomd.xml, one a day older, two days, older (or stale), and of how many nothing is known. Any signed-in user
// (every /api/ operation needs a login; the public pages are another matter).
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { EpochSeconds, RepositoryId } from "../registry/index.ts"
import { Authentication } from "./Authentication.ts"

export const PropagationStat = Schema.Struct({
  repositoryId: RepositoryId,
  /** The repository's prefix (e.g. `epel-9`) and arch, as dnf asks for it. */
  repository: Schema.String,
  arch: Schema.String,
  category: Schema.String,
  runAt: EpochSeconds,
  /** The newest repomd.xml's timestamp (epoch seconds). */
  newestTimestamp: EpochSeconds,
  /** Hosts whose repomd.xml is the newest or at most a day older. */
  sameDay: Schema.Int,
  oneDay: Schema.Int,
  twoDay: Schema.Int,
  /** More than three days older, or stale (no retained file detail matches). */
  older: Schema.Int,
  /** Not crawled yet, or its crawls fail. */
  noInfo: Schema.Int
}).annotate({ identifier: "PropagationStat" })
export type PropagationStat = typeof PropagationStat.Type

export class PropagationApi extends HttpApiGroup.make("propagation")
  .add(
    HttpApiEndpoint.get("listPropagation", "/api/propagation", {
      query: {
        /** One repository's runs (newest first) instead of every repository's newest run. */
        repositoryId: Schema.optionalKey(RepositoryId)
      },
      success: Schema.Array(PropagationStat)
    })
  )
  .middleware(Authentication)
  .annotateMerge(
    OpenApi.annotations({
      title: "Propagation",
      description: "How far the mirrors are behind, per repository, as the crawler last saw them."
    })
  ) {}
