// The mirrormanager command line: `mirrormanager serve` runs a node; `scan-master` scans master trees; `crawl` crawls
// mirror hosts through the running nodes.
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer, Runtime } from "effect"
import { Command } from "effect/cli"
import { NodeConfig } from "./Config.ts"
import { crawlCommand } from "./CrawlCommand.ts"
import { DatabaseLive, LoggerLive, loggerLive, runNode } from "./Node.ts"
import { reportCommand } from "./ReportCommand.ts"
import { scanMasterCommand } from "./ScanMaster.ts"

const serve = Command.make("serve", {}, () =>
  runNode.pipe(Effect.provide(LoggerLive), Effect.provide(NodeConfig.layer))
).pipe(Command.withDescription("Run a node: admin API on MM_HTTP_PORT, database from DATABASE_URL or embedded"))

const migrate = Command.make("migrate", {}, () =>
  Effect.scoped(Layer.build(DatabaseLive).pipe(Effect.andThen(Effect.logInfo("the database is migrated")))).pipe(
    Effect.provide(LoggerLive),
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
    scanMasterCommand.pipe(Command.provide(loggerLive({ toStderr: true })), Command.provide(NodeConfig.layer)),
    crawlCommand.pipe(Command.provide(loggerLive({ toStderr: true })), Command.provide(NodeConfig.layer)),
    reportCommand
  ])
)

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
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ teardown })
)
