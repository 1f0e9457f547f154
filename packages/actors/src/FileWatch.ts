// Reloading data files (GeoIP, ASN, R&E tables) without a restart: the files' status is polled and a change runs
// the owner's reload.
import * as fs from "node:fs"
import { Duration, Effect, Queue, type Scope } from "effect"

/**
 * Polls the files' status every `interval` and runs `reload` after a change, one reload at a time (changes during
 * a reload cause one more), until the scope closes. A file replaced by rename is seen too (the path is polled).
 */
export const reloadWhenChanged = (
  paths: ReadonlyArray<string>,
  interval: Duration.Input,
  reload: Effect.Effect<void>
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const changes = yield* Queue.sliding<void>(1)
    const listener = (current: fs.Stats, previous: fs.Stats) => {
      if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size || current.ino !== previous.ino) {
        Queue.offerUnsafe(changes, undefined)
      }
    }
    const options = { interval: Math.max(1, Duration.toMillis(interval)), persistent: false }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        for (const path of paths) fs.watchFile(path, options, listener)
      }),
      () =>
        Effect.sync(() => {
          for (const path of paths) fs.unwatchFile(path, listener)
        })
    )
    yield* Queue.take(changes).pipe(Effect.andThen(reload), Effect.forever, Effect.forkScoped)
  })
