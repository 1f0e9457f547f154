// Propagation statistics (docs/crawler.md#propagation): per repository and crawl run, how many active public hosts
// carry the newest repomd.xml, one a day older, two days, older (or stale), and of how many nothing is known. Any
// signed-in user (every /api/ operation needs a login; the public pages are another matter).
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { PropagationStat } from "../crawler/index.ts"
import { RepositoryId } from "../registry/index.ts"
import { Authentication } from "./Authentication.ts"

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
