// Keeps a redirector node's index current from the index feed of full nodes (docs/redirector.md#the-index-feed),
// instead of from the database: the index as a snapshot stream (`/internal/index/snapshot`), then the batches of
// changes after it (`/internal/index/changes`, long polls). When an upstream fails the node keeps serving its last
// index (readiness says why) and tries the next one; when its position is gone (the upstream rebuilt or restarted,
// or the batches it needs are no longer kept) it fetches the index anew.
import { Readable } from "node:stream"
import { setTimeout as sleep } from "node:timers/promises"
import * as zlib from "node:zlib"
import { Duration, Effect, Layer, Option, Redacted, Schedule } from "effect"
import { IndexFeed } from "./IndexFeed.ts"
import { changesOfJson, readSnapshotLines, snapshotKeeper } from "./IndexSnapshot.ts"
import { Redirector } from "./Redirector.ts"

export interface FeedFollowerOptions {
  /** Full nodes' base URLs (`http://worker-1:8080`), tried in turn. */
  readonly upstreams: ReadonlyArray<string>
  /** MM_INDEX_FEED_TOKEN, sent as a bearer token. */
  readonly token: Redacted.Redacted<string>
  /** Where this node keeps its index snapshot; undefined = none. */
  readonly snapshotFile: string | undefined
  /** How often the snapshot is rewritten while changes arrive. */
  readonly snapshotInterval: Duration.Duration
  /** The longest a fetch of the snapshot may take. */
  readonly snapshotTimeout: Duration.Duration
}

export const defaultFeedFollowerOptions = {
  snapshotInterval: Duration.seconds(60),
  snapshotTimeout: Duration.minutes(5)
} as const

/** The feed holds a long poll this long at most; a change request waits a little more before giving up. */
const CHANGES_TIMEOUT_MS = 40_000
/** How many times a busy upstream (503) is asked again for the index before the next one is tried. */
const MAX_SNAPSHOT_WAITS = 30
/** A changes answer larger than this is refused (the feed sends about 8 MiB at most). */
const MAX_CHANGES_BYTES = 256 * 1024 * 1024

const GENERATION_HEADER = "x-mm-index-generation"
const SEQUENCE_HEADER = "x-mm-index-sequence"

/** The position was lost upstream: fetch the index anew. */
class Gone {
  readonly _tag = "Gone"
  readonly reason: string
  constructor(reason: string) {
    this.reason = reason
  }
}

interface ChangesAnswer {
  readonly generation: string
  readonly sequence: number
  readonly following: boolean
  readonly batches: ReadonlyArray<{
    readonly sequence: number
    readonly applied: number
    readonly newestAt: number
    readonly changes: unknown
  }>
}

const message = (cause: unknown) => String(cause).split("\n")[0]

export const FeedFollowerLayer = (options: FeedFollowerOptions) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const redirector = yield* Redirector
      // A redirector node may feed others in turn.
      const feed = Option.getOrUndefined(yield* Effect.serviceOption(IndexFeed))
      const authorization = `Bearer ${Redacted.value(options.token)}`
      let upstream = 0
      const indexSnapshot = yield* snapshotKeeper(options.snapshotFile, options.snapshotInterval)

      /** The upstream's index, served from now on; its position in the feed. */
      const fetchIndex = (base: string) =>
        Effect.gen(function* () {
          const startedAt = Date.now()
          const fetched = yield* Effect.tryPromise({
            try: async (signal) => {
              const bounded = AbortSignal.any([signal, AbortSignal.timeout(Duration.toMillis(options.snapshotTimeout))])
              let response = await fetch(`${base}/internal/index/snapshot`, {
                headers: { authorization },
                signal: bounded
              })
              // Busy sending the index to others (all nodes fetch it after each of its rebuilds): wait as it asks,
              // serving the index held meanwhile, rather than count it as a failure.
              for (let attempt = 1; response.status === 503 && attempt < MAX_SNAPSHOT_WAITS; attempt++) {
                await response.body?.cancel()
                const asked = Number(response.headers.get("retry-after"))
                const seconds = Number.isFinite(asked) ? Math.min(10, Math.max(1, asked)) : 2
                await sleep(seconds * 1000 * (0.5 + Math.random()), undefined, { signal: bounded })
                response = await fetch(`${base}/internal/index/snapshot`, {
                  headers: { authorization },
                  signal: bounded
                })
              }
              if (response.status !== 200 || response.body === null) {
                await response.body?.cancel()
                throw new Error(`the index snapshot was answered ${response.status}`)
              }
              const generation = response.headers.get(GENERATION_HEADER)
              const sequence = Number(response.headers.get(SEQUENCE_HEADER))
              if (generation === null || !Number.isSafeInteger(sequence)) {
                await response.body.cancel()
                throw new Error("the index snapshot carries no generation and sequence")
              }
              const input = Readable.fromWeb(response.body as any).pipe(zlib.createGunzip())
              try {
                const snapshot = await readSnapshotLines(input)
                return { generation, sequence, snapshot }
              } finally {
                input.destroy()
              }
            },
            catch: (error) => new Error(`${base}: ${message(error)}`)
          })
          yield* redirector.buildIndex(fetched.snapshot.source, {
            origin: "feed",
            builtAt: fetched.snapshot.builtAt,
            startedAt
          })
          feed?.newGeneration()
          indexSnapshot.changed()
          const counts = redirector.status().index?.counts()
          yield* Effect.logInfo(
            `index fetched from ${base} in ${Date.now() - startedAt} ms: ${counts?.hosts} hosts, ${counts?.directories} directories`
          )
          return { generation: fetched.generation, sequence: fetched.sequence }
        })

      /** One long poll: the batches after `sequence`, applied; the sequence reached. */
      const poll = (base: string, generation: string, sequence: number) =>
        Effect.gen(function* () {
          const answer = yield* Effect.tryPromise({
            try: async (signal) => {
              const url = `${base}/internal/index/changes?generation=${encodeURIComponent(generation)}&after=${sequence}`
              const response = await fetch(url, {
                headers: { authorization },
                signal: AbortSignal.any([signal, AbortSignal.timeout(CHANGES_TIMEOUT_MS)])
              })
              if (response.status === 410) {
                return new Gone(await response.text())
              }
              const length = Number(response.headers.get("content-length") ?? 0)
              if (response.status !== 200 || length > MAX_CHANGES_BYTES) {
                await response.body?.cancel()
                throw new Error(
                  `changes were answered ${response.status}${length > MAX_CHANGES_BYTES ? " (too large)" : ""}`
                )
              }
              // Read up to the bound whatever the answer says of its length (a chunked one says nothing).
              const chunks: Array<Uint8Array> = []
              let received = 0
              for await (const chunk of response.body ?? []) {
                received += chunk.byteLength
                // Leaving the loop cancels the stream.
                if (received > MAX_CHANGES_BYTES) {
                  throw new Error(`changes were answered with more than ${MAX_CHANGES_BYTES} bytes`)
                }
                chunks.push(chunk)
              }
              return JSON.parse(Buffer.concat(chunks).toString("utf8")) as ChangesAnswer
            },
            catch: (error) => new Error(`${base}: ${message(error)}`)
          })
          if (answer instanceof Gone) return answer
          if (answer.generation !== generation) return new Gone("another generation")
          // Every batch of the answer applied in one synchronous step: no request sees half of them.
          let applied = 0
          let newestAt = 0
          let reached = sequence
          for (const batch of answer.batches) {
            if (batch.sequence !== reached + 1) return new Gone(`batch ${batch.sequence} does not follow ${reached}`)
            const changes = changesOfJson(batch.changes)
            redirector.applyChanges(changes)
            feed?.publish(changes, batch.applied, batch.newestAt)
            applied += batch.applied
            newestAt = Math.max(newestAt, batch.newestAt)
            reached = batch.sequence
          }
          if (answer.batches.length > 0) indexSnapshot.changed()
          // (No database read time: the change reads were the full node's.)
          if (answer.following) redirector.caughtUp(applied, newestAt)
          else redirector.databaseLost(`the index feed ${base} does not follow its database right now`)
          return reached
        })

      /** One session with one upstream: its index, then its changes, until it fails. */
      const follow = (base: string) =>
        Effect.gen(function* () {
          let position = yield* fetchIndex(base)
          let sequence = position.sequence
          while (true) {
            const reached = yield* poll(base, position.generation, sequence)
            if (reached instanceof Gone) {
              yield* Effect.logInfo(`the index feed of ${base} moved on (${reached.reason}): fetching the index anew`)
              position = yield* fetchIndex(base)
              sequence = position.sequence
            } else {
              sequence = reached
            }
            yield* indexSnapshot.saveIfDue
          }
        })

      yield* Effect.suspend(() => follow(options.upstreams[upstream % options.upstreams.length]!)).pipe(
        Effect.catchCause((cause) =>
          Effect.gen(function* () {
            const text = `index feed ${message(cause)}`
            if (redirector.status().following) yield* Effect.logWarning(`${text}; serving the last index`)
            redirector.databaseLost(text)
            upstream++
          })
        ),
        Effect.repeat(Schedule.min([Schedule.exponential("500 millis", 2), Schedule.spaced("10 seconds")])),
        Effect.forkScoped
      )
    })
  )
