// The index feed of a full node (docs/redirector.md#the-index-feed): redirector nodes take their index from a full
// node instead of the database. A generation (a random id, new with every full build) names one index; within it,
// each batch of changes the change follower applies gets the next sequence number and is kept, already written as
// JSON, in a ring bounded by count, bytes and age. A reader asks for the batches after the sequence it holds, and
// waits for the next one when it has them all; a reader of another generation, or one the ring has left behind,
// fetches the index anew. Its operations are plain functions: the front server's handlers call them directly.
import { randomUUID } from "node:crypto"
import { Context, Layer } from "effect"
import { changesToJson } from "./IndexSnapshot.ts"
import type { IndexChanges } from "./Redirector.ts"

export interface IndexFeedOptions {
  /** At most this many batches kept. */
  readonly maxBatches: number
  /** At most about this many bytes of batches kept. */
  readonly maxBytes: number
  /** Batches older than this (ms) are dropped. */
  readonly maxAgeMs: number
}

export const defaultIndexFeedOptions: IndexFeedOptions = {
  maxBatches: 10_000,
  maxBytes: 64 * 1024 * 1024,
  maxAgeMs: 10 * 60 * 1000
}

/** Where the feed is: the index of `generation` with every batch up to `sequence` applied. */
export interface FeedPosition {
  readonly generation: string
  readonly sequence: number
}

interface Batch {
  readonly sequence: number
  /** `{"sequence":…,"applied":…,"newestAt":…,"changes":…}` */
  readonly json: string
  readonly at: number
}

/** What a reader at `after` gets: the batches after it (possibly none yet), or "gone" (fetch the index anew). */
export type FeedRead =
  | { readonly _tag: "Batches"; readonly position: FeedPosition; readonly batches: ReadonlyArray<string> }
  | { readonly _tag: "Gone"; readonly reason: string }

export interface FeedCounts {
  readonly batches: number
  readonly bytes: number
  /** The oldest sequence a reader may still be at (the one before the oldest batch kept). */
  readonly oldestAfter: number
}

export class IndexFeed extends Context.Service<
  IndexFeed,
  {
    readonly position: () => FeedPosition
    /** A new index is served (a full build or a snapshot load): a new generation, readers fetch it anew. */
    readonly newGeneration: () => FeedPosition
    /** A batch of changes was applied to the index: `applied` changes, the newest committed at `newestAt` (epoch s). */
    readonly publish: (changes: IndexChanges, applied: number, newestAt: number) => FeedPosition
    /** The batches after `after` in `generation`, at most about `maxBytes` of them (at least one). */
    readonly read: (generation: string, after: number, maxBytes?: number) => FeedRead
    /** Resolves at the next batch or generation, or when `signal` aborts. */
    readonly next: (signal?: AbortSignal) => Promise<void>
    readonly counts: () => FeedCounts
  }
>()("actors/IndexFeed") {
  static readonly layer = (options: IndexFeedOptions = defaultIndexFeedOptions) =>
    Layer.sync(IndexFeed, () => IndexFeed.of(makeIndexFeed(options)))
}

/** The feed itself (the layer's; tests make one directly). */
export const makeIndexFeed = (options: IndexFeedOptions, now: () => number = Date.now): IndexFeed["Service"] => {
  let generation = randomUUID()
  let sequence = 0
  let ring: Array<Batch> = []
  let first = 0
  let bytes = 0
  let waiting: Array<() => void> = []

  const wake = () => {
    const woken = waiting
    waiting = []
    for (const resolve of woken) resolve()
  }
  const drop = () => {
    const batch = ring[first]!
    bytes -= batch.json.length
    first++
    // Compacted now and then rather than shifted every time.
    if (first > 1024 && first * 2 > ring.length) {
      ring = ring.slice(first)
      first = 0
    }
  }
  const trim = () => {
    const oldest = now() - options.maxAgeMs
    while (ring.length - first > 0) {
      const batch = ring[first]!
      if (ring.length - first <= options.maxBatches && bytes <= options.maxBytes && batch.at >= oldest) break
      drop()
    }
  }
  const position = (): FeedPosition => ({ generation, sequence })
  const oldestAfter = () => (ring.length - first > 0 ? ring[first]!.sequence - 1 : sequence)

  return {
    position,
    newGeneration: () => {
      generation = randomUUID()
      sequence = 0
      ring = []
      first = 0
      bytes = 0
      wake()
      return position()
    },
    publish: (changes, applied, newestAt) => {
      sequence++
      const json = `{"sequence":${sequence},"applied":${applied},"newestAt":${newestAt},"changes":${changesToJson(changes)}}`
      ring.push({ sequence, json, at: now() })
      bytes += json.length
      trim()
      wake()
      return position()
    },
    read: (asked, after, maxBytes = 8 * 1024 * 1024) => {
      trim()
      if (asked !== generation) return { _tag: "Gone", reason: "another generation of the index is served" }
      if (!Number.isSafeInteger(after) || after < 0 || after > sequence) {
        return { _tag: "Gone", reason: `no sequence ${after} in this generation` }
      }
      if (after < oldestAfter()) return { _tag: "Gone", reason: `the batches after ${after} are no longer kept` }
      const batches: Array<string> = []
      let size = 0
      let last = after
      for (let i = first + Math.max(0, after - oldestAfter()); i < ring.length; i++) {
        const batch = ring[i]!
        if (batches.length > 0 && size + batch.json.length > maxBytes) break
        batches.push(batch.json)
        size += batch.json.length
        last = batch.sequence
      }
      return { _tag: "Batches", position: { generation, sequence: last }, batches }
    },
    next: (signal) =>
      new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve()
        const done = () => {
          signal?.removeEventListener("abort", aborted)
          resolve()
        }
        const aborted = () => {
          waiting = waiting.filter((waiter) => waiter !== done)
          resolve()
        }
        waiting.push(done)
        signal?.addEventListener("abort", aborted, { once: true })
      }),
    counts: () => ({ batches: ring.length - first, bytes, oldestAfter: oldestAfter() })
  }
}
