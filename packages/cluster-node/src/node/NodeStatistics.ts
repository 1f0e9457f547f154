// The node's access statistics (docs/statistics.md): the counter its front server counts into, made with the node
// (kept across restarts of its database side), and the flusher that adds the counts to the database every
// MM_STATS_FLUSH_INTERVAL, run with the database side.
import {
  AccessCounts,
  AccessStatistics,
  AccessStatisticsFlushLayer,
  defaultAccessStatisticsFlushOptions
} from "@mirrormanager/actors/statistics"
import { Duration, Effect, Layer } from "effect"
import { NodeConfig } from "./Config.ts"

/** The counter; off with MM_ACCESS_STATS=off, and on a redirector node fed by MM_INDEX_FEED (no database to add to). */
export const NodeAccessCountsLayer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    const fed = config.role === "redirector" && config.indexFeed.length > 0
    if (!config.accessStats) {
      yield* Effect.logInfo("access statistics: off (MM_ACCESS_STATS=off), this node's requests are not counted")
    } else if (fed) {
      yield* Effect.logWarning(
        "access statistics: this node's requests are not counted: fed by MM_INDEX_FEED, it has no database to add its counts to (give it DATABASE_URL to count them)"
      )
    } else {
      yield* Effect.logInfo(
        `access statistics: requests counted, added to the database every ${Duration.format(config.statsFlushInterval)}, kept ${config.statsKeepDays} days`
      )
    }
    return AccessCounts.layer({ enabled: config.accessStats && !fed })
  })
)

/** The flusher, for a database side (a full node's, or a redirector node's on DATABASE_URL). */
export const NodeAccessStatisticsLayer = Layer.unwrap(
  Effect.map(NodeConfig, (config) =>
    AccessStatisticsFlushLayer({
      ...defaultAccessStatisticsFlushOptions,
      interval: config.statsFlushInterval,
      keepDays: config.statsKeepDays
    }).pipe(Layer.provide(AccessStatistics.layer))
  )
)
