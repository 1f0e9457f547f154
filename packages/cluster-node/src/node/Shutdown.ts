// Stopping as an operator expects: the first Ctrl-C (SIGINT) or SIGTERM stops gracefully within a bound; a second
// one stops at once; either way no embedded PostgreSQL is left behind. Start-up problems the operator fixes are one
// line, not a stack trace.
import { Cause, Effect, Runtime } from "effect"
import { killEmbeddedPostgresNow, OperatorError, portInUseMessage } from "../db/index.ts"

/** The longest a graceful stop takes before the process stops at once (exit status 1). */
export const SHUTDOWN_BOUND_MS = 9_000

/**
 * A signal this soon after the first is the same stop request arriving twice: npm passes the terminal's SIGINT on to
 * the script it runs, which got it from the terminal already; `cluster:local` sends SIGTERM to nodes that got the
 * terminal's SIGINT too.
 */
export const RELAYED_SIGNAL_MS = 1_000

export interface StopSignalOptions {
  /** What is stopping, for the messages ("the node", "the cluster"). */
  readonly what: string
  /** Starts the graceful stop (the node's runtime does this itself: it interrupts the main fiber on the signal). */
  readonly onFirst?: (signal: NodeJS.Signals) => void
  /** Last things to do before exiting at once, synchronously (embedded PostgreSQL is stopped after it). */
  readonly onForce?: () => void
  readonly boundMs?: number
  readonly write?: (line: string) => void
}

/** Handles SIGINT and SIGTERM for the rest of the process's life. */
export const handleStopSignals = (options: StopSignalOptions) => {
  const bound = options.boundMs ?? SHUTDOWN_BOUND_MS
  const write = options.write ?? ((line: string) => void process.stderr.write(`${line}\n`))
  let first: number | undefined
  const exitNow = (status: number) => {
    options.onForce?.()
    killEmbeddedPostgresNow()
    process.exit(status)
  }
  const handler = (signal: NodeJS.Signals) => {
    if (first === undefined) {
      first = Date.now()
      write(`${signal}: stopping ${options.what} (at most ${bound / 1000} s; Ctrl-C again stops at once)`)
      setTimeout(() => {
        write(`${options.what} did not stop within ${bound / 1000} s: stopping at once`)
        exitNow(1)
      }, bound).unref()
      options.onFirst?.(signal)
      return
    }
    if (Date.now() - first < RELAYED_SIGNAL_MS) return
    write(`${signal} again: stopping ${options.what} at once`)
    exitNow(signal === "SIGINT" ? 130 : 143)
  }
  process.on("SIGINT", handler)
  process.on("SIGTERM", handler)
}

const errorsOf = (cause: Cause.Cause<unknown>): Array<unknown> => {
  const found: Array<unknown> = []
  const walk = (error: unknown, depth: number) => {
    if (error === undefined || error === null || depth > 8) return
    found.push(error)
    if (typeof error === "object") {
      const object = error as { cause?: unknown; reason?: unknown }
      walk(object.cause, depth + 1)
      walk(object.reason, depth + 1)
    }
  }
  for (const reason of cause.reasons) {
    if (Cause.isFailReason(reason)) walk(reason.error, 0)
    else if (Cause.isDieReason(reason)) walk(reason.defect, 0)
  }
  return found
}

/**
 * The one line to show for a failure the operator fixes: a port in use (named, with the setting that moves it), or
 * an `OperatorError`; undefined for anything else.
 */
const operatorMessage = (
  cause: Cause.Cause<unknown>,
  portSettings: ReadonlyArray<{ readonly port: number; readonly setting: string; readonly what: string }>
): string | undefined => {
  for (const error of errorsOf(cause)) {
    if (error instanceof OperatorError) return error.message
    const { code, port } = error as { code?: unknown; port?: unknown }
    if (code !== "EADDRINUSE") continue
    const known = portSettings.find((p) => p.port === port)
    return known === undefined
      ? `port ${String(port)} is already in use by another process`
      : portInUseMessage(known.port, known.what, known.setting)
  }
  return undefined
}

/** Told to the operator already (`explainOperatorErrors`): not logged again by the runtime, exit status 1. */
class ExplainedError extends Error {
  override readonly [Runtime.errorReported] = false
  override readonly [Runtime.errorExitCode] = 1
}

/** Writes the one line of `operatorMessage` to stderr instead of letting the runtime log the failure's stack. */
export const explainOperatorErrors =
  (portSettings: () => ReadonlyArray<{ readonly port: number; readonly setting: string; readonly what: string }>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.catchCause(effect, (cause): Effect.Effect<never, E | ExplainedError> => {
      const message = operatorMessage(cause, portSettings())
      if (message === undefined) return Effect.failCause(cause)
      return Effect.sync(() => process.stderr.write(`mirrormanager: ${message}\n`)).pipe(
        Effect.andThen(Effect.fail(new ExplainedError(message)))
      )
    })
