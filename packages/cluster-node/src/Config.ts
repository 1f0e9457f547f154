// The node's configuration, read from the environment in one place.
import { Config, Context, Effect, Layer, type LogLevel, type Option, type Redacted } from "effect"

export interface NodeConfigShape {
  readonly httpHost: string
  readonly httpPort: number
  readonly dataDir: string
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  readonly embeddedPostgresPort: number
  readonly adminToken: Option.Option<Redacted.Redacted<string>>
  readonly logLevel: LogLevel.LogLevel
  readonly logFormat: "logfmt" | "json" | "pretty"
}

export const nodeConfig = Config.all({
  httpHost: Config.String("MM_HTTP_HOST").pipe(Config.withDefault("0.0.0.0")),
  httpPort: Config.Port("MM_HTTP_PORT").pipe(Config.withDefault(8080)),
  dataDir: Config.String("MM_DATA_DIR").pipe(Config.withDefault("./var")),
  databaseUrl: Config.Redacted("DATABASE_URL").pipe(Config.option),
  embeddedPostgresPort: Config.Port("MM_EMBEDDED_PG_PORT").pipe(Config.withDefault(54329)),
  adminToken: Config.Redacted("MM_ADMIN_TOKEN").pipe(Config.option),
  logLevel: Config.LogLevel("MM_LOG_LEVEL").pipe(Config.withDefault("Info")),
  logFormat: Config.Literals(["logfmt", "json", "pretty"], "MM_LOG_FORMAT").pipe(Config.withDefault("logfmt"))
})

export class NodeConfig extends Context.Service<NodeConfig, NodeConfigShape>()("cluster-node/NodeConfig") {
  static readonly layer = Layer.effect(
    NodeConfig,
    Effect.gen(function* () {
      return NodeConfig.of(yield* nodeConfig)
    })
  )
}
