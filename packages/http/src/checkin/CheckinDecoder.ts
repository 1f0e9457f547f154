// Check-in request bodies read on worker threads (docs/checkin.md#decoding): a 100,000-directory payload takes about
// half a second of CPU (bz2 in JavaScript, then JSON), which on the event loop would hold up every request and the
// node's shard-lock refreshes; its 100,000 paths, looked up there, would be tens of megabytes of strings for the
// event loop's collector. The workers hand back each section's directories as a bitset. A small pool of workers reads them; check-ins beyond the pool wait in a bounded queue,
// and past that are refused with a fault ("server busy"), which the client reports and retries at its next run.
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import type { NumberedCategory } from "@mirrormanager/actors/numbering"
import { Context, Data, Effect, Layer } from "effect"
import { type CheckinCallMessage, fromCheckinCallMessage, type NumberedCheckinCall } from "./CheckinCall.ts"
import { CHECKIN_PAYLOAD_LIMITS, type CheckinPayloadLimits } from "./CheckinPayload.ts"

export interface CheckinDecoderOptions {
  /** Worker threads reading bodies at once (each reads one at a time). */
  readonly workers: number
  /** Bodies waiting for a worker, at most; past it (or `queuedBytes`) a check-in is refused as busy. */
  readonly queued: number
  /** Characters of the bodies waiting, together, at most. */
  readonly queuedBytes: number
  /** A worker's JavaScript heap, MiB: a payload that needs more fails (CheckinDecodeFailed), the node does not. */
  readonly workerHeapMb: number
  /**
   * The part of it for new objects, MiB. Small: reading a payload makes much short-lived garbage, and V8's default
   * lets a worker's resident memory grow by about 100 MiB more while it reads 100,000 directories, for no speed.
   */
  readonly workerYoungHeapMb: number
  /** An idle worker ends after this many ms (a new one starts with the next check-in). */
  readonly idleMs: number
  /** The workers' nice value on Linux (0 to 19; 0 leaves it): reading check-ins yields the cores to the event loop. */
  readonly nice: number
  readonly limits: CheckinPayloadLimits
}

export const CHECKIN_DECODER_OPTIONS: CheckinDecoderOptions = {
  workers: Math.max(1, Math.min(2, availableParallelism())),
  // 300 check-ins at once wait rather than fail; a 100,000-directory body is about 260 KiB.
  queued: 1_000,
  queuedBytes: 128 * 1024 * 1024,
  workerHeapMb: 256,
  workerYoungHeapMb: 4,
  idleMs: 60_000,
  nice: 10,
  limits: CHECKIN_PAYLOAD_LIMITS
}

/** Too many check-ins are waiting to be read: this one is refused (the client tries again at its next run). */
export class CheckinDecoderBusy extends Data.TaggedError("CheckinDecoderBusy")<{
  readonly queued: number
}> {}

/** The worker reading the body failed (it ran out of its heap, or died): the check-in is not applied. */
export class CheckinDecodeFailed extends Data.TaggedError("CheckinDecodeFailed")<{
  readonly reason: string
}> {}

/** A body as read by a worker, and which worker thread read it. */
export type DecodedCheckin = NumberedCheckinCall & { readonly threadId: number }

/** What a worker is told: the categories' directory numbers to use from now on, or a body to read. */
export type DecodeWorkerMessage =
  | { readonly _tag: "Numbers"; readonly categories: ReadonlyArray<NumberedCategory> }
  | { readonly _tag: "Body"; readonly body: string }

export interface CheckinDecoderStats {
  /** Worker threads running now. */
  readonly workers: number
  /** Bodies being read now. */
  readonly reading: number
  /** Bodies waiting for a worker now. */
  readonly queued: number
  /** Bodies read by a worker, since the start. */
  readonly decoded: number
  /** Check-ins refused as busy, since the start. */
  readonly refused: number
  /** Bodies whose worker failed, since the start. */
  readonly failed: number
}

interface Job {
  readonly body: string
  readonly numbers: ReadonlyArray<NumberedCategory>
  readonly done: (result: DecodedCheckin | CheckinDecodeFailed) => void
}

interface PoolWorker {
  readonly worker: Worker
  job: Job | undefined
  /** The directory numbers it was last sent (shared memory: sending them again copies nothing but their frame). */
  numbers: ReadonlyArray<NumberedCategory> | undefined
  idle: ReturnType<typeof setTimeout> | undefined
}

const WORKER_URL = new URL("./CheckinDecodeWorker.ts", import.meta.url)

/** The workers and their queue; plain callbacks, wrapped by the service below. */
class DecoderPool {
  private readonly options: CheckinDecoderOptions
  private readonly workers = new Set<PoolWorker>()
  private readonly queue: Array<Job> = []
  private queuedBytes = 0
  private closed = false
  decoded = 0
  refused = 0
  failed = 0

  constructor(options: CheckinDecoderOptions) {
    this.options = options
  }

  stats(): CheckinDecoderStats {
    let reading = 0
    for (const each of this.workers) if (each.job !== undefined) reading++
    return {
      workers: this.workers.size,
      reading,
      queued: this.queue.length,
      decoded: this.decoded,
      refused: this.refused,
      failed: this.failed
    }
  }

  /** Queues a body; false when the queue is full. `cancel` withdraws it while it still waits. */
  submit(job: Job): { readonly accepted: boolean; readonly cancel: () => void } {
    if (this.closed) {
      job.done(new CheckinDecodeFailed({ reason: "the node is stopping" }))
      return { accepted: true, cancel: () => {} }
    }
    if (
      this.queue.length >= this.options.queued ||
      (this.queue.length > 0 && this.queuedBytes + job.body.length > this.options.queuedBytes)
    ) {
      this.refused++
      return { accepted: false, cancel: () => {} }
    }
    this.queue.push(job)
    this.queuedBytes += job.body.length
    this.dispatch()
    return {
      accepted: true,
      cancel: () => {
        const at = this.queue.indexOf(job)
        if (at >= 0) {
          this.queue.splice(at, 1)
          this.queuedBytes -= job.body.length
        }
      }
    }
  }

  /** Gives waiting bodies to idle workers, starting workers up to the pool's size. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      let free: PoolWorker | undefined
      for (const each of this.workers) {
        if (each.job === undefined) {
          free = each
          break
        }
      }
      if (free === undefined && this.workers.size < this.options.workers) free = this.start()
      if (free === undefined) return
      const job = this.queue.shift()!
      this.queuedBytes -= job.body.length
      if (free.idle !== undefined) clearTimeout(free.idle)
      free.idle = undefined
      free.job = job
      // Referenced while it reads (a pending check-in keeps the process up), not while it waits for work.
      free.worker.ref()
      if (free.numbers !== job.numbers) {
        free.worker.postMessage({ _tag: "Numbers", categories: job.numbers } satisfies DecodeWorkerMessage)
        free.numbers = job.numbers
      }
      free.worker.postMessage({ _tag: "Body", body: job.body } satisfies DecodeWorkerMessage)
    }
  }

  private start(): PoolWorker {
    const worker = new Worker(WORKER_URL, {
      workerData: { limits: this.options.limits, nice: this.options.nice },
      resourceLimits: {
        maxOldGenerationSizeMb: this.options.workerHeapMb,
        maxYoungGenerationSizeMb: this.options.workerYoungHeapMb
      }
    })
    const entry: PoolWorker = { worker, job: undefined, numbers: undefined, idle: undefined }
    this.workers.add(entry)
    worker.on("message", (message: CheckinCallMessage) => {
      const job = entry.job
      entry.job = undefined
      worker.unref()
      if (job !== undefined) {
        this.decoded++
        job.done({ ...fromCheckinCallMessage(message), threadId: worker.threadId })
      }
      this.rest(entry)
      this.dispatch()
    })
    // An error in the worker ends it ('exit' follows): its body fails, the next one gets a new worker.
    let failure: string | undefined
    worker.on("error", (error) => {
      failure = error instanceof Error ? error.message : String(error)
    })
    worker.on("exit", (code) => {
      this.workers.delete(entry)
      if (entry.idle !== undefined) clearTimeout(entry.idle)
      const job = entry.job
      entry.job = undefined
      if (job !== undefined) {
        this.failed++
        job.done(new CheckinDecodeFailed({ reason: failure ?? `the worker exited with code ${code}` }))
      }
      if (!this.closed) this.dispatch()
    })
    return entry
  }

  /** An idle worker ends after a while, so that a node that takes no check-ins keeps no thread for them. */
  private rest(entry: PoolWorker): void {
    if (this.queue.length > 0 || this.closed) return
    entry.idle = setTimeout(() => {
      if (entry.job !== undefined) return
      // Out of the pool at once: a check-in arriving while it ends goes to another worker.
      this.workers.delete(entry)
      void entry.worker.terminate()
    }, this.options.idleMs)
    entry.idle.unref()
  }

  /** Ends every worker; bodies still waiting fail. */
  async close(): Promise<void> {
    this.closed = true
    for (const job of this.queue.splice(0)) job.done(new CheckinDecodeFailed({ reason: "the node is stopping" }))
    this.queuedBytes = 0
    await Promise.all([...this.workers].map((each) => each.worker.terminate()))
  }
}

export class CheckinDecoder extends Context.Service<
  CheckinDecoder,
  {
    /**
     * Reads a request body of `POST /xmlrpc` on a worker thread, its paths looked up in `numbers` (the categories'
     * directory numbers, CategoryNumbers.current).
     */
    readonly decode: (
      body: string,
      numbers: ReadonlyArray<NumberedCategory>
    ) => Effect.Effect<DecodedCheckin, CheckinDecoderBusy | CheckinDecodeFailed>
    readonly stats: () => CheckinDecoderStats
  }
>()("http/CheckinDecoder") {
  /** Workers start with the first check-in and end with the layer (the node stopping). */
  static readonly layer = (options: CheckinDecoderOptions = CHECKIN_DECODER_OPTIONS) =>
    Layer.effect(
      CheckinDecoder,
      Effect.gen(function* () {
        const pool = yield* Effect.acquireRelease(
          Effect.sync(() => new DecoderPool(options)),
          (pool) => Effect.promise(() => pool.close())
        )
        const decode = Effect.fn("CheckinDecoder.decode")(function* (
          body: string,
          numbers: ReadonlyArray<NumberedCategory>
        ) {
          const read = yield* Effect.callback<DecodedCheckin, CheckinDecoderBusy | CheckinDecodeFailed>(
            (resume, _signal) => {
              const submitted = pool.submit({
                body,
                numbers,
                done: (result) =>
                  resume(result instanceof CheckinDecodeFailed ? Effect.fail(result) : Effect.succeed(result))
              })
              if (!submitted.accepted) {
                resume(Effect.fail(new CheckinDecoderBusy({ queued: pool.stats().queued })))
                return
              }
              // Interrupted while waiting: withdrawn. Once a worker reads it, its result is dropped.
              return Effect.sync(submitted.cancel)
            }
          )
          yield* Effect.annotateCurrentSpan({ result: read._tag, threadId: read.threadId })
          return read
        })
        return CheckinDecoder.of({ decode, stats: () => pool.stats() })
      })
    )
}
