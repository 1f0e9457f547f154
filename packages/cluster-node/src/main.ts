// The mirrormanager command line: `mirrormanager serve` runs a node; `scan-master` scans master trees; `crawl` crawls
// mirror hosts through the running nodes.
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer, Runtime } from "effect"
import { Command } from "effect/cli"
import { reportCommand } from "./checkin/index.ts"
import { crawlCommand } from "./crawler/index.ts"
import { scanMasterCommand } from "./masterscan/index.ts"
import {
  DEFAULT_PORTS,
  explainOperatorErrors,
  handleStopSignals,
  NodeConfig,
  NodeDatabaseLayer,
  NodeLoggerLayer,
  nodeLoggerLayer,
  runNode
} from "./node/index.ts"

const serve = Command.make("serve", {}, () =>
  runNode.pipe(Effect.provide(NodeLoggerLayer), Effect.provide(NodeConfig.layer))
).pipe(Command.withDescription("Run a node: admin API on MM_HTTP_PORT, database from DATABASE_URL or embedded"))

const migrate = Command.make("migrate", {}, () =>
  Effect.scoped(Layer.build(NodeDatabaseLayer).pipe(Effect.andThen(Effect.logInfo("the database is migrated")))).pipe(
    Effect.provide(NodeLoggerLayer),
    Effect.provide(NodeConfig.layer)
  )
).pipe(
  Command.withDescription(
    "Apply the database migrations (DATABASE_URL, or the embedded server under MM_DATA_DIR) and exit; nodes also do this when they start"
  )
)

const mirrormanager = Command.make("mirrormanager").pipe(
  Command.withDescription("Mirror manager for Linux distributions"),
  Command.withSubcommands([
    serve,
    migrate,
    scanMasterCommand.pipe(Command.provide(nodeLoggerLayer({ toStderr: true })), Command.provide(NodeConfig.layer)),
    crawlCommand.pipe(Command.provide(nodeLoggerLayer({ toStderr: true })), Command.provide(NodeConfig.layer)),
    reportCommand
  ])
)

// Ctrl-C/SIGTERM: a graceful stop within a bound, a second one at once (Shutdown.ts); the runtime interrupts the
// command on the first.
handleStopSignals({ what: process.argv[2] === "serve" ? "the node" : (process.argv[2] ?? "mirrormanager") })

const portSettings = () => [
  { port: Number(process.env.MM_HTTP_PORT ?? DEFAULT_PORTS.http), setting: "MM_HTTP_PORT", what: "HTTP" },
  {
    port: Number(process.env.MM_RUNNER_PORT ?? DEFAULT_PORTS.runner),
    setting: "MM_RUNNER_PORT",
    what: "cluster runner"
  }
  // The embedded PostgreSQL's port in use is a PortInUseError of its own, named with MM_EMBEDDED_PG_PORT.
]

// A node stopped by SIGTERM/SIGINT exits 0, so service managers do not report a failure. A command sets its own
// status, also for when it is stopped (scan-master: 2 = something was skipped, 130 = stopped before the end).
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
    ? onExit(Number(process.exitCode ?? 0))
    : Exit.isSuccess(exit)
      ? onExit(Number(process.exitCode ?? 0))
      : Runtime.defaultTeardown(exit, onExit)

mirrormanager.pipe(
  Command.run({ version: "0.1.0" }),
  // A problem the operator fixes (a port in use, a directory PostgreSQL cannot reach): one line and status 1.
  explainOperatorErrors(portSettings),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ teardown })
)
