// Composition of one node: its database side (registry database, cluster runner, registry services, admin API,
// scans, change follower) run in the background behind its front (redirector and HTTP servers), and the global
// admin it makes sure of.

import { RegistryLayer } from "@mirrormanager/actors"
import { CrawlerStateLayer } from "@mirrormanager/actors/crawler"
import { Redirector } from "@mirrormanager/actors/redirector"
import { Accounts } from "@mirrormanager/actors/registry"
import { Context, Effect, Fiber, Layer, Option, Redacted, Schedule } from "effect"
import { NodeConfig } from "./Config.ts"
import { NodeRunnerLayer } from "./NodeCluster.ts"
import { NodeDatabaseLayer } from "./NodeDatabase.ts"
import { AdminApiLayer, FrontServerLayer, HttpServerLayer, Listening } from "./NodeHttp.ts"
import { MasterScanPolicyLayer, NodeMasterScanScheduleLayer } from "./NodeMasterScan.ts"
import { NodeChangeFollowerLayer, RedirectorLayer } from "./NodeRedirector.ts"

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

/** Everything that needs the registry database: admin API, check-ins, scans, the change follower. */
export const DatabaseSideServicesLayer = Listening.pipe(
  Layer.provideMerge(AdminApiLayer),
  Layer.provideMerge(NodeChangeFollowerLayer),
  Layer.provideMerge(NodeMasterScanScheduleLayer),
  Layer.provideMerge(BootstrapAdmin),
  Layer.provideMerge(NodeRunnerLayer),
  Layer.provideMerge(RegistryLayer),
  Layer.provide(MasterScanPolicyLayer),
  Layer.provideMerge(NodeDatabaseLayer)
)

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
      const attempt = Layer.launch(DatabaseSideServicesLayer).pipe(
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

export const NodeLayer = DatabaseSide.layer.pipe(
  Layer.provideMerge(HttpServerLayer),
  Layer.provideMerge(FrontServerLayer),
  Layer.provideMerge(RedirectorLayer),
  // The node's own crawl counters (written by its Host entities, read by /metrics) and connections to mirrors.
  Layer.provideMerge(CrawlerStateLayer)
)

/** Runs a node until it is stopped, or until its database side fails with nothing to serve. */
export const runNode = Effect.scoped(
  Effect.gen(function* () {
    const context = yield* Layer.build(NodeLayer)
    return yield* Fiber.join(Context.get(context, DatabaseSide).fiber)
  })
)
