// The node's part in the cluster: its runner (settings of sharding, the socket between runners) and the entities it
// runs, or a command's client-only membership.

import { NodeClusterSocket } from "@effect/platform-node"
import { Checkins } from "@mirrormanager/actors/checkin"
import { CrawlScheduleLayer, defaultCrawlOptions, defaultCrawlScheduleOptions } from "@mirrormanager/actors/crawler"
import { defaultEventDeliveryOptions, EventDeliveryLayer } from "@mirrormanager/actors/events"
import { hostEntityLayer } from "@mirrormanager/actors/host"
import { Effect, Layer, Option } from "effect"
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
 * The cluster as this process takes part in it: a node's runner (its storage in the registry database, runners
 * talking over TCP), or a command's client that only sends messages to the runners of the nodes.
 */
export const clusterLayer = (options: { readonly clientOnly: boolean }) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* NodeConfig
      if (!options.clientOnly) yield* Effect.logInfo(`cluster runner: ${config.runnerHost}:${config.runnerPort}`)
      return NodeClusterSocket.layer({
        storage: "sql",
        clientOnly: options.clientOnly,
        shardingConfig: {
          runnerAddress: Option.some(RunnerAddress.make(config.runnerHost, config.runnerPort)),
          runnerListenAddress: Option.map(config.runnerListenHost, (host) =>
            RunnerAddress.make(host, config.runnerPort)
          ),
          entityMessagePollInterval: "100 millis",
          entityReplyPollInterval: "50 millis",
          // A node that stopped (killed, frozen, cut off) gives up its hosts within seconds: its runner is found
          // unhealthy within a second or two, and its shard locks expire after 6 s (refreshed every 2 s; the
          // longest the event loop stalls, a full index rebuild, is about a second).
          runnerHealthCheckInterval: "1 second",
          refreshAssignmentsInterval: "1 second",
          shardLockRefreshInterval: "2 seconds",
          shardLockExpiration: "6 seconds"
        }
      })
    })
  )

/** A node's runner and the entities it runs. */
export const NodeRunnerLayer = EntitiesLayer.pipe(Layer.provideMerge(clusterLayer({ clientOnly: false })))
