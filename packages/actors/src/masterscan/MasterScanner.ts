// The master-tree scanner (docs/masterscan.md#overview, "UMDL"): walks each category's master tree in a worker thread
// and writes what changed in one transaction per category. One scan per category at a time on a node; writes serialise
// across nodes.

import { Worker } from "node:worker_threads"
import type { ScanProgress, ScanStatus, ScanSummary } from "@mirrormanager/domain/masterscan"
import {
  type CategoryId,
  type Forbidden,
  NotFound,
  type Principal,
  Unprocessable
} from "@mirrormanager/domain/registry"
import { Cause, Clock, Context, type Duration, Effect, Fiber, Layer, Queue, Schedule, Scope, Semaphore } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { withoutTransactionTimeouts } from "../db/index.ts"
import { requireAdmin } from "../registry/index.ts"
import { MasterScanPolicy } from "./MasterScanPolicy.ts"
import { MasterTreeStore, type ScanCategory } from "./MasterTreeStore.ts"
import type { WalkedDirectory, WalkOptions, WalkProblem, WalkProgress, WalkResult } from "./MasterTreeWalker.ts"

const MAX_PROBLEMS_KEPT = 100

export interface ScanOptions {
  /** Remove directories that vanished from the master tree (docs/masterscan.md#deleted-directories). */
  readonly deleteDirectories?: boolean
  /** Called every `progressInterval` while the scan runs. */
  readonly onProgress?: (progress: ScanProgress) => Effect.Effect<void>
  readonly progressInterval?: Duration.Input
}

type ScanError = NotFound | Unprocessable

export interface ScannedCategory {
  readonly id: CategoryId
  readonly name: string
  readonly masterPath: string | null
}

type WorkerMessage =
  | { readonly _tag: "Progress"; readonly progress: WalkProgress }
  | { readonly _tag: "Directories"; readonly directories: ReadonlyArray<WalkedDirectory> }
  | { readonly _tag: "Done"; readonly result: WalkResult }
  | { readonly _tag: "Crashed"; readonly error: unknown }

/** Starts the walk in a worker thread; its messages arrive on the queue. Closing the scope terminates the worker. */
const startWalker = (options: WalkOptions) =>
  Effect.gen(function* () {
    const messages = yield* Queue.unbounded<WorkerMessage>()
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const worker = new Worker(new URL("./MasterTreeWorker.ts", import.meta.url), { workerData: options })
        let done = false
        worker.on("message", (message: WorkerMessage) => {
          if (message._tag === "Done") done = true
          Queue.offerUnsafe(messages, message)
        })
        worker.on("error", (error) => {
          done = true
          Queue.offerUnsafe(messages, { _tag: "Crashed", error })
        })
        worker.on("exit", (code) => {
          if (!done) {
            Queue.offerUnsafe(messages, {
              _tag: "Crashed",
              error: new Error(`the master-tree walker exited with code ${code}`)
            })
          }
        })
        return worker
      }),
      (worker) => Effect.promise(() => worker.terminate())
    )
    return messages
  })

const progressOf = (category: ScanCategory, phase: ScanProgress["phase"]): ScanProgress => ({
  categoryId: category.id as ScanProgress["categoryId"],
  category: category.name,
  phase,
  directoriesSeen: 0,
  directoriesRead: 0,
  filesHashed: 0,
  elapsedMs: 0
})

const emptySummary = (category: ScanCategory, startedAt: number) => ({
  categoryId: category.id as ScanSummary["categoryId"],
  category: category.name,
  startedAt: Math.floor(startedAt / 1000),
  directoriesSeen: 0,
  directoriesRead: 0,
  directoriesAdded: 0,
  directoriesUpdated: 0,
  directoriesRemoved: 0,
  directoriesVanished: 0,
  repositoriesAdded: 0,
  repositoriesUpdated: 0,
  filesHashed: 0,
  fileDetailsAdded: 0,
  fileDetailsAged: 0
})

export class MasterScanner extends Context.Service<
  MasterScanner,
  {
    /** Scans one category now (waiting for a scan of it already running on this node). */
    readonly scan: (categoryId: number, options?: ScanOptions) => Effect.Effect<ScanSummary, ScanError>
    /** Starts a scan in the background, unless one is already waiting; answers at once. Global admins only. */
    readonly request: (
      p: Principal,
      categoryId: CategoryId,
      options?: ScanOptions
    ) => Effect.Effect<ScanStatus, Forbidden | ScanError>
    /** The category's scan running or waiting, and its last one; for any signed-in user. */
    readonly status: (p: Principal, categoryId: CategoryId) => Effect.Effect<ScanStatus, NotFound>
    /** Every category, with its master path (a category without one is not scanned), by id. */
    readonly categories: () => Effect.Effect<ReadonlyArray<ScannedCategory>, SqlError.SqlError>
  }
>()("actors/MasterScanner") {
  static readonly layer = Layer.effect(
    MasterScanner,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const store = yield* MasterTreeStore
      const policy = yield* MasterScanPolicy
      const scope = yield* Scope.Scope
      const locks = new Map<number, Semaphore.Semaphore>()
      const running = new Map<number, ScanProgress>()
      const queued = new Set<number>()
      // Each running scan holds a pooled connection for its whole transaction: a few at a time leave the rest to
      // the API.
      const slots = Semaphore.makeUnsafe(policy.maxConcurrentScans)
      const lockOf = (id: number) => {
        let lock = locks.get(id)
        if (lock === undefined) {
          lock = Semaphore.makeUnsafe(1)
          locks.set(id, lock)
        }
        return lock
      }

      /** One scan of a category at a time, and at most maxConcurrentScans in all. */
      const exclusively = <A, E, R>(categoryId: number, effect: Effect.Effect<A, E, R>) =>
        lockOf(categoryId).withPermit(slots.withPermit(effect))

      const category = (id: number) =>
        Effect.flatMap(store.category(id), (row) =>
          row === undefined
            ? Effect.fail(new NotFound({ resource: "category", detail: `category ${id} does not exist` }))
            : Effect.succeed(row)
        )

      const scannable = (id: number) =>
        Effect.flatMap(category(id), (row) =>
          row.masterPath === null
            ? Effect.fail(
                new Unprocessable({ detail: `category "${row.name}" has no master path; set masterPath to scan it` })
              )
            : Effect.succeed(row as ScanCategory & { readonly masterPath: string })
        )

      const lastSummary = (id: number) =>
        sql<{ summary: ScanSummary }>`SELECT summary FROM master_scans WHERE category_id = ${id}`.pipe(
          Effect.map((rows) => rows[0]?.summary ?? null),
          Effect.orDie
        )

      const saveSummary = (summary: ScanSummary) =>
        sql`INSERT INTO master_scans (category_id, started_at, finished_at, summary)
          VALUES (${summary.categoryId}, to_timestamp(${summary.startedAt}), clock_timestamp(), ${JSON.stringify(summary)}::jsonb)
          ON CONFLICT (category_id) DO UPDATE SET started_at = EXCLUDED.started_at,
            finished_at = EXCLUDED.finished_at, summary = EXCLUDED.summary`.pipe(Effect.orDie)

      const runScan = (target: ScanCategory & { readonly masterPath: string }, options: ScanOptions) =>
        Effect.gen(function* () {
          const startedAt = yield* Clock.currentTimeMillis
          const progress: { -readonly [K in keyof ScanProgress]: ScanProgress[K] } = progressOf(target, "walking")
          running.set(target.id, progress)
          const snapshot = () => ({ ...progress, elapsedMs: Date.now() - startedAt })
          const reporter =
            options.onProgress === undefined
              ? undefined
              : yield* Effect.forkChild(
                  Effect.suspend(() => options.onProgress!(snapshot())).pipe(
                    Effect.repeat(Schedule.spaced(options.progressInterval ?? "1 second"))
                  )
                )

          const problems: Array<WalkProblem> = []
          const base = emptySummary(target, startedAt)
          // The walk and the writes overlap: each batch of directories is written while the walk goes on, all in
          // one transaction, so a scan that fails half-way leaves nothing behind. What is known is read after the
          // lock, so a scan that waited for another one (another node's) starts from what that one wrote. Neither
          // that wait, nor the writes of a big tree, nor the walk between two writes has a time bound.
          const outcome = yield* Effect.gen(function* () {
            yield* withoutTransactionTimeouts(sql)
            yield* store.lockCategory(target.id)
            const known = yield* store.knownTree(target)
            const writer = store.treeWriter({
              category: target,
              known,
              rules: policy.rules,
              deleteDirectories: options.deleteDirectories ?? false,
              maxStaleDays: policy.maxStaleDays,
              now: Math.floor(startedAt / 1000),
              problems
            })
            const messages = yield* startWalker({
              root: target.masterPath,
              known: known.directories,
              excludes: policy.excludes,
              bulkThreshold: policy.bulkThreshold,
              keepNewest: policy.keepNewest,
              settleMs: policy.settleMs,
              maxMetadataBytes: policy.maxMetadataBytes,
              maxDirectories: policy.maxDirectories,
              startedAt
            })
            const walked: Array<WalkedDirectory> = []
            while (true) {
              const message = yield* Queue.take(messages)
              if (message._tag === "Progress") Object.assign(progress, message.progress)
              else if (message._tag === "Directories") {
                for (const directory of message.directories) walked.push(directory)
                yield* writer.writeDirectories(message.directories)
              } else if (message._tag === "Crashed") return yield* Effect.die(message.error)
              else if (message.result._tag === "RootFailed") return message.result
              else {
                const walk = message.result
                Object.assign(progress, walk.progress)
                progress.phase = "writing"
                const counts = yield* writer.finish(walked, walk)
                // What writing found (names taken, ...) is in `problems` now; the walk's come first.
                const writeProblems = problems.length
                problems.unshift(...walk.problems)
                const written: ScanSummary = {
                  ...base,
                  ...walk.progress,
                  ...counts,
                  outcome: "completed",
                  durationMs: Date.now() - startedAt,
                  problems: problems.slice(0, MAX_PROBLEMS_KEPT),
                  problemCount: walk.problemCount + writeProblems
                }
                yield* saveSummary(written)
                return written
              }
            }
          }).pipe(
            Effect.scoped,
            sql.withTransaction,
            Effect.orDie,
            // The database refused the scan (or a bug): that category failed, nothing of it was written, and the
            // scans of other categories go on. Interruption (a stop) is not a failure of the scan.
            Effect.catchCause((cause) =>
              Cause.hasInterrupts(cause)
                ? Effect.failCause(cause)
                : Effect.as(Effect.logError(`master scan of "${target.name}" failed`, cause), {
                    _tag: "WriteFailed" as const,
                    problem: {
                      path: target.masterPath,
                      problem: `the scan could not be written, nothing was changed: ${failureText(cause)}`
                    }
                  })
            )
          )
          let summary: ScanSummary
          if ("problem" in outcome) {
            summary = {
              ...base,
              outcome: "failed",
              durationMs: Date.now() - startedAt,
              problems: [outcome.problem],
              problemCount: 1
            }
            yield* saveSummary(summary)
          } else summary = outcome
          if (reporter !== undefined) {
            yield* Fiber.interrupt(reporter)
            yield* options.onProgress!(snapshot())
          }
          return summary
        }).pipe(
          Effect.ensuring(Effect.sync(() => running.delete(target.id))),
          Effect.withSpan("MasterScanner.scan", { attributes: { categoryId: target.id, category: target.name } })
        )

      const scan = (categoryId: number, options: ScanOptions = {}) =>
        Effect.flatMap(scannable(categoryId), (target) => exclusively(target.id, runScan(target, options)))

      const status = (categoryId: number) =>
        Effect.gen(function* () {
          const row = yield* category(categoryId)
          const progress = running.get(row.id)
          const current: ScanProgress | null =
            progress !== undefined ? { ...progress } : queued.has(row.id) ? progressOf(row, "queued") : null
          return {
            categoryId: row.id as ScanStatus["categoryId"],
            running: current,
            last: yield* lastSummary(row.id)
          } satisfies ScanStatus
        })

      const request = (categoryId: number, options: ScanOptions = {}) =>
        Effect.gen(function* () {
          const target = yield* scannable(categoryId)
          if (!queued.has(target.id)) {
            queued.add(target.id)
            yield* exclusively(
              target.id,
              Effect.andThen(
                Effect.sync(() => queued.delete(target.id)),
                runScan(target, options)
              )
            ).pipe(
              Effect.flatMap(logSummary),
              Effect.ensuring(Effect.sync(() => queued.delete(target.id))),
              Effect.catchCause((cause) => Effect.logError(`scan of category "${target.name}" failed`, cause)),
              Effect.forkIn(scope)
            )
          }
          return yield* status(target.id)
        })

      return MasterScanner.of({
        scan,
        request: Effect.fn("MasterScanner.request")(function* (p, categoryId, options) {
          yield* requireAdmin(p, "scan master trees")
          return yield* request(categoryId, options)
        }),
        status: Effect.fn("MasterScanner.status")(function* (_p, categoryId) {
          return yield* status(categoryId)
        }),
        categories: Effect.fn("MasterScanner.categories")(function* () {
          return yield* sql<ScannedCategory>`
            SELECT id, name, master_path AS "masterPath" FROM categories ORDER BY id`
        })
      })
    })
  ).pipe(Layer.provide(MasterTreeStore.layer))
}

/** What went wrong, with the database's own message (a SqlError's text alone says only "Query failed"). */
const failureText = (cause: Cause.Cause<unknown>) => {
  const error = Cause.squash(cause)
  const inner = (error as { cause?: { message?: unknown } } | undefined)?.cause?.message
  return `${error}${typeof inner === "string" && inner.length > 0 ? `: ${inner}` : ""}`
}

/** A running scan in the node's log (for `ScanOptions.onProgress`). */
export const logProgress = (progress: ScanProgress) =>
  Effect.logInfo(
    `master scan of "${progress.category}": ${progress.phase}, ${progress.directoriesSeen} directories seen, ${progress.filesHashed} files hashed`
  )

/** The outcome of a scan in the node's log: problems as warnings, then the counts. */
export const logSummary = (summary: ScanSummary) =>
  Effect.gen(function* () {
    for (const problem of summary.problems) yield* Effect.logWarning(`${problem.path}: ${problem.problem}`)
    yield* Effect.logInfo(`master scan of "${summary.category}" ${summary.outcome}`).pipe(
      Effect.annotateLogs({
        directoriesSeen: summary.directoriesSeen,
        directoriesRead: summary.directoriesRead,
        directoriesAdded: summary.directoriesAdded,
        directoriesUpdated: summary.directoriesUpdated,
        directoriesRemoved: summary.directoriesRemoved,
        repositoriesAdded: summary.repositoriesAdded,
        fileDetailsAdded: summary.fileDetailsAdded,
        fileDetailsAged: summary.fileDetailsAged,
        problems: summary.problemCount,
        durationMs: summary.durationMs
      })
    )
  })
