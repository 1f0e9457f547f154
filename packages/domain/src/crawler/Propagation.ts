// Propagation statistics: per repository and crawl run, how many active public hosts carry the newest repomd.xml,
// one a day older, two days, older (or stale), and of how many nothing is known.
import { Schema } from "effect"
import { EpochSeconds, RepositoryId } from "../registry/index.ts"

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
