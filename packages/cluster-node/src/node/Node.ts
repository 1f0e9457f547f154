// Wiring of one node: database (embedded or DATABASE_URL), registry services, bootstrap admin, HTTP server.

import * as fs from "node:fs"
import * as path from "node:path"
import { NodeClusterSocket, NodeHttpServer } from "@effect/platform-node"
import { RegistryLayer } from "@mirrormanager/actors"
import { Checkins } from "@mirrormanager/actors/checkin"
import { CrawlScheduleLayer, defaultCrawlOptions, defaultCrawlScheduleOptions } from "@mirrormanager/actors/crawler"
import { databaseLayer } from "@mirrormanager/actors/db"
import { defaultEventDeliveryOptions, EventDeliveryLayer } from "@mirrormanager/actors/events"
import { DATABASE_UNREACHABLE } from "@mirrormanager/actors/health"
import { hostEntityLayer } from "@mirrormanager/actors/host"
import { GeoIp, NetworkData, parseNetblock } from "@mirrormanager/actors/ipdata"
import {
  defaultMasterScanPolicy,
  loadRepositoryRules,
  MasterScanPolicy,
  MasterScanScheduleLayer
} from "@mirrormanager/actors/masterscan"
import {
  ChangeFollowerLayer,
  defaultChangeFollowerOptions,
  IndexSnapshotLayer,
  Redirector,
  snapshotFile
} from "@mirrormanager/actors/redirector"
import { Accounts } from "@mirrormanager/actors/registry"
import { AdminDatabaseTimeout, serveAdminApi } from "@mirrormanager/http/admin"
import { FrontServer, openAccessLog } from "@mirrormanager/http/front"
import { Cause, Context, Duration, Effect, Fiber, Layer, Logger, Option, Redacted, References, Schedule } from "effect"
import { RunnerAddress } from "effect/cluster"
import { attachEmbeddedPostgres, startEmbeddedPostgres } from "../db/index.ts"
import { NodeConfig } from "./Config.ts"

const describeUrl = (url: string) => {
  const u = new URL(url)
  return `${u.hostname}:${u.port || 5432}${u.pathname}`
}

const databaseOptions = (config: NodeConfig["Service"]) => ({
  timeout: config.databaseTimeout,
  statementTimeout: config.databaseStatementTimeout,
  idleInTransactionTimeout: config.databaseIdleInTransactionTimeout
})

/**
 * DATABASE_URL, or the embedded server under MM_DATA_DIR. With `attach`, a command run beside a node uses the
 * embedded server that node runs instead of refusing the data directory.
 */
export const databaseLive = (options: { readonly attach: boolean }) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* NodeConfig
      if (Option.isSome(config.databaseUrl)) {
        yield* Effect.logInfo(`database: DATABASE_URL ${describeUrl(Redacted.value(config.databaseUrl.value))}`)
        return databaseLayer(config.databaseUrl.value, databaseOptions(config))
      }
      const dataDir = path.resolve(config.dataDir, "postgres")
      const running = options.attach ? attachEmbeddedPostgres({ dataDir, database: "mirrormanager" }) : undefined
      if (running !== undefined) {
        yield* Effect.logInfo(
          `database: the running node's embedded PostgreSQL in ${dataDir}, 127.0.0.1:${running.port}`
        )
        return databaseLayer(Redacted.make(running.url), databaseOptions(config))
      }
      const server = yield* Effect.acquireRelease(
        Effect.tryPromise({
          // In its own process group: a terminal's Ctrl-C reaches only the node, which stops it last.
          try: () =>
            startEmbeddedPostgres({
              dataDir,
              port: config.embeddedPostgresPort,
              database: "mirrormanager",
              ownProcessGroup: true
            }),
          catch: (error) => (error instanceof Error ? error : new Error(String(error)))
        }),
        (server) =>
          Effect.promise(() => server.stop()).pipe(Effect.andThen(Effect.logInfo("embedded PostgreSQL stopped")))
      )
      yield* Effect.logInfo(`database: embedded PostgreSQL in ${dataDir}, 127.0.0.1:${server.port}`)
      return databaseLayer(Redacted.make(server.url), databaseOptions(config))
    })
  )

export const DatabaseLive = databaseLive({ attach: false })

/** The scan policy, with the operator's repository rules file if MM_REPOSITORY_RULES names one. */
export const MasterScanPolicyLive = Layer.effect(
  MasterScanPolicy,
  Effect.gen(function* () {
    const config = yield* NodeConfig
    if (Option.isNone(config.repositoryRules)) return defaultMasterScanPolicy
    const file = config.repositoryRules.value
    const rules = yield* Effect.try({
      try: () => loadRepositoryRules(file),
      catch: (error) => (error instanceof Error ? error : new Error(String(error)))
    })
    yield* Effect.logInfo(`repository rules: ${file} (${rules.rules.length} rules)`)
    return { ...defaultMasterScanPolicy, rules }
  })
)

const MasterScanScheduleLive = Layer.unwrap(
  Effect.map(NodeConfig, (config) =>
    MasterScanScheduleLayer({ interval: config.scanInterval, deleteDirectories: config.scanDeleteDirectories })
  )
)

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

/** MM_TRUSTED_PROXIES, the one rule of every client address: redirector, access log, check-ins, admin API logs. */
const trustedProxiesOf = (config: NodeConfig["Service"]) =>
  Effect.gen(function* () {
    const trustedProxies = []
    for (const text of config.trustedProxies) {
      const netblock = parseNetblock(text)
      if (netblock === undefined) return yield* Effect.die(new Error(`MM_TRUSTED_PROXIES: "${text}" is not a CIDR`))
      trustedProxies.push(netblock)
    }
    return trustedProxies
  })

/** The node's HTTP server: redirector, health and metrics answered in front; the admin API behind. */
export const FrontServerLive = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    const destination = Option.getOrElse(config.accessLog, () => path.join(config.dataDir, "access.log"))
    if (destination !== "-" && destination !== "off")
      fs.mkdirSync(path.dirname(path.resolve(destination)), { recursive: true })
    return FrontServer.layer({
      accessLog: openAccessLog(destination),
      connections: {
        keepAliveTimeoutMs: Duration.toMillis(config.httpKeepAliveTimeout),
        headersTimeoutMs: Duration.toMillis(config.httpHeadersTimeout),
        requestTimeoutMs: Duration.toMillis(config.httpRequestTimeout),
        maxConnections: Math.max(1, config.httpMaxConnections)
      }
    })
  })
)

const AdminApiLive = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    return serveAdminApi({ trustedProxies: yield* trustedProxiesOf(config) }).pipe(
      Layer.provide(Layer.succeed(AdminDatabaseTimeout, config.adminDatabaseTimeout))
    )
  })
)

export const HttpServerLive = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    const front = yield* FrontServer
    return NodeHttpServer.layer(() => front.server, { port: config.httpPort, host: config.httpHost })
  })
)

/** The Redirector with its GeoIP and network tables, and the snapshot it serves until the database answers. */
export const RedirectorLive = Layer.unwrap(
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

const ChangeFollowerLive = Layer.unwrap(
  Effect.map(NodeConfig, (config) =>
    ChangeFollowerLayer({
      ...defaultChangeFollowerOptions,
      snapshotFile: snapshotFile(config.dataDir),
      rebuildInterval: config.indexRebuildInterval,
      snapshotInterval: config.indexSnapshotInterval
    })
  )
)

const Listening = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* NodeConfig
    yield* Effect.logInfo(
      `mirrormanager listening on http://${config.httpHost}:${config.httpPort} (data in ${path.resolve(config.dataDir)})`
    )
  })
)

/** The innermost message of an error chain (`PersistenceError` ← `SqlError` ← `ECONNREFUSED …`). */
const innermostMessage = (error: unknown): string => {
  let message = String(error)
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (e instanceof Error && e.message !== "") message = e.message
    e = (e as { cause?: unknown }).cause
  }
  return message.split("\n")[0] ?? message
}

/**
 * effect's cluster warnings that repeat while the database is gone (once per shard it cannot release on shutdown:
 * hundreds at the same moment; every poll while it reads messages), each with a stack: one line for each, then a
 * minute of silence for that one. Each belongs to a family: the shards that cannot be released on shutdown say what
 * the readiness probe's "registry database unreachable" says, so whichever comes first is the one line shown.
 */
const repeatedClusterWarnings: Record<string, { readonly text: string; readonly family: string }> = {
  "Could not release shards, retrying": {
    text: "could not release the cluster shards, the database did not answer; their locks expire on their own",
    family: "database lost"
  },
  "Could not read messages from storage": {
    text: "could not read cluster messages, the database did not answer; retrying",
    family: "cluster messages"
  },
  "Shard lock storage is still unhealthy": {
    text: "the cluster's shard locks cannot be refreshed, the database did not answer",
    family: "shard locks"
  }
}

const quietRepeatedClusterWarnings = (logger: Logger.Logger<unknown, void>): Logger.Logger<unknown, void> => {
  const shownAt = new Map<string, number>()
  return Logger.make((options) => {
    const first = Array.isArray(options.message) ? options.message[0] : options.message
    const now = options.date.getTime()
    if (typeof first === "string" && first.startsWith(DATABASE_UNREACHABLE)) {
      // Stopping, the shards said it first: the probe's line would say it again.
      if (now - (shownAt.get("shards not released") ?? Number.NEGATIVE_INFINITY) < 60_000) return
      shownAt.set("database lost", now)
      return logger.log(options)
    }
    const repeated = typeof first === "string" ? repeatedClusterWarnings[first] : undefined
    if (repeated === undefined) return logger.log(options)
    if (now - (shownAt.get(repeated.family) ?? Number.NEGATIVE_INFINITY) < 60_000) return
    shownAt.set(repeated.family, now)
    if (repeated.family === "database lost") shownAt.set("shards not released", now)
    logger.log({
      ...options,
      message: `${repeated.text} (${innermostMessage(Cause.squash(options.cause))}; not repeated for a minute)`,
      cause: Cause.empty
    })
  })
}

/** The node's logs on stdout; a command's logs (`toStderr`) on stderr, apart from what it prints. */
export const loggerLive = (options: { readonly toStderr: boolean }) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* NodeConfig
      const logger =
        config.logFormat === "json"
          ? options.toStderr
            ? Logger.withConsoleError(Logger.formatJson)
            : Logger.consoleJson
          : config.logFormat === "pretty"
            ? Logger.consolePretty({ colors: false })
            : options.toStderr
              ? Logger.withConsoleError(Logger.formatLogFmt)
              : Logger.consoleLogFmt
      return Layer.mergeAll(
        Logger.layer([quietRepeatedClusterWarnings(logger)]),
        Layer.succeed(References.MinimumLogLevel, config.logLevel)
      )
    })
  )

export const LoggerLive = loggerLive({ toStderr: false })

/**
 * The node's cluster runner (its storage in the registry database, runners talking over TCP) and the entities it
 * runs: every node accepts any check-in, and the host's entity applies it on whichever node owns the host.
 */
const EntitiesLive = Layer.unwrap(
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
export const clusterLive = (options: { readonly clientOnly: boolean }) =>
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

const ClusterLive = EntitiesLive.pipe(Layer.provideMerge(clusterLive({ clientOnly: false })))

/** Everything that needs the registry database: admin API, check-ins, scans, the change follower. */
export const DatabaseSideLive = Listening.pipe(
  Layer.provideMerge(AdminApiLive),
  Layer.provideMerge(ChangeFollowerLive),
  Layer.provideMerge(MasterScanScheduleLive),
  Layer.provideMerge(BootstrapAdmin),
  Layer.provideMerge(ClusterLive),
  Layer.provideMerge(RegistryLayer),
  Layer.provide(MasterScanPolicyLive),
  Layer.provideMerge(DatabaseLive)
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
      const attempt = Layer.launch(DatabaseSideLive).pipe(
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

export const NodeLive = DatabaseSide.layer.pipe(
  Layer.provideMerge(HttpServerLive),
  Layer.provideMerge(FrontServerLive),
  Layer.provideMerge(RedirectorLive)
)

/** Runs a node until it is stopped, or until its database side fails with nothing to serve. */
export const runNode = Effect.scoped(
  Effect.gen(function* () {
    const context = yield* Layer.build(NodeLive)
    return yield* Fiber.join(Context.get(context, DatabaseSide).fiber)
  })
)
