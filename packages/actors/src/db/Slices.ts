// Long synchronous work (an index build, a rebuild's comparison, a check-in's lookup of 100,000 paths) done in slices,
// the event loop free between them: requests go on being answered, and the cluster's shard-lock refreshes are not
// held up.
import { Effect } from "effect"

/** The longest a slice keeps the event loop, in ms. */
export const SLICE_MS = 8

/**
 * Runs `steps` (a generator that yields every few hundred rows of work) in slices of at most SLICE_MS, the event loop
 * free between them; the steps' result.
 */
export const sliced = <A>(steps: Generator<void, A>): Effect.Effect<A> =>
  Effect.gen(function* () {
    let sliceStart = performance.now()
    let step = steps.next()
    while (!step.done) {
      if (performance.now() - sliceStart >= SLICE_MS) {
        yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        sliceStart = performance.now()
      }
      step = steps.next()
    }
    return step.value
  })
