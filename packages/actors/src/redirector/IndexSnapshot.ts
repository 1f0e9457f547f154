// The last good index on local disk (docs/redirector.md#snapshot): a node restarts and serves from it while the
// database is down. Written atomically (temporary file, then rename) as gzip-compressed lines of JSON: a header, then
// the index's rows a slice per line (bitsets in base64), then an end line that says how many rows there were, so a
// cut-off file is refused. Written and read a slice at a time with the event loop free between slices (compression
// runs on libuv's thread pool): at Fedora's size the snapshot is tens of megabytes.
import * as fs from "node:fs"
import * as path from "node:path"
import * as readline from "node:readline"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as zlib from "node:zlib"
import { Duration, Effect, Fiber, Layer, type Scope } from "effect"
import { bitsFromBase64, bitsToBase64, sliced } from "../db/index.ts"
import type { DirectorySource, HostSource, IndexSource } from "./IndexSource.ts"
import { type IndexChanges, Redirector } from "./Redirector.ts"

const FORMAT = "mirrormanager-index/2"

/** Rows per line of the snapshot. */
const HOSTS_PER_LINE = 50
const DIRECTORIES_PER_LINE = 1000

export const snapshotFile = (dataDir: string) => path.join(dataDir, "redirector-index.jsonl.gz")

export interface IndexSnapshot {
  readonly builtAt: number
  readonly source: IndexSource
}

type Line =
  | { readonly format: string; readonly builtAt: number }
  | { readonly categories: IndexSource["categories"] }
  | { readonly repositories: IndexSource["repositories"]; readonly redirects: IndexSource["redirects"] }
  | { readonly overrides: IndexSource["overrides"] }
  | { readonly hosts: ReadonlyArray<unknown> }
  | { readonly directories: ReadonlyArray<DirectorySource> }
  | { readonly end: { readonly hosts: number; readonly directories: number } }

const hostLine = (host: HostSource) => ({
  ...host,
  categories: host.categories.map((hc) => ({ ...hc, upToDate: bitsToBase64(hc.upToDate) }))
})

const hostOfLine = (row: any): HostSource => ({
  ...row,
  categories: (row.categories as Array<any>).map((hc) => ({ ...hc, upToDate: bitsFromBase64(hc.upToDate) }))
})

/**
 * Changes as one JSON value (bitsets in base64, as in the snapshot's host lines): how the index feed ships a batch
 * (docs/redirector.md#the-index-feed).
 */
export const changesToJson = (changes: IndexChanges): string =>
  JSON.stringify({
    ...changes,
    ...(changes.hosts === undefined
      ? {}
      : { hosts: { ids: changes.hosts.ids, rows: changes.hosts.rows.map(hostLine) } })
  })

/** Changes read back from `changesToJson`'s JSON (parsed). */
export const changesOfJson = (value: any): IndexChanges => ({
  ...value,
  ...(value.hosts === undefined
    ? {}
    : { hosts: { ids: value.hosts.ids, rows: (value.hosts.rows as Array<unknown>).map(hostOfLine) } })
})

/** The snapshot's lines, a slice at a time: written to disk, and streamed by the index feed. */
export async function* snapshotLines(snapshot: IndexSnapshot): AsyncGenerator<string> {
  const { source } = snapshot
  const line = (value: Line) => `${JSON.stringify(value)}\n`
  const breathe = () => new Promise<void>((resolve) => setImmediate(resolve))
  yield line({ format: FORMAT, builtAt: snapshot.builtAt })
  yield line({ categories: source.categories })
  yield line({ repositories: source.repositories, redirects: source.redirects })
  yield line({ overrides: source.overrides })
  for (let i = 0; i < source.hosts.length; i += HOSTS_PER_LINE) {
    yield line({ hosts: source.hosts.slice(i, i + HOSTS_PER_LINE).map(hostLine) })
    await breathe()
  }
  for (let i = 0; i < source.directories.length; i += DIRECTORIES_PER_LINE) {
    yield line({ directories: source.directories.slice(i, i + DIRECTORIES_PER_LINE) })
    await breathe()
  }
  yield line({ end: { hosts: source.hosts.length, directories: source.directories.length } })
}

/**
 * How the snapshot is compressed. Each piece of output comes back to the event loop as a callback: in pieces of 256
 * KiB rather than zlib's 16 KiB, about 100 MB of lines at Fedora's size cost the event loop a sixteenth of the
 * callbacks. The fastest level: the file is read back only at a restart, and the compression shares the cores with
 * the requests.
 */
const SNAPSHOT_GZIP: zlib.ZlibOptions = { chunkSize: 256 * 1024, level: 1 }

/** Writes the snapshot; returns its size in bytes. */
export const writeSnapshot = (file: string, snapshot: IndexSnapshot) =>
  Effect.tryPromise({
    try: async () => {
      await fs.promises.mkdir(path.dirname(file), { recursive: true })
      const temporary = `${file}.${process.pid}.tmp`
      try {
        await pipeline(
          Readable.from(snapshotLines(snapshot)),
          zlib.createGzip(SNAPSHOT_GZIP),
          fs.createWriteStream(temporary)
        )
        await fs.promises.rename(temporary, file)
      } catch (error) {
        await fs.promises.rm(temporary, { force: true })
        throw error
      }
      return (await fs.promises.stat(file)).size
    },
    catch: (error) => new Error(`cannot write the index snapshot ${file}: ${String(error)}`)
  })

/** The snapshot in gzip-decompressed `input` (a file, or the index feed's answer); an error when it is cut off. */
export const readSnapshotLines = async (input: NodeJS.ReadableStream): Promise<IndexSnapshot> => {
  const reader = readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })
  let builtAt: number | undefined
  let end: { hosts: number; directories: number } | undefined
  const hosts: Array<HostSource> = []
  const directories: Array<DirectorySource> = []
  const source: {
    -readonly [K in keyof IndexSource]: IndexSource[K]
  } = {
    hosts,
    directories,
    categories: [],
    repositories: [],
    redirects: [],
    overrides: { netblockCountries: [], continentRedirects: [] }
  }
  try {
    for await (const text of reader) {
      if (text.length === 0) continue
      const line = JSON.parse(text) as Record<string, any>
      if (builtAt === undefined) {
        if (line.format !== FORMAT || typeof line.builtAt !== "number") throw new Error(`not a ${FORMAT} snapshot`)
        builtAt = line.builtAt
      } else if ("categories" in line) source.categories = line.categories
      else if ("repositories" in line) {
        source.repositories = line.repositories
        source.redirects = line.redirects
      } else if ("overrides" in line) source.overrides = line.overrides
      else if ("hosts" in line) for (const row of line.hosts) hosts.push(hostOfLine(row))
      else if ("directories" in line) for (const row of line.directories) directories.push(row)
      else if ("end" in line) end = line.end
    }
  } finally {
    reader.close()
  }
  if (builtAt === undefined) throw new Error(`not a ${FORMAT} snapshot`)
  if (end === undefined || end.hosts !== hosts.length || end.directories !== directories.length) {
    throw new Error("the snapshot is cut off")
  }
  return { builtAt, source }
}

/** The snapshot in `file`; undefined when there is none. A file that cannot be read (or is cut off) is an error. */
export const readSnapshot = (file: string) =>
  Effect.tryPromise({
    try: async (): Promise<IndexSnapshot | undefined> => {
      const handle = await fs.promises.open(file).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return undefined
        throw error
      })
      if (handle === undefined) return undefined
      const input = handle.createReadStream().pipe(zlib.createGunzip())
      try {
        return await readSnapshotLines(input)
      } finally {
        input.destroy()
        await handle.close()
      }
    },
    catch: (error) => new Error(`cannot read the index snapshot ${file}: ${String(error)}`)
  })

/** At start, before the database answers: serve the snapshot, if there is one (a bad one is logged and ignored). */
/** The snapshot of the format before (one JSON value): never read, removed when a node starts. */
const OLD_SNAPSHOT = "redirector-index.json.gz"

export const IndexSnapshotLayer = (file: string) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const old = path.join(path.dirname(file), OLD_SNAPSHOT)
      if (fs.existsSync(old)) {
        yield* Effect.promise(() => fs.promises.rm(old, { force: true }))
        yield* Effect.logInfo(`removed ${old}, an index snapshot of an earlier format`)
      }
      const redirector = yield* Redirector
      const snapshot = yield* readSnapshot(file).pipe(
        Effect.catch((error) => Effect.as(Effect.logWarning(error.message), undefined))
      )
      if (snapshot === undefined || redirector.status().index !== undefined) return
      const served = yield* redirector
        .buildIndex(snapshot.source, { origin: "snapshot", builtAt: snapshot.builtAt })
        .pipe(
          Effect.catchDefect((error) =>
            Effect.as(Effect.logWarning(`the index snapshot ${file} cannot be used: ${String(error)}`), undefined)
          )
        )
      if (served === undefined) return
      yield* Effect.logInfo(
        `serving the index snapshot ${file} of ${new Date(snapshot.builtAt).toISOString()} until the database answers`
      )
    })
  )

/** How a follower of changes keeps the node's snapshot (see `snapshotKeeper`). */
export interface SnapshotKeeper {
  /** The index changed since the last snapshot. */
  readonly changed: () => void
  /** Writes the snapshot now (beside the caller: it does not wait for the write). */
  readonly save: Effect.Effect<void>
  /** Writes it if the index changed and the last write is `interval` old. */
  readonly saveIfDue: Effect.Effect<void>
}

/**
 * The node's index snapshot in `file` (none when undefined), kept by whatever follows changes (the change follower,
 * the feed follower): written beside the following, never in its way (tens of megabytes at Fedora's size take a
 * second or two while changes go on being applied), one write at a time, at most every `interval` while changes
 * arrive, and once more when the node stops (after the write under way, which is let finish: it is renamed into
 * place whole).
 */
export const snapshotKeeper = (
  file: string | undefined,
  interval: Duration.Duration
): Effect.Effect<SnapshotKeeper, never, Redirector | Scope.Scope> =>
  Effect.gen(function* () {
    const redirector = yield* Redirector
    const scope = yield* Effect.scope
    let writtenAt = 0
    let dirty = false
    let writing: Fiber.Fiber<void> | undefined
    const write = Effect.gen(function* () {
      const index = redirector.status().index
      if (file === undefined || index === undefined) return
      writtenAt = Date.now()
      // What changes from now on is for the next snapshot.
      dirty = false
      const bytes = yield* writeSnapshot(file, { builtAt: index.builtAt, source: yield* sliced(index.sourceSteps()) })
      yield* Effect.logDebug(`index snapshot written: ${file} (${bytes} bytes)`)
    }).pipe(Effect.catch((error) => Effect.logWarning(error.message)))
    const save = Effect.suspend(() => {
      if (writing !== undefined || file === undefined) return Effect.void
      return write.pipe(
        Effect.ensuring(Effect.sync(() => (writing = undefined))),
        Effect.uninterruptible,
        Effect.forkIn(scope),
        Effect.flatMap((fiber) =>
          Effect.sync(() => {
            writing = fiber
          })
        )
      )
    })
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        if (writing !== undefined) yield* Fiber.await(writing)
        if (dirty) yield* write
      })
    )
    return {
      changed: () => {
        dirty = true
      },
      save,
      saveIfDue: Effect.suspend(() =>
        dirty && Date.now() - writtenAt >= Duration.toMillis(interval) ? save : Effect.void
      )
    }
  })
