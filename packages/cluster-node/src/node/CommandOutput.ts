// What the node's commands (scan-master, crawl, report) print and how they end: figures in words, and the exit statuses
// they share.
import { Effect } from "effect"

/** Could not do the work at all (no database, bad input). */
const EXIT_FAILED = 1
/** Stopped before the end (Ctrl-C, SIGTERM, a time limit). */
const EXIT_INTERRUPTED = 130

export const number = (n: number) => n.toLocaleString("en-US")
export const count = (n: number, one: string, many = `${one}s`) => `${number(n)} ${n === 1 ? one : many}`
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/** Says why `command` could not do its work, on stderr, and makes it exit 1. */
export const commandFailed = (command: string) => (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`${command}: ${message}\n`)
    process.exitCode = EXIT_FAILED
  })

/**
 * Runs a command's work with exit status 130 until the work sets its own: stopped before the end (Ctrl-C, SIGTERM,
 * a time limit) is not a success.
 */
export const stoppedUnlessEnded = <A, E, R>(work: Effect.Effect<A, E, R>) =>
  Effect.andThen(
    Effect.sync(() => {
      process.exitCode = EXIT_INTERRUPTED
    }),
    work
  )

/** The category named `name` (in any case) among `categories`, or what to say when there is none. */
export const namedCategory = <C extends { readonly name: string }>(
  categories: ReadonlyArray<C>,
  name: string
): C | { readonly unknown: string } => {
  const found = categories.find((c) => c.name.toLowerCase() === name.toLowerCase())
  if (found !== undefined) return found
  const known = categories.map((c) => `"${c.name}"`).join(", ")
  return { unknown: `no category is named "${name}" (categories: ${known || "none yet"})` }
}
