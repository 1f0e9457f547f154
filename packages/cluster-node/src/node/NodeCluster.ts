// The node's part in the cluster: its runner (settings of sharding, the socket between runners) and the entities it
// runs, or a command's client-only membership.

import { NodeClusterSocket } from "@effect/platform-node"
import { Checkins } from "@mirrormanager/actors/checkin"
import { CrawlScheduleLayer, defaultCrawlOptions, defaultCrawlScheduleOptions } from "@mirrormanager/actors/crawler"
import { within } from "@mirrormanager/actors/db"
import { defaultEventDeliveryOptions, EventDeliveryLayer } from "@mirrormanager/actors/events"
import { hostEntityLayer } from "@mirrormanager/actors/host"
import { Duration, Effect, Exit, Layer, Option, Scope } from "effect"
import { RunnerAddress } from "effect/cluster"
import { NodeConfig } from "./Config.ts"

/**
 * The entities a node runs (NodeRunnerLayer adds the runner): every node accepts any check-in, and the host's entity
 * applies it on whichever node owns the host.
 */
const EntitiesLayer = Layer.unwrap(
  Effect.map(NodeConfig, (config) =>
    Layer.mergeAll(
      hostEntityLayer({ ...defaultCrawlOptions, allowPrivateAddresses: config.crawlPrivateAddresses }),
      Checkins.layer(),
      EventDeliveryLayer({
        ...defaultEventDeliveryOptions,
        url: Option.getOrUndefined(config.eventWebhook),
        secret: Option.getOrUndefined(config.eventWebhookSecret)
      }),
      CrawlScheduleLayer({
        ...defaultCrawlScheduleOptions,
        interval: config.crawlInterval,
        repodataInterval: config.crawlRepodataInterval,
        canaryInterval: config.crawlCanaryInterval,
        disabledInterval: config.crawlDisabledInterval,
        parallel: Math.max(1, config.crawlParallel)
      })
    )
  )
)

/**
 * The shard-lock timing of MM_SHARD_LOCK_EXPIRATION (docs/operations.md#shard-locks): refreshed every third of the
 * expiration. effect's cluster allows each refresh that same third to finish (event loop and database together);
 * one that does not counts as lock storage lost, and the node stops its entities and gives its shards up. So a node
 * keeps its shards through any stall shorter than a third of the expiration, and a frozen node keeps them for at
 * most the expiration (PostgreSQL ends its idle lock session then, and the other runners stop counting it).
 */
const shardLockTiming = (expiration: Duration.Duration) => ({
  shardLockExpiration: expiration,
  shardLockRefreshInterval: Duration.divideUnsafe(expiration, 3)
})

/**
 * The cluster as this process takes part in it: a node's runner (its storage in the registry database, runners
 * talking over TCP), or a command's client that only sends messages to the runners of the nodes.
 */
export const clusterLayer = (options: { readonly clientOnly: boolean }) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* NodeConfig
      const locks = shardLockTiming(config.shardLockExpiration)
      if (!options.clientOnly) {
        yield* Effect.logInfo(
          `cluster runner: ${config.runnerHost}:${config.runnerPort} (shard locks expire after ${Duration.format(locks.shardLockExpiration)})`
        )
      }
      return NodeClusterSocket.layer({
        storage: "sql",
        clientOnly: options.clientOnly,
        shardingConfig: {
          runnerAddress: Option.some(RunnerAddress.make(config.runnerHost, config.runnerPort)),
          runnerListenAddress: Option.map(config.runnerListenHost, (host) =>
            RunnerAddress.make(host, config.runnerPort)
          ),
          // A message to an entity of this node is handed over as it is: effect's cluster would otherwise encode and
          // decode it as if it went to another node (a check-in of 100,000 directories: tens of milliseconds of the
          // event loop for nothing). Messages between nodes are encoded as ever.
          simulateRemoteSerialization: false,
          entityMessagePollInterval: "100 millis",
          entityReplyPollInterval: "50 millis",
          // A node that dies (its connections closed) gives its hosts up within seconds: the runners ping each other
          // every second, and PostgreSQL frees a closed session's shard locks at once. A node frozen or cut off keeps
          // them until its locks expire (see shardLockTiming).
          runnerHealthCheckInterval: "1 second",
          refreshAssignmentsInterval: "1 second",
          ...locks
        }
      })
    })
  )

/**
 * How long a stopping node waits for its runner to hand its shards off. That takes well under a second with the
 * database answering; without it, effect's cluster would wait a third of the shard-lock expiration per attempt (10 s
 * by default), past the node's stop bound. A node that stops waiting exits soon after: PostgreSQL frees its locks as
 * its sessions end.
 */
export const RUNNER_STOP_BOUND = Duration.seconds(3)

/** The runner of `layer`, its stop bounded by RUNNER_STOP_BOUND (what is left of it goes on in the background). */
const stoppedWithin = <A, E, R>(layer: Layer.Layer<A, E, R>) =>
  Layer.effectContext(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() =>
        Scope.close(scope, Exit.void).pipe(
          within(RUNNER_STOP_BOUND),
          Effect.flatMap((closed) =>
            Option.isSome(closed)
              ? Effect.void
              : // Info: the database's loss, the usual reason, was said already (one warning line).
                Effect.logInfo(
                  `the cluster runner did not hand its shards off within ${Duration.format(RUNNER_STOP_BOUND)}; they are freed as the node's database sessions end`
                )
          )
        )
      )
      return yield* Layer.buildWithScope(layer, scope).pipe(Effect.onError(() => Scope.close(scope, Exit.void)))
    })
  )

/** A node's runner and the entities it runs. */
export const NodeRunnerLayer = EntitiesLayer.pipe(
  Layer.provideMerge(stoppedWithin(clusterLayer({ clientOnly: false })))
)
