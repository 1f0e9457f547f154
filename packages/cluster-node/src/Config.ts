// The node's configuration, read from the environment in one place.
import { Config, Context, Duration, Effect, Layer, type LogLevel, type Option, type Redacted } from "effect"

export interface NodeConfigShape {
  readonly httpHost: string
  readonly httpPort: number
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
}

export const nodeConfig = Config.all({
  httpHost: Config.String("MM_HTTP_HOST").pipe(Config.withDefault("0.0.0.0")),
  httpPort: Config.Port("MM_HTTP_PORT").pipe(Config.withDefault(8080)),
  dataDir: Config.String("MM_DATA_DIR").pipe(Config.withDefault("./var")),
  databaseUrl: Config.Redacted("DATABASE_URL").pipe(Config.option),
  embeddedPostgresPort: Config.Port("MM_EMBEDDED_PG_PORT").pipe(Config.withDefault(54329)),
  adminToken: Config.Redacted("MM_ADMIN_TOKEN").pipe(Config.option),
  logLevel: Config.LogLevel("MM_LOG_LEVEL").pipe(Config.withDefault("Info")),
  logFormat: Config.Literals(["logfmt", "json", "pretty"], "MM_LOG_FORMAT").pipe(Config.withDefault("logfmt")),
  scanInterval: Config.Duration("MM_SCAN_INTERVAL").pipe(Config.withDefault(Duration.hours(2))),
  scanDeleteDirectories: Config.Boolean("MM_SCAN_DELETE_DIRECTORIES").pipe(Config.withDefault(false)),
  repositoryRules: Config.String("MM_REPOSITORY_RULES").pipe(Config.option)
})

export class NodeConfig extends Context.Service<NodeConfig, NodeConfigShape>()("cluster-node/NodeConfig") {
  static readonly layer = Layer.effect(
    NodeConfig,
    Effect.gen(function* () {
      return NodeConfig.of(yield* nodeConfig)
    })
  )
}
