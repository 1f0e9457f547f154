// The last good index on local disk (docs/redirector.md#snapshot): a node restarts and serves from it while the
// database is down. Written atomically (temporary file, then rename), gzip-compressed JSON of the index's rows.
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { promisify } from "node:util"
import * as zlib from "node:zlib"
import { Effect, Layer } from "effect"
import type { IndexSource } from "./IndexSource.ts"
import { Redirector } from "./Redirector.ts"

const gzip = promisify(zlib.gzip)
const gunzip = promisify(zlib.gunzip)

const FORMAT = "mirrormanager-index/1"

export const snapshotFile = (dataDir: string) => path.join(dataDir, "redirector-index.json.gz")

export interface IndexSnapshot {
  readonly builtAt: number
  readonly source: IndexSource
}

export const writeSnapshot = (file: string, snapshot: IndexSnapshot) =>
  Effect.tryPromise({
    try: async () => {
      await fs.mkdir(path.dirname(file), { recursive: true })
      const body = await gzip(JSON.stringify({ format: FORMAT, ...snapshot }))
      const temporary = `${file}.${process.pid}.tmp`
      await fs.writeFile(temporary, body)
      await fs.rename(temporary, file)
      return body.length
    },
    catch: (error) => new Error(`cannot write the index snapshot ${file}: ${String(error)}`)
  })

/** The snapshot in `file`; undefined when there is none. A file that cannot be read is an error. */
export const readSnapshot = (file: string) =>
  Effect.tryPromise({
    try: async (): Promise<IndexSnapshot | undefined> => {
      const body = await fs.readFile(file).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return undefined
        throw error
      })
      if (body === undefined) return undefined
      const parsed = JSON.parse((await gunzip(body)).toString("utf8")) as {
        format?: unknown
        builtAt?: unknown
        source?: unknown
      }
      if (parsed.format !== FORMAT || typeof parsed.builtAt !== "number" || typeof parsed.source !== "object") {
        throw new Error(`not a ${FORMAT} snapshot`)
      }
      return { builtAt: parsed.builtAt, source: parsed.source as IndexSource }
    },
    catch: (error) => new Error(`cannot read the index snapshot ${file}: ${String(error)}`)
  })

/** At start, before the database answers: serve the snapshot, if there is one (a bad one is logged and ignored). */
export const IndexSnapshotLayer = (file: string) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const snapshot = yield* readSnapshot(file).pipe(
        Effect.catch((error) => Effect.as(Effect.logWarning(error.message), undefined))
      )
      if (snapshot === undefined || redirector.status().index !== undefined) return
      const served = yield* Effect.try({
        try: () => redirector.replaceIndex(snapshot.source, { origin: "snapshot", builtAt: snapshot.builtAt }),
        catch: (error) => new Error(`the index snapshot ${file} cannot be used: ${String(error)}`)
      }).pipe(Effect.catch((error) => Effect.as(Effect.logWarning(error.message), undefined)))
      if (served === undefined) return
      yield* Effect.logInfo(
        `serving the index snapshot ${file} of ${new Date(snapshot.builtAt).toISOString()} until the database answers`
      )
    })
  )
