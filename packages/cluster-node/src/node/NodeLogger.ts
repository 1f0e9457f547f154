// The node's logs: the format MM_LOG_FORMAT names, at MM_LOG_LEVEL, with effect's cluster warnings that repeat while
// the database is gone folded into one line a minute.

import { DATABASE_UNREACHABLE } from "@mirrormanager/actors/health"
import { Cause, Effect, Layer, Logger, References } from "effect"
import { NodeConfig } from "./Config.ts"

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
export const nodeLoggerLayer = (options: { readonly toStderr: boolean }) =>
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

export const NodeLoggerLayer = nodeLoggerLayer({ toStderr: false })
