// The node's configuration, read from the environment in one place.
import {
  DEFAULT_DATABASE_TIMEOUT,
  DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT,
  DEFAULT_STATEMENT_TIMEOUT
} from "@mirrormanager/actors/db"
import { DEFAULT_STATS_KEEP_DAYS } from "@mirrormanager/actors/statistics"
import { DEFAULT_ADMIN_DATABASE_TIMEOUT } from "@mirrormanager/http/admin"
import { DEFAULT_CONNECTION_LIMITS } from "@mirrormanager/http/front"
import { Config, Context, Duration, Effect, Layer, type LogLevel, Option, Redacted } from "effect"
import { OperatorError } from "../db/index.ts"

/**
 * What a node runs (docs/operations.md#roles): `full`, everything (redirector, admin API, check-ins, the cluster
 * runner and its host entities, schedules); `redirector`, only the redirector following the registry's changes.
 */
export type NodeRole = "full" | "redirector"

export interface NodeConfigShape {
  readonly role: NodeRole
  /** The most connections of the node's pool (its change stream's LISTEN included; not the database probe's). */
  readonly databaseConnections: number
  readonly httpHost: string
  readonly httpPort: number
  /** Where this node's cluster runner is reached by the other nodes (host entities live on runners). */
  readonly runnerHost: string
  readonly runnerPort: number
  /** Where the runner listens, when that differs from where it is reached (a container's 0.0.0.0). */
  readonly runnerListenHost: Option.Option<string>
  /**
   * How long a node's shard locks last without a refresh (refreshed every third of it, each refresh allowed that
   * third to finish): the longest a frozen node keeps its hosts, against the stall (event loop plus database) a node
   * survives. docs/operations.md#shard-locks.
   */
  readonly shardLockExpiration: Duration.Duration
  /** Between full crawls of a public host; zero: none scheduled. */
  readonly crawlInterval: Duration.Duration
  /** Between repodata crawls and between canary checks of a public host; zero: none scheduled. */
  readonly crawlRepodataInterval: Duration.Duration
  readonly crawlCanaryInterval: Duration.Duration
  /** Hosts switched off by the crawler are crawled at most this often, so they can recover. */
  readonly crawlDisabledInterval: Duration.Duration
  /** Hosts crawled at once, cluster-wide. */
  readonly crawlParallel: number
  /** Where host events are posted (JSON), and the secret they are signed with. */
  readonly eventWebhook: Option.Option<string>
  readonly eventWebhookSecret: Option.Option<Redacted.Redacted<string>>
  /** Crawl mirrors on loopback and private addresses (labs, tests); off by default. */
  readonly crawlPrivateAddresses: boolean
  readonly dataDir: string
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  readonly embeddedPostgresPort: number
  readonly adminToken: Option.Option<Redacted.Redacted<string>>
  readonly logLevel: LogLevel.LogLevel
  readonly logFormat: "logfmt" | "json" | "pretty"
  /** How often the node rescans every master tree; zero = never (scan with the CLI or the API). */
  readonly scanInterval: Duration.Duration
  /** Whether scheduled scans remove directories gone from the master tree. */
  readonly scanDeleteDirectories: boolean
  /** A JSON file of repository prefix rules replacing the built-in Fedora/EPEL rules. */
  readonly repositoryRules: Option.Option<string>
  /** A MaxMind DB (GeoLite2 Country/City or flat country_code); none = the bundled free database. */
  readonly geoipDatabase: Option.Option<string>
  /** Prefix→ASN table(s): `<prefix>/<len> <asn>` lines or ip-location-db CSVs; none = the bundled tables. */
  readonly asnFile: Option.Option<string>
  /** R&E (Internet2) prefixes, `<prefix>/<len> <asn>` lines; none = no R&E matching. */
  readonly researchNetworksFile: Option.Option<string>
  /** CIDRs whose X-Forwarded-For is honoured. */
  readonly trustedProxies: ReadonlyArray<string>
  readonly selectionMinimum: number
  readonly allowIpOverride: boolean
  readonly metalinkMaxStaleDays: number
  readonly metalinkGenerator: string
  readonly redirectHttpsOnly: boolean
  /** Shuffled answers kept per directory and client class; 0 computes every answer. */
  readonly answerVariants: number
  /** One request in this many gets a freshly shuffled answer. */
  readonly answerRefresh: number
  /** Bound of the kept answers, in MiB. */
  readonly answerCacheMegabytes: number
  readonly indexRebuildInterval: Duration.Duration
  /** How often the index snapshot is rewritten while changes arrive. */
  readonly indexSnapshotInterval: Duration.Duration
  /** Full nodes whose index feed this node follows instead of the database (MM_INDEX_FEED, comma-separated URLs). */
  readonly indexFeed: ReadonlyArray<string>
  /** The bearer token of the index feed: served with it (full nodes), sent with it (followers); none = feed off. */
  readonly indexFeedToken: Option.Option<Redacted.Redacted<string>>
  /** Where access-log lines go: a file, `-` for standard output, `off`; default access.log in the data dir. */
  readonly accessLog: Option.Option<string>
  /** How long the database may take to accept a connection or answer the health probe before it is unreachable. */
  readonly databaseTimeout: Duration.Duration
  /**
   * The longest a statement of this node runs on the database (PostgreSQL statement_timeout); zero: unbounded. Not
   * for migrations, the index load, master scans, check-in and crawl-result writes, which grow with the registry.
   */
  readonly databaseStatementTimeout: Duration.Duration
  /** How long a transaction may idle between statements (idle_in_transaction_session_timeout); zero: unbounded. */
  readonly databaseIdleInTransactionTimeout: Duration.Duration
  /** The longest an admin API request waits for the database (pool and statements); then 503 with Retry-After. */
  readonly adminDatabaseTimeout: Duration.Duration
  /** Whether the node counts mirrorlist and metalink requests for the access statistics (MM_ACCESS_STATS=on|off). */
  readonly accessStats: boolean
  /** Days of access statistics kept (today's included). */
  readonly statsKeepDays: number
  /** Between additions of the node's counts to the database: the most a crash loses. */
  readonly statsFlushInterval: Duration.Duration
  /** HTTP connections: idle time between requests, time to send headers and a whole request, how many at once. */
  readonly httpKeepAliveTimeout: Duration.Duration
  readonly httpHeadersTimeout: Duration.Duration
  readonly httpRequestTimeout: Duration.Duration
  readonly httpMaxConnections: number
}

/**
 * A node's shard locks expire after 30 s without a refresh; refreshed every 10 s, a refresh may take 10 s (an event
 * loop stall plus a slow database) before the node gives its hosts up. docs/operations.md#shard-locks.
 */
export const DEFAULT_SHARD_LOCK_EXPIRATION = Duration.seconds(30)

/** A node's pool, unless MM_DATABASE_CONNECTIONS says otherwise: docs/operations.md#connection-budget. */
export const DEFAULT_DATABASE_CONNECTIONS: Record<NodeRole, number> = { full: 10, redirector: 3 }

/** The fewest a pool works with: the change stream's LISTEN and one more; a full node's runner holds one more. */
const MINIMUM_DATABASE_CONNECTIONS: Record<NodeRole, number> = { full: 4, redirector: 2 }

/** The shortest MM_SHARD_LOCK_EXPIRATION: a refresh every second, each allowed a second. */
const MINIMUM_SHARD_LOCK_EXPIRATION = Duration.seconds(3)

/** The ports a node opens unless told otherwise. */
export const DEFAULT_PORTS = { http: 8080, runner: 34431, embeddedPostgres: 54329 } as const

const nodeConfig = Config.all({
  role: Config.Literals(["full", "redirector"], "MM_ROLE").pipe(Config.withDefault("full")),
  databaseConnections: Config.Int("MM_DATABASE_CONNECTIONS").pipe(Config.option),
  httpHost: Config.String("MM_HTTP_HOST").pipe(Config.withDefault("0.0.0.0")),
  httpPort: Config.Port("MM_HTTP_PORT").pipe(Config.withDefault(DEFAULT_PORTS.http)),
  runnerHost: Config.String("MM_RUNNER_HOST").pipe(Config.withDefault("127.0.0.1")),
  runnerPort: Config.Port("MM_RUNNER_PORT").pipe(Config.withDefault(DEFAULT_PORTS.runner)),
  runnerListenHost: Config.String("MM_RUNNER_LISTEN_HOST").pipe(Config.option),
  shardLockExpiration: Config.Duration("MM_SHARD_LOCK_EXPIRATION").pipe(
    Config.withDefault(DEFAULT_SHARD_LOCK_EXPIRATION)
  ),
  crawlInterval: Config.Duration("MM_CRAWL_INTERVAL").pipe(Config.withDefault(Duration.hours(12))),
  crawlRepodataInterval: Config.Duration("MM_CRAWL_REPODATA_INTERVAL").pipe(Config.withDefault(Duration.hours(2))),
  crawlCanaryInterval: Config.Duration("MM_CRAWL_CANARY_INTERVAL").pipe(Config.withDefault(Duration.hours(1))),
  crawlDisabledInterval: Config.Duration("MM_CRAWL_DISABLED_INTERVAL").pipe(Config.withDefault(Duration.hours(24))),
  crawlParallel: Config.Int("MM_CRAWL_PARALLEL").pipe(Config.withDefault(50)),
  crawlPrivateAddresses: Config.Boolean("MM_CRAWL_PRIVATE_ADDRESSES").pipe(Config.withDefault(false)),
  eventWebhook: Config.URL("MM_EVENT_WEBHOOK").pipe(
    Config.map((url) => url.href),
    Config.option
  ),
  eventWebhookSecret: Config.Redacted("MM_EVENT_WEBHOOK_SECRET").pipe(Config.option),
  dataDir: Config.String("MM_DATA_DIR").pipe(Config.withDefault("./var")),
  databaseUrl: Config.Redacted("DATABASE_URL").pipe(Config.option),
  embeddedPostgresPort: Config.Port("MM_EMBEDDED_PG_PORT").pipe(Config.withDefault(DEFAULT_PORTS.embeddedPostgres)),
  adminToken: Config.Redacted("MM_ADMIN_TOKEN").pipe(Config.option),
  logLevel: Config.LogLevel("MM_LOG_LEVEL").pipe(Config.withDefault("Info")),
  logFormat: Config.Literals(["logfmt", "json", "pretty"], "MM_LOG_FORMAT").pipe(Config.withDefault("logfmt")),
  scanInterval: Config.Duration("MM_SCAN_INTERVAL").pipe(Config.withDefault(Duration.hours(2))),
  scanDeleteDirectories: Config.Boolean("MM_SCAN_DELETE_DIRECTORIES").pipe(Config.withDefault(false)),
  repositoryRules: Config.String("MM_REPOSITORY_RULES").pipe(Config.option),
  geoipDatabase: Config.String("MM_GEOIP_DB").pipe(Config.option),
  asnFile: Config.String("MM_ASN_FILE").pipe(Config.option),
  researchNetworksFile: Config.String("MM_RE_NETWORKS").pipe(Config.option),
  trustedProxies: Config.String("MM_TRUSTED_PROXIES").pipe(
    Config.withDefault(""),
    Config.map((text) =>
      text
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
    )
  ),
  selectionMinimum: Config.Int("MM_SELECTION_MINIMUM").pipe(Config.withDefault(5)),
  allowIpOverride: Config.Boolean("MM_ALLOW_IP_OVERRIDE").pipe(Config.withDefault(true)),
  metalinkMaxStaleDays: Config.Int("MM_METALINK_MAX_STALE_DAYS").pipe(Config.withDefault(4)),
  metalinkGenerator: Config.String("MM_METALINK_GENERATOR").pipe(Config.withDefault("mirrormanager")),
  redirectHttpsOnly: Config.Boolean("MM_REDIRECT_HTTPS_ONLY").pipe(Config.withDefault(false)),
  answerVariants: Config.Int("MM_ANSWER_VARIANTS").pipe(Config.withDefault(8)),
  answerRefresh: Config.Int("MM_ANSWER_REFRESH").pipe(Config.withDefault(32)),
  answerCacheMegabytes: Config.Int("MM_ANSWER_CACHE_MB").pipe(Config.withDefault(96)),
  indexRebuildInterval: Config.Duration("MM_INDEX_REBUILD_INTERVAL").pipe(Config.withDefault(Duration.minutes(15))),
  indexSnapshotInterval: Config.Duration("MM_INDEX_SNAPSHOT_INTERVAL").pipe(Config.withDefault(Duration.minutes(1))),
  indexFeed: Config.String("MM_INDEX_FEED").pipe(
    Config.withDefault(""),
    Config.map((text) =>
      text
        .split(",")
        .map((s) => s.trim().replace(/\/+$/, ""))
        .filter((s) => s.length > 0)
    )
  ),
  indexFeedToken: Config.Redacted("MM_INDEX_FEED_TOKEN").pipe(Config.option),
  accessLog: Config.String("MM_ACCESS_LOG").pipe(Config.option),
  accessStats: Config.Literals(["on", "off"], "MM_ACCESS_STATS").pipe(
    Config.withDefault("on"),
    Config.map((value) => value === "on")
  ),
  statsKeepDays: Config.Int("MM_STATS_KEEP_DAYS").pipe(Config.withDefault(DEFAULT_STATS_KEEP_DAYS)),
  statsFlushInterval: Config.Duration("MM_STATS_FLUSH_INTERVAL").pipe(Config.withDefault(Duration.minutes(1))),
  databaseTimeout: Config.Duration("MM_DATABASE_TIMEOUT").pipe(Config.withDefault(DEFAULT_DATABASE_TIMEOUT)),
  databaseStatementTimeout: Config.Duration("MM_STATEMENT_TIMEOUT").pipe(Config.withDefault(DEFAULT_STATEMENT_TIMEOUT)),
  databaseIdleInTransactionTimeout: Config.Duration("MM_IDLE_TX_TIMEOUT").pipe(
    Config.withDefault(DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT)
  ),
  adminDatabaseTimeout: Config.Duration("MM_ADMIN_DATABASE_TIMEOUT").pipe(
    Config.withDefault(DEFAULT_ADMIN_DATABASE_TIMEOUT)
  ),
  httpKeepAliveTimeout: Config.Duration("MM_HTTP_KEEPALIVE_TIMEOUT").pipe(
    Config.withDefault(Duration.millis(DEFAULT_CONNECTION_LIMITS.keepAliveTimeoutMs))
  ),
  httpHeadersTimeout: Config.Duration("MM_HTTP_HEADERS_TIMEOUT").pipe(
    Config.withDefault(Duration.millis(DEFAULT_CONNECTION_LIMITS.headersTimeoutMs))
  ),
  httpRequestTimeout: Config.Duration("MM_HTTP_REQUEST_TIMEOUT").pipe(
    Config.withDefault(Duration.millis(DEFAULT_CONNECTION_LIMITS.requestTimeoutMs))
  ),
  httpMaxConnections: Config.Int("MM_HTTP_MAX_CONNECTIONS").pipe(
    Config.withDefault(DEFAULT_CONNECTION_LIMITS.maxConnections)
  )
})

/** The settings read, checked together: a setting out of range is one line naming it (an OperatorError). */
const checked = (read: Config.Success<typeof nodeConfig>) =>
  Effect.gen(function* () {
    const refuse = (message: string) => Effect.die(new OperatorError(message))
    const databaseConnections = Option.getOrElse(
      read.databaseConnections,
      () => DEFAULT_DATABASE_CONNECTIONS[read.role]
    )
    if (databaseConnections < MINIMUM_DATABASE_CONNECTIONS[read.role]) {
      return yield* refuse(
        `MM_DATABASE_CONNECTIONS: ${databaseConnections} is too few for a ${read.role} node (at least ${MINIMUM_DATABASE_CONNECTIONS[read.role]})`
      )
    }
    if (Duration.isLessThan(read.shardLockExpiration, MINIMUM_SHARD_LOCK_EXPIRATION)) {
      return yield* refuse(
        `MM_SHARD_LOCK_EXPIRATION: ${Duration.format(read.shardLockExpiration)} is too short (at least 3 seconds)`
      )
    }
    if (read.role === "full" && read.indexFeed.length > 0) {
      return yield* refuse(
        "MM_INDEX_FEED is for MM_ROLE=redirector nodes: a full node builds its index from the database (and serves the feed with MM_INDEX_FEED_TOKEN)"
      )
    }
    if (read.role === "redirector" && Option.isNone(read.databaseUrl) && read.indexFeed.length === 0) {
      return yield* refuse(
        "MM_ROLE=redirector needs MM_INDEX_FEED (the full nodes' index feed) or DATABASE_URL (the full nodes' database): a redirector node runs no database of its own"
      )
    }
    if (read.statsKeepDays < 1 || read.statsKeepDays > 3_660) {
      return yield* refuse(`MM_STATS_KEEP_DAYS: ${read.statsKeepDays} is not between 1 and 3660 days`)
    }
    if (Duration.isLessThan(read.statsFlushInterval, Duration.seconds(1))) {
      return yield* refuse(
        `MM_STATS_FLUSH_INTERVAL: ${Duration.format(read.statsFlushInterval)} is too short (at least 1 second)`
      )
    }
    // An empty token is no token: no feed served, none kept.
    const indexFeedToken = Option.filter(read.indexFeedToken, (token) => Redacted.value(token).length > 0)
    return NodeConfig.of({ ...read, databaseConnections, indexFeedToken })
  })

export class NodeConfig extends Context.Service<NodeConfig, NodeConfigShape>()("cluster-node/NodeConfig") {
  static readonly layer = Layer.effect(
    NodeConfig,
    Effect.gen(function* () {
      return yield* checked(yield* nodeConfig)
    })
  )
}
