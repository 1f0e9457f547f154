// The node's redirector: its index and selection settings, GeoIP and network tables, the snapshot it serves until the
// database answers, and the change follower that keeps its index current.

import { GeoIp, NetworkData, parseNetblockBytes } from "@mirrormanager/actors/ipdata"
import {
  ChangeFollowerLayer,
  defaultChangeFollowerOptions,
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

/** The Redirector with its GeoIP and network tables, and the snapshot it serves until the database answers. */
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
    return IndexSnapshotLayer(snapshotFile(config.dataDir)).pipe(
      Layer.provideMerge(redirector),
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

/** The change follower of the node's redirector: rebuilds and snapshots of its index at the configured intervals. */
export const NodeChangeFollowerLayer = Layer.unwrap(
  Effect.map(NodeConfig, (config) =>
    ChangeFollowerLayer({
      ...defaultChangeFollowerOptions,
      snapshotFile: snapshotFile(config.dataDir),
      rebuildInterval: config.indexRebuildInterval,
      snapshotInterval: config.indexSnapshotInterval
    })
  )
)
