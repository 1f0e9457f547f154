// Reloading data files (GeoIP, ASN, R&E tables) without a restart: the files' status is polled and a change runs
// the owner's reload.
import * as fs from "node:fs"
import { Duration, Effect, Schedule, type Scope } from "effect"

/** What tells one version of a file from the next (undefined: the file is not there). */
const versionOf = (stats: fs.Stats | undefined) =>
  stats === undefined ? undefined : `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`

const statNow = (path: string) => {
  try {
    return versionOf(fs.statSync(path))
  } catch {
    return undefined
  }
}

/**
 * Polls the files' status every `interval` and runs `reload` after a change, one reload at a time, until the scope
 * closes. The versions compared against are taken when the watch starts (synchronously, right after the owner's
 * first load), so a file replaced at once is seen too; so is one replaced by rename (the path is polled).
 */
export const reloadWhenChanged = (
  paths: ReadonlyArray<string>,
  interval: Duration.Input,
  reload: Effect.Effect<void>
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const seen = new Map(paths.map((path) => [path, statNow(path)]))
    const check = Effect.gen(function* () {
      let changed = false
      for (const path of paths) {
        const version = versionOf(yield* Effect.promise(() => fs.promises.stat(path).catch(() => undefined)))
        if (version !== seen.get(path)) {
          seen.set(path, version)
          changed = true
        }
      }
      if (changed) yield* reload
    })
    yield* check.pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(Math.max(1, Duration.toMillis(interval))))),
      Effect.forkScoped
    )
  })
