// The node's redirector: its index and selection settings, GeoIP and network tables, the snapshot it serves until the
// database answers, and what keeps its index current: the change follower (the database), or with MM_INDEX_FEED the
// feed follower (full nodes' index feed, docs/redirector.md#the-index-feed).

import { GeoIp, NetworkData, parseNetblockBytes } from "@mirrormanager/actors/ipdata"
import {
  ChangeFollowerLayer,
  defaultChangeFollowerOptions,
  defaultFeedFollowerOptions,
  FeedFollowerLayer,
  IndexFeed,
  IndexSnapshotLayer,
  Redirector,
  snapshotFile
} from "@mirrormanager/actors/redirector"
import { Effect, Layer, Option } from "effect"
import { NodeConfig } from "./Config.ts"

/** MM_TRUSTED_PROXIES, the one rule of every client address: redirector, access log, check-ins, admin API logs. */
export const trustedProxiesOf = (config: NodeConfig["Service"]) =>
  Effect.gen(function* () {
    const trustedProxies = []
    for (const text of config.trustedProxies) {
      const netblock = parseNetblockBytes(text)
      if (netblock === undefined) return yield* Effect.die(new Error(`MM_TRUSTED_PROXIES: "${text}" is not a CIDR`))
      trustedProxies.push(netblock)
    }
    return trustedProxies
  })

/** MM_INDEX_FEED's upstreams and MM_INDEX_FEED_TOKEN, checked; undefined: the node follows the database. */
const feedOf = (config: NodeConfig["Service"]) =>
  Effect.gen(function* () {
    if (config.indexFeed.length === 0) return undefined
    for (const upstream of config.indexFeed) {
      if (!URL.canParse(upstream) || !/^https?:$/.test(new URL(upstream).protocol)) {
        return yield* Effect.die(new Error(`MM_INDEX_FEED: "${upstream}" is not an http(s) URL`))
      }
    }
    if (Option.isNone(config.indexFeedToken)) {
      return yield* Effect.die(new Error("MM_INDEX_FEED wants MM_INDEX_FEED_TOKEN, the token of the full nodes' feed"))
    }
    return { upstreams: config.indexFeed, token: config.indexFeedToken.value }
  })

/**
 * The Redirector with its GeoIP and network tables, the snapshot it serves until the database answers, its index
 * feed, and with MM_INDEX_FEED the feed follower (before the database side: it needs no database).
 */
export const RedirectorLayer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    const redirector = Redirector.layer({
      minimum: config.selectionMinimum,
      allowIpOverride: config.allowIpOverride,
      maxStaleDays: config.metalinkMaxStaleDays,
      generator: config.metalinkGenerator,
      httpsOnly: config.redirectHttpsOnly,
      answerVariants: Math.max(0, config.answerVariants),
      answerRefresh: Math.max(1, config.answerRefresh),
      answerCacheBytes: Math.max(0, config.answerCacheMegabytes) * 1024 * 1024,
      trustedProxies: yield* trustedProxiesOf(config)
    })
    const feed = yield* feedOf(config)
    const following =
      feed === undefined
        ? Layer.empty
        : FeedFollowerLayer({
            ...defaultFeedFollowerOptions,
            ...feed,
            snapshotFile: snapshotFile(config.dataDir),
            snapshotInterval: config.indexSnapshotInterval
          })
    return following.pipe(
      Layer.provideMerge(IndexSnapshotLayer(snapshotFile(config.dataDir))),
      Layer.provideMerge(redirector),
      // Kept only where it is served: MM_INDEX_FEED_TOKEN.
      Layer.provideMerge(Option.isSome(config.indexFeedToken) ? IndexFeed.layer() : Layer.empty),
      Layer.provide(GeoIp.layerFile(Option.getOrUndefined(config.geoipDatabase))),
      Layer.provide(
        NetworkData.layer({
          asnFile: Option.getOrUndefined(Option.map(config.asnFile, (files) => files.split(",").map((f) => f.trim()))),
          researchNetworksFile: Option.getOrUndefined(config.researchNetworksFile)
        })
      )
    )
  })
)

/**
 * The change follower of the node's redirector: rebuilds and snapshots of its index at the configured intervals;
 * none with MM_INDEX_FEED (the feed follower keeps the index current).
 */
export const NodeChangeFollowerLayer = Layer.unwrap(
  Effect.map(NodeConfig, (config) =>
    config.indexFeed.length > 0
      ? Layer.empty
      : ChangeFollowerLayer({
          ...defaultChangeFollowerOptions,
          snapshotFile: snapshotFile(config.dataDir),
          rebuildInterval: config.indexRebuildInterval,
          snapshotInterval: config.indexSnapshotInterval
        })
  )
)
