// What the pages drawn from the mirrors' state depend on: the node's index and the changes applied to it. A page is
// kept while this stays the same (up to a bound), and rendered again at most once a minute when it changes.
import type { Redirector } from "@mirrormanager/actors/redirector"

const generations = new WeakMap<object, number>()
let nextGeneration = 0

export const indexVersion = (redirector: Redirector["Service"]): string | undefined => {
  const status = redirector.status()
  if (status.index === undefined) return undefined
  let generation = generations.get(status.index)
  if (generation === undefined) {
    generation = ++nextGeneration
    generations.set(status.index, generation)
  }
  return `${generation}:${status.changesApplied}`
}
