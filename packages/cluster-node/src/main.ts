// The mirrormanager command line: `mirrormanager serve` runs a node; `scan-master` scans master trees.
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer, Runtime } from "effect"
import { Command } from "effect/cli"
import { NodeConfig } from "./Config.ts"
import { LoggerLive, loggerLive, NodeLive } from "./Node.ts"
import { scanMasterCommand } from "./ScanMaster.ts"

const serve = Command.make("serve", {}, () =>
  Layer.launch(NodeLive).pipe(Effect.provide(LoggerLive), Effect.provide(NodeConfig.layer))
).pipe(Command.withDescription("Run a node: admin API on MM_HTTP_PORT, database from DATABASE_URL or embedded"))

const mirrormanager = Command.make("mirrormanager").pipe(
  Command.withDescription("Mirror manager for Linux distributions"),
  Command.withSubcommands([
    serve,
    scanMasterCommand.pipe(Command.provide(loggerLive({ toStderr: true })), Command.provide(NodeConfig.layer))
  ])
)

// A stop requested by SIGTERM/SIGINT is a clean exit (0), so service managers do not report a failure. A command
// that finished sets its own status (scan-master: 2 = something was skipped).
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
    ? onExit(0)
    : Exit.isSuccess(exit)
      ? onExit(Number(process.exitCode ?? 0))
      : Runtime.defaultTeardown(exit, onExit)

mirrormanager.pipe(
  Command.run({ version: "0.1.0" }),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ teardown })
)
