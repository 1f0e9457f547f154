// Composition of one node, by its role (docs/operations.md#roles): its database side run in the background behind its
// front (redirector and HTTP servers). A full node's database side is the registry database, cluster runner and
// entities, registry services, admin API, scans, change follower and the global admin it makes sure of; a redirector
// node's is the change follower on a small pool (or nothing, when full nodes' feed feeds it: MM_INDEX_FEED), and its
// front refuses everything but the redirector's paths.

import { RegistryLayer } from "@mirrormanager/actors"
import { CrawlerStateLayer } from "@mirrormanager/actors/crawler"
import { Redirector } from "@mirrormanager/actors/redirector"
import { Accounts } from "@mirrormanager/actors/registry"
import { Context, Effect, Fiber, Layer, Option, Redacted, Schedule } from "effect"
import { NodeConfig } from "./Config.ts"
import { NodeRunnerLayer } from "./NodeCluster.ts"
import { NodeDatabaseLayer } from "./NodeDatabase.ts"
import { AdminApiLayer, FrontServerLayer, HttpServerLayer, Listening, RedirectorRoleLayer } from "./NodeHttp.ts"
import { MasterScanPolicyLayer, NodeMasterScanScheduleLayer } from "./NodeMasterScan.ts"
import { NodeChangeFollowerLayer, RedirectorLayer } from "./NodeRedirector.ts"
import { NodeAccessCountsLayer, NodeAccessStatisticsLayer } from "./NodeStatistics.ts"

/** Makes sure a global admin can sign in: MM_ADMIN_TOKEN, or a token generated once and shown once. */
export const BootstrapAdmin = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    const accounts = yield* Accounts
    const result = yield* accounts.bootstrap(config.adminToken)
    if (Option.isSome(result.generatedToken)) {
      yield* Effect.logWarning(
        `no MM_ADMIN_TOKEN set: generated a global admin token. It is shown this once and stored hashed: ${Redacted.value(result.generatedToken.value)}`
      )
    } else if (result.source === "configured") {
      yield* Effect.logInfo("global admin token: MM_ADMIN_TOKEN")
    }
  })
)

/** A full node's work on the registry database: admin API, check-ins, the runner, scans, the change follower. */
export const DatabaseSideServicesLayer = Listening.pipe(
  Layer.provideMerge(AdminApiLayer),
  Layer.provideMerge(NodeChangeFollowerLayer),
  Layer.provideMerge(NodeMasterScanScheduleLayer),
  Layer.provideMerge(BootstrapAdmin),
  Layer.provideMerge(NodeRunnerLayer),
  Layer.provideMerge(RegistryLayer),
  Layer.provide(MasterScanPolicyLayer),
  // Built right after the database, stopped right before it: the last counts are added as the node stops.
  Layer.provideMerge(NodeAccessStatisticsLayer),
  Layer.provideMerge(NodeDatabaseLayer)
)

/**
 * A redirector node's work on the registry database: only following its changes into the index (the one place its
 * index comes from: NodeRedirector's NodeChangeFollowerLayer). No runner, entities, schedules, admin API or
 * check-ins; its pool is the change stream's LISTEN and MM_DATABASE_CONNECTIONS - 1 more.
 */
export const RedirectorDatabaseSideLayer = Listening.pipe(
  Layer.provideMerge(NodeChangeFollowerLayer),
  Layer.provideMerge(NodeAccessStatisticsLayer),
  Layer.provideMerge(NodeDatabaseLayer)
)

/** What a node runs besides its front: by its role, and for a redirector node whether a full node's feed feeds it. */
const databaseSideOf = (config: NodeConfig["Service"]) =>
  config.role === "full"
    ? DatabaseSideServicesLayer
    : config.indexFeed.length > 0
      ? // Fed by full nodes (MM_INDEX_FEED): no database at all.
        Listening
      : RedirectorDatabaseSideLayer

/**
 * The database side of the node, run in the background. It fails the node when there is nothing to serve without
 * it; with an index (the snapshot), the node keeps answering and tries again, and readiness says "degraded".
 */
export class DatabaseSide extends Context.Service<DatabaseSide, { readonly fiber: Fiber.Fiber<never, unknown> }>()(
  "cluster-node/DatabaseSide"
) {
  static readonly layer = Layer.effect(
    DatabaseSide,
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const config = yield* NodeConfig
      const services = databaseSideOf(config)
      yield* Effect.logInfo(
        config.role === "redirector" && config.indexFeed.length > 0
          ? `role: redirector (fed by ${config.indexFeed.join(", ")}, no database connections)`
          : `role: ${config.role} (a pool of ${config.databaseConnections} database connections)`
      )
      const attempt = Layer.launch(services).pipe(
        Effect.tapCause((cause) =>
          redirector.status().index === undefined
            ? Effect.void
            : Effect.gen(function* () {
                const text = String(cause).split("\n")[0]
                redirector.databaseLost(text)
                yield* Effect.logWarning(`registry database unavailable, serving the last index: ${text}`)
              })
        )
      )
      const fiber = yield* attempt.pipe(
        Effect.retry({
          while: () => redirector.status().index !== undefined,
          schedule: Schedule.min([Schedule.exponential("1 second", 2), Schedule.spaced("15 seconds")])
        }),
        Effect.forkScoped
      )
      return DatabaseSide.of({ fiber })
    })
  )
}

/** A redirector node answers every other path itself (404, saying it is a redirector); a full node's admin API does. */
const RoleFrontLayer = Layer.unwrap(
  Effect.map(NodeConfig, (config) => (config.role === "redirector" ? RedirectorRoleLayer : Layer.empty))
)

export const NodeLayer = DatabaseSide.layer.pipe(
  Layer.provideMerge(HttpServerLayer),
  Layer.provideMerge(RoleFrontLayer),
  Layer.provideMerge(FrontServerLayer),
  Layer.provideMerge(RedirectorLayer),
  // The node's own crawl counters (written by its Host entities, read by /metrics) and connections to mirrors.
  Layer.provideMerge(CrawlerStateLayer),
  // The access statistics' counts: the front server counts, the database side adds them (NodeStatistics).
  Layer.provideMerge(NodeAccessCountsLayer)
)

/** Runs a node until it is stopped, or until its database side fails with nothing to serve. */
export const runNode = Effect.scoped(
  Effect.gen(function* () {
    const context = yield* Layer.build(NodeLayer)
    return yield* Fiber.join(Context.get(context, DatabaseSide).fiber)
  })
)
