// Keeps this node's Redirector index current (docs/redirector.md#how-changes-reach-every-node): a full build from the
// registry, then the change log. NOTIFY wakes it; what it reads is "every change committed since the snapshot I last
// read in", so a change whose transaction ran long, or a wake-up lost while the connection was down, is never missed.
// When the database is unreachable the node keeps serving its last index (or the snapshot on disk) and tries again.
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, Option, Queue, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { CHANGES_CHANNEL } from "../db/index.ts"
import { IndexFeed } from "./IndexFeed.ts"
import { IndexRows } from "./IndexRows.ts"
import { snapshotKeeper } from "./IndexSnapshot.ts"
import { type IndexView, Redirector } from "./Redirector.ts"

export interface ChangeFollowerOptions {
  /** Where the index snapshot lives; undefined = no snapshot. */
  readonly snapshotFile: string | undefined
  /** A full rebuild as a consistency check (docs/redirector.md#the-index). */
  readonly rebuildInterval: Duration.Duration
  /** How often the snapshot is rewritten while changes arrive. */
  readonly snapshotInterval: Duration.Duration
  /** A poll even without a wake-up, in case a notification was lost. */
  readonly pollInterval: Duration.Duration
  /** Changes older than this are deleted from the log (any node may do it; nodes behind rebuild). */
  readonly keepChanges: Duration.Duration
}

export const defaultChangeFollowerOptions: ChangeFollowerOptions = {
  snapshotFile: undefined,
  rebuildInterval: Duration.minutes(15),
  snapshotInterval: Duration.seconds(60),
  pollInterval: Duration.seconds(5),
  keepChanges: Duration.days(1)
}

interface ChangeRow {
  readonly snapshot: string
  readonly kind: string | null
  readonly payload: { readonly hostIds?: ReadonlyArray<number>; readonly directoryIds?: ReadonlyArray<number> } | null
  readonly at: number | null
}

/** Kinds recorded for people (summaries), whose effects the table triggers already recorded. */
const INFORMATIONAL = new Set(["master-scan", "file-details-expired"])

const message = (cause: unknown) => String(cause).split("\n")[0]

export const ChangeFollowerLayer = (options: ChangeFollowerOptions) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const indexRows = yield* IndexRows
      const sql = yield* SqlClient.SqlClient
      const pg = yield* PgClient.PgClient
      // Redirector nodes fed by this one get every full build and batch of changes (docs/redirector.md#the-index-feed).
      const feed = Option.getOrUndefined(yield* Effect.serviceOption(IndexFeed))
      const indexSnapshot = yield* snapshotKeeper(options.snapshotFile, options.snapshotInterval)

      /** A new index is served: fed nodes fetch it anew, the log says what it holds, the snapshot is written. */
      const newIndex = (index: IndexView) =>
        Effect.gen(function* () {
          feed?.newGeneration()
          const counts = index.counts()
          yield* Effect.logInfo(
            `index built in ${redirector.status().buildMs} ms: ${counts.hosts} hosts, ${counts.directories} directories, ${counts.repositories} repositories, ${counts.netblocks} netblocks, ${counts.fileDetails} file details`
          )
          yield* indexSnapshot.save
        })

      const fullBuild = Effect.gen(function* () {
        const startedAt = Date.now()
        const loaded = yield* indexRows.all
        yield* newIndex(
          yield* redirector.buildIndex(loaded.source, { origin: "database", builtAt: Date.now(), startedAt })
        )
        return loaded.snapshot
      })

      /**
       * The scheduled rebuild: the rows read afresh and compared with the index (see IndexDifferences); what differs
       * is applied as changes, and sent to fed redirector nodes as a batch. Returns the snapshot to ask from next time.
       */
      const rebuild = Effect.gen(function* () {
        const startedAt = Date.now()
        const loaded = yield* indexRows.all
        const { index, changes } = yield* redirector.rebuildIndex(loaded.source, {
          origin: "database",
          builtAt: Date.now(),
          startedAt
        })
        if (changes === undefined) {
          yield* newIndex(index)
          return loaded.snapshot
        }
        const hosts = changes.hosts?.ids.length ?? 0
        const directories = changes.directories?.ids.length ?? 0
        const differed = hosts + directories + (changes.repositories ? 1 : 0) + (changes.overrides ? 1 : 0)
        if (differed > 0) {
          feed?.publish(changes, differed, startedAt / 1000)
          indexSnapshot.changed()
        }
        yield* Effect.logInfo(
          `index checked against the database in ${redirector.status().buildMs} ms: ${differed === 0 ? "nothing differed" : `${hosts} hosts, ${directories} directories${changes.repositories ? ", repositories" : ""}${changes.overrides ? ", overrides" : ""} differed and were applied`}`
        )
        return loaded.snapshot
      })

      /** Applies every change committed since `snapshot`; returns the snapshot to ask from next time. */
      const poll = (snapshot: string) =>
        Effect.gen(function* () {
          const readStart = performance.now()
          const rows = yield* sql<ChangeRow>`WITH s AS (SELECT pg_current_snapshot() AS snap)
            SELECT s.snap::text AS snapshot, c.kind, c.payload, extract(epoch FROM c.at)::float8 AS at
            FROM s LEFT JOIN changes c ON c.xid >= pg_snapshot_xmin(${snapshot}::pg_snapshot)
              AND NOT pg_visible_in_snapshot(c.xid, ${snapshot}::pg_snapshot)
            ORDER BY c.seq`
          const next = rows[0]?.snapshot ?? snapshot
          const hostIds = new Set<number>()
          const directoryIds = new Set<number>()
          let repositories = false
          let overrides = false
          let everything = false
          let newest = 0
          let applied = 0
          for (const row of rows) {
            if (row.kind === null) continue
            applied++
            newest = Math.max(newest, row.at ?? 0)
            if (row.kind === "hosts") for (const id of row.payload?.hostIds ?? []) hostIds.add(id)
            else if (row.kind === "directories") for (const id of row.payload?.directoryIds ?? []) directoryIds.add(id)
            else if (row.kind === "repositories") repositories = true
            else if (row.kind === "overrides") overrides = true
            else if (!INFORMATIONAL.has(row.kind)) everything = true
          }
          if (redirector.status().index === undefined) return yield* fullBuild
          // A change that may touch anything (a category, a renamed directory or arch): everything is read and
          // compared with the index, as the scheduled rebuild does. What differs is applied as changes; only a change
          // of categories makes a new index, so the views and the answers kept for them stay otherwise.
          if (everything) return yield* rebuild
          // Everything is read first and applied in one synchronous step: no request sees half a change, and a
          // read that fails leaves the index as it was (the next session rebuilds it).
          const directoryList = [...directoryIds]
          const hostList = [...hostIds]
          const directories = yield* indexRows.directories(directoryList)
          const hosts = yield* indexRows.hosts(hostList)
          const repositoryRows = repositories ? yield* indexRows.repositories : undefined
          const overrideRows = overrides ? yield* indexRows.overrides : undefined
          const changes = {
            ...(directoryList.length === 0 ? {} : { directories: { ids: directoryList, rows: directories } }),
            ...(hostList.length === 0 ? {} : { hosts: { ids: hostList, rows: hosts } }),
            ...(repositoryRows === undefined ? {} : { repositories: repositoryRows }),
            ...(overrideRows === undefined ? {} : { overrides: overrideRows })
          }
          redirector.applyChanges(changes)
          if (Object.keys(changes).length > 0) feed?.publish(changes, applied, newest)
          if (applied > 0) indexSnapshot.changed()
          redirector.caughtUp(applied, newest, performance.now() - readStart)
          if (applied > 0) {
            yield* Effect.logDebug(
              `applied ${applied} changes: ${hostIds.size} hosts, ${directoryIds.size} directories${repositories ? ", repositories" : ""}${overrides ? ", overrides" : ""}`
            )
          }
          return next
        })

      /** One session with the database: build, then follow until something fails. */
      const follow = Effect.gen(function* () {
        const wakeups = yield* pg.listen(CHANGES_CHANNEL)
        let snapshot = yield* fullBuild
        let builtAt = Date.now()
        let prunedAt = 0
        while (true) {
          // Wait for a wake-up (or the poll interval), then take every other pending one with it.
          yield* Queue.take(wakeups).pipe(Effect.timeoutOption(options.pollInterval))
          yield* Queue.clear(wakeups)
          if (Date.now() - builtAt >= Duration.toMillis(options.rebuildInterval)) {
            snapshot = yield* rebuild
            builtAt = Date.now()
          } else {
            snapshot = yield* poll(snapshot)
          }
          yield* indexSnapshot.saveIfDue
          if (Date.now() - prunedAt >= Duration.toMillis(Duration.hours(1))) {
            prunedAt = Date.now()
            const keepSeconds = Duration.toSeconds(options.keepChanges)
            yield* sql`DELETE FROM changes WHERE at < now() - make_interval(secs => ${keepSeconds})`
          }
        }
      }).pipe(Effect.scoped)

      yield* follow.pipe(
        Effect.catchCause((cause) =>
          Effect.gen(function* () {
            const text = message(cause)
            if (redirector.status().following) {
              yield* Effect.logWarning(`change stream lost, serving the last index: ${text}`)
            }
            redirector.databaseLost(text)
          })
        ),
        Effect.repeat(Schedule.min([Schedule.exponential("500 millis", 2), Schedule.spaced("10 seconds")])),
        Effect.forkScoped
      )
    })
  ).pipe(Layer.provide(IndexRows.layer))
