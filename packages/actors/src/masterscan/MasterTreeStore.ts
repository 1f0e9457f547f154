// What the registry knows of a category's master tree, and writing one walk of it in one transaction
// (docs/masterscan.md#overview): directories, category links, repositories from the prefix rules, file details, aging,
// and the change record.

import { Context, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { ChangeLog } from "../db/index.ts"
import type { KnownDirectory, WalkedDirectory, WalkProblem, WalkResult } from "./MasterTreeWalker.ts"
import { type CompiledRepositoryRules, guessRepository } from "./RepositoryRules.ts"

type Walked = Extract<WalkResult, { readonly _tag: "Walked" }>

const SCAN_LOCK = 4242010
const BATCH = 2000
const DAY = 86_400

export interface ScanCategory {
  readonly id: number
  readonly name: string
  readonly productId: number
  readonly topdir: string
  readonly masterPath: string | null
}

export interface KnownTree {
  readonly directories: ReadonlyArray<KnownDirectory>
  readonly ids: ReadonlyMap<string, number>
}

export interface WriteCounts {
  directoriesAdded: number
  directoriesUpdated: number
  directoriesRemoved: number
  directoriesVanished: number
  repositoriesAdded: number
  repositoriesUpdated: number
  fileDetailsAdded: number
  fileDetailsAged: number
}

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

export const directoryName = (topdir: string, rel: string) => (rel === "" ? topdir : `${topdir}/${rel}`)

/** Scans of one category, from any node, write one at a time: taken first in the scan's transaction. */
const lockCategory = (sql: SqlClient.SqlClient, categoryId: number) =>
  sql`SELECT pg_advisory_xact_lock(${SCAN_LOCK}, ${categoryId})`.pipe(Effect.asVoid)

const loadCategory = (sql: SqlClient.SqlClient, id: number) =>
  sql<ScanCategory>`SELECT c.id, c.name, c.product_id AS "productId", d.name AS topdir, c.master_path AS "masterPath"
    FROM categories c JOIN directories d ON d.id = c.topdir_id WHERE c.id = ${id}`.pipe(
    Effect.map((rows) => rows[0]),
    Effect.orDie
  )

/** The category's directories below its top directory, with their scan stamps. */
const loadKnownTree = (sql: SqlClient.SqlClient, category: ScanCategory) =>
  Effect.gen(function* () {
    const rows = yield* sql<{
      id: number
      name: string
      stamp: string | null
      files: ReadonlyArray<{ name: string; size: number; timestamp: number }> | null
    }>`SELECT d.id, d.name, d.scan_stamp AS stamp,
        CASE WHEN d.name LIKE '%/repodata' THEN d.files END AS files
      FROM directories d JOIN category_directories cd ON cd.directory_id = d.id
      WHERE cd.category_id = ${category.id}`
    const directories: Array<KnownDirectory> = []
    const ids = new Map<string, number>()
    for (const row of rows) {
      const rel =
        row.name === category.topdir
          ? ""
          : row.name.startsWith(`${category.topdir}/`)
            ? row.name.slice(category.topdir.length + 1)
            : undefined
      if (rel === undefined) continue // linked by hand outside the top directory: not the scan's business
      const repomd = row.files?.find((file) => file.name === "repomd.xml")
      directories.push({ rel, stamp: row.stamp, repomd: repomd && { size: repomd.size, timestamp: repomd.timestamp } })
      ids.set(rel, row.id)
    }
    return { directories, ids } satisfies KnownTree
  }).pipe(Effect.orDie)

const isUnder = (rel: string, roots: ReadonlyArray<string>) =>
  roots.some((root) => root === "" || rel === root || rel.startsWith(`${root}/`))

/**
 * Writes one walk, in the caller's transaction (after `lockCategory`): `writeDirectories` for each batch the walk
 * hands over while it goes on, then `finish` with every directory walked. Problems found while writing go to
 * `problems`.
 */
const treeWriter = (
  sql: SqlClient.SqlClient,
  changes: ChangeLog["Service"],
  input: {
    readonly category: ScanCategory
    readonly known: KnownTree
    readonly rules: CompiledRepositoryRules
    readonly deleteDirectories: boolean
    readonly maxStaleDays: number
    readonly now: number
    readonly problems: Array<WalkProblem>
  }
) => {
  const { category, known } = input
  const ids = new Map(known.ids)
  /** A list of ids as one bound parameter (any length), for `IN`. */
  const idList = (list: ReadonlyArray<number>) =>
    sql`(SELECT value::int FROM jsonb_array_elements(${JSON.stringify(list)}::jsonb))`
  const added: Array<number> = []
  const updated: Array<number> = []

  // Directories read in this walk (new ones always are): insert or update, and link new ones to the category.
  // The rows go as one JSON text per batch; each directory's file list is already JSON from the walk.
  const writeDirectories = (directories: ReadonlyArray<WalkedDirectory>) =>
    Effect.gen(function* () {
      const read = directories.filter((directory) => directory.read)
      for (const batch of chunks(read, BATCH)) {
        const rows = batch.map(
          (directory) =>
            `{"name":${JSON.stringify(directoryName(category.topdir, directory.rel))},"files":${directory.files ?? "[]"},` +
            `"readable":${directory.readable},"ctime":${directory.ctime},"stamp":${JSON.stringify(directory.stamp)},` +
            `"new":${!known.ids.has(directory.rel)}}`
        )
        const written = yield* sql<{ id: number; name: string; changed: boolean }>`
          WITH input AS (
            SELECT * FROM jsonb_to_recordset(${`[${rows.join(",")}]`}::jsonb)
              AS x(name text, files jsonb, readable boolean, ctime bigint, stamp text, new boolean)
          ), old AS (
            SELECT d.name, d.files, d.readable FROM directories d JOIN input USING (name)
          ), up AS (
            INSERT INTO directories (name, files, readable, ctime, scan_stamp)
            SELECT name, files, readable, ctime, stamp FROM input
            ON CONFLICT (name) DO UPDATE SET files = EXCLUDED.files, readable = EXCLUDED.readable,
              ctime = EXCLUDED.ctime, scan_stamp = EXCLUDED.scan_stamp
            RETURNING id, name
          ), linked AS (
            INSERT INTO category_directories (category_id, directory_id)
            SELECT ${category.id}, up.id FROM up JOIN input USING (name) WHERE input.new
            ON CONFLICT DO NOTHING
          )
          SELECT up.id, up.name,
            (old.name IS NOT NULL AND (old.files <> input.files OR old.readable <> input.readable)) AS changed
          FROM up JOIN input USING (name) LEFT JOIN old USING (name)`
        const byName = new Map(written.map((row) => [row.name, row]))
        for (const directory of batch) {
          const row = byName.get(directoryName(category.topdir, directory.rel))!
          ids.set(directory.rel, row.id)
          if (!known.ids.has(directory.rel)) added.push(row.id)
          else if (row.changed) updated.push(row.id)
        }
      }
    })

  const finish = (
    walked: ReadonlyArray<WalkedDirectory>,
    { truncated, unreadable, unsettled }: Pick<Walked, "truncated" | "unreadable" | "unsettled">
  ) =>
    Effect.gen(function* () {
      const counts: WriteCounts = {
        directoriesAdded: added.length,
        directoriesUpdated: updated.length,
        directoriesRemoved: 0,
        directoriesVanished: 0,
        repositoriesAdded: 0,
        repositoriesUpdated: 0,
        fileDetailsAdded: 0,
        fileDetailsAged: 0
      }
      // Directories gone from the master tree (not those that could not be read this time).
      const seen = new Set(walked.map((directory) => directory.rel))
      const vanished = [...known.ids].filter(([rel]) => !seen.has(rel) && !isUnder(rel, unreadable)).map(([, id]) => id)
      const removed: Array<number> = []
      const unlinked: Array<number> = []
      if (input.deleteDirectories && vanished.length > 0) {
        yield* sql`DELETE FROM category_directories WHERE category_id = ${category.id}
        AND directory_id IN ${idList(vanished)}`
        // A directory still listed by another category, or the top directory of one, stays.
        const rows = yield* sql<{ id: number }>`DELETE FROM directories d
        WHERE d.id IN ${idList(vanished)}
          AND NOT EXISTS (SELECT 1 FROM category_directories cd WHERE cd.directory_id = d.id)
          AND NOT EXISTS (SELECT 1 FROM categories c WHERE c.topdir_id = d.id)
        RETURNING d.id`
        const deleted = new Set(rows.map((row) => row.id))
        for (const id of vanished) (deleted.has(id) ? removed : unlinked).push(id)
        counts.directoriesRemoved = rows.length
      } else {
        counts.directoriesVanished = vanished.length
      }

      const repositories = yield* writeRepositories(sql, { ...input, walked }, ids)
      counts.repositoriesAdded = repositories.added
      counts.repositoriesUpdated = repositories.updated

      // File details: a new version of a file adds a row; an identical row is never added twice.
      const details = walked.flatMap((directory) =>
        (directory.fileDetails ?? []).map((detail) => ({ directoryId: ids.get(directory.rel)!, ...detail }))
      )
      const detailDirectories = new Set<number>()
      for (const batch of chunks(details, BATCH)) {
        const rows = yield* sql<{ directoryId: number }>`INSERT INTO file_details
          (directory_id, filename, timestamp, size, md5, sha1, sha256, sha512)
        SELECT "directoryId", filename, timestamp, size, md5, sha1, sha256, sha512
        FROM jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) AS x("directoryId" int, filename text,
          timestamp bigint, size bigint, md5 text, sha1 text, sha256 text, sha512 text)
        ON CONFLICT DO NOTHING
        RETURNING directory_id AS "directoryId"`
        counts.fileDetailsAdded += rows.length
        for (const row of rows) detailDirectories.add(row.directoryId)
      }

      // Aging (docs/masterscan.md#aging): keep the newest; the second newest while the newest is younger than
      // MAX_STALE_DAYS - 1; drop the rest once older than MAX_STALE_DAYS.
      const aged = yield* sql<{ directoryId: number }>`DELETE FROM file_details f USING (
        SELECT fd.id, fd.timestamp,
          row_number() OVER w AS rank, first_value(fd.timestamp) OVER w AS newest
        FROM file_details fd
        WHERE fd.directory_id IN (SELECT directory_id FROM category_directories WHERE category_id = ${category.id})
        WINDOW w AS (PARTITION BY fd.directory_id, fd.filename ORDER BY fd.timestamp DESC, fd.id DESC)
      ) r
      WHERE f.id = r.id AND r.rank > 1
        AND NOT (r.rank = 2 AND r.newest > ${input.now - (input.maxStaleDays - 1) * DAY})
        AND r.timestamp < ${input.now - input.maxStaleDays * DAY}
      RETURNING f.directory_id AS "directoryId"`
      counts.fileDetailsAged = aged.length
      for (const row of aged) detailDirectories.add(row.directoryId)

      // Nothing is known of what the walk did not reach: every directory is read again next time.
      if (truncated) {
        yield* sql`UPDATE directories SET scan_stamp = NULL WHERE id IN
          (SELECT directory_id FROM category_directories WHERE category_id = ${category.id})`
      }
      const unsettledIds = unsettled.flatMap((rel) => ids.get(rel) ?? [])
      if (unsettledIds.length > 0) {
        yield* sql`UPDATE directories SET scan_stamp = NULL WHERE id IN ${idList(unsettledIds)}`
      }

      const changed = added.length + updated.length + removed.length + unlinked.length
      if (changed + repositories.changed.length + detailDirectories.size > 0) {
        yield* changes.record("master-scan", {
          categoryId: category.id,
          directoriesAdded: added,
          directoriesUpdated: updated,
          directoriesRemoved: removed,
          /** Still there, but no longer in this category. */
          directoriesUnlinked: unlinked,
          repositories: repositories.changed,
          fileDetailDirectories: [...detailDirectories]
        })
      }
      return counts
    })

  return { writeDirectories, finish }
}

/** Repositories for every directory holding `repodata`, from the prefix rules (docs/masterscan.md#repository-rules). */
const writeRepositories = (
  sql: SqlClient.SqlClient,
  input: {
    readonly category: ScanCategory
    readonly walked: ReadonlyArray<WalkedDirectory>
    readonly rules: CompiledRepositoryRules
    readonly problems: Array<WalkProblem>
  },
  ids: ReadonlyMap<string, number>
) =>
  Effect.gen(function* () {
    const { category } = input
    const result = { added: 0, updated: 0, changed: [] as Array<number> }
    const candidates = input.walked.filter((directory) => directory.isRepo)
    if (candidates.length === 0) return result
    const arches = new Map(
      (yield* sql<{ id: number; name: string }>`SELECT id, name FROM arches`).map((row) => [row.name, row.id])
    )
    const versions = new Map(
      (yield* sql<{ id: number; name: string }>`SELECT id, name FROM versions
        WHERE product_id = ${category.productId}`).map((row) => [row.name, row.id])
    )
    const existing = yield* sql<{
      id: number
      directoryId: number
      prefix: string | null
      archId: number
      versionId: number | null
      scanned: boolean
      categoryId: number
    }>`SELECT id, directory_id AS "directoryId", prefix, arch_id AS "archId", version_id AS "versionId", scanned,
        category_id AS "categoryId"
      FROM repositories`
    type Row = (typeof existing)[number]
    // The repository the scan made for a directory; rows an admin made or edited are theirs and never touched.
    // Per category: another category listing the same directory has its own repositories there.
    const ours = existing.filter((row) => row.categoryId === category.id)
    const scannedRow = new Map(ours.filter((row) => row.scanned).map((row) => [row.directoryId, row]))
    const adminRows = new Set(ours.filter((row) => !row.scanned).map((row) => row.directoryId))
    const byPrefix = new Map(
      existing.filter((row) => row.prefix !== null).map((row) => [`${row.prefix}\u0000${row.archId}`, row])
    )
    const archNames = new Set(arches.keys())
    const versionNames = new Set(versions.keys())

    const archId = (name: string) =>
      Effect.gen(function* () {
        const id = arches.get(name)
        if (id !== undefined) return id
        const [row] = yield* sql<{ id: number }>`INSERT INTO arches (name) VALUES (${name})
          ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`
        arches.set(name, row!.id)
        archNames.add(name)
        return row!.id
      })
    const versionId = (version: { readonly name: string; readonly isTest: boolean }) =>
      Effect.gen(function* () {
        const id = versions.get(version.name)
        if (id !== undefined) return id
        const [row] = yield* sql<{ id: number }>`INSERT INTO versions (product_id, name, is_test)
          VALUES (${category.productId}, ${version.name}, ${version.isTest})
          ON CONFLICT (product_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id`
        versions.set(version.name, row!.id)
        versionNames.add(version.name)
        return row!.id
      })

    /** One write of one repository; a name taken meanwhile (an admin, another scan) is a problem, not a failure. */
    const attempt = <A>(
      name: string,
      prefix: string | null,
      arch: string,
      write: Effect.Effect<A, SqlError.SqlError>
    ) =>
      write.pipe(
        sql.withTransaction,
        Effect.map((a): A | undefined => a),
        Effect.catchTag("SqlError", (error) => {
          if ((error.reason.cause as { code?: string } | undefined)?.code !== "23505") return Effect.fail(error)
          input.problems.push({ path: name, problem: `repo=${prefix} arch=${arch} is already taken; not changed` })
          return Effect.succeed(undefined)
        })
      )

    for (const directory of candidates) {
      const name = directoryName(category.topdir, directory.rel)
      const guess = guessRepository(input.rules, {
        category: category.name,
        name,
        rel: directory.rel,
        arches: archNames,
        versions: versionNames
      })
      if (guess === undefined) continue
      if (guess.arch === null) {
        if (guess.matched) {
          input.problems.push({ path: name, problem: `repository ${guess.prefix}: no arch in the path; not added` })
        }
        continue
      }
      const directoryId = ids.get(directory.rel)!
      const current = scannedRow.get(directoryId)
      // A directory whose repositories an admin made (or renamed) is the admin's: the rules add nothing to it.
      if (current === undefined && adminRows.has(directoryId)) continue
      const arch = yield* archId(guess.arch)
      const version = guess.version === null ? null : yield* versionId(guess.version)
      const prefix = guess.prefix
      const key = `${prefix}\u0000${arch}`
      const owner = prefix === null ? undefined : byPrefix.get(key)
      if (owner !== undefined && owner.id !== current?.id) {
        // An admin's repository already answers this name for this very directory: nothing to add.
        if (owner.directoryId !== directoryId) {
          input.problems.push({
            path: name,
            problem: `repo=${prefix} arch=${guess.arch} already belongs to directory id ${owner.directoryId}; not changed`
          })
        }
        continue
      }
      if (current === undefined) {
        const row = yield* attempt(
          name,
          prefix,
          guess.arch,
          sql<{ id: number }>`INSERT INTO repositories
              (name, prefix, category_id, version_id, arch_id, directory_id, scanned)
            VALUES (${name}, ${prefix}, ${category.id}, ${version}, ${arch}, ${directoryId}, true) RETURNING id`
        )
        if (row === undefined) continue
        const created: Row = {
          id: row[0]!.id,
          directoryId,
          prefix,
          archId: arch,
          versionId: version,
          scanned: true,
          categoryId: category.id
        }
        scannedRow.set(directoryId, created)
        if (prefix !== null) byPrefix.set(key, created)
        result.added++
        result.changed.push(created.id)
      } else if (current.prefix !== prefix || current.archId !== arch || current.versionId !== version) {
        const done = yield* attempt(
          name,
          prefix,
          guess.arch,
          sql`UPDATE repositories SET prefix = ${prefix}, arch_id = ${arch}, version_id = ${version}
            WHERE id = ${current.id}`
        )
        if (done === undefined) continue
        if (current.prefix !== null) byPrefix.delete(`${current.prefix}\u0000${current.archId}`)
        const changed: Row = { ...current, prefix, archId: arch, versionId: version }
        scannedRow.set(directoryId, changed)
        if (prefix !== null) byPrefix.set(key, changed)
        result.updated++
        result.changed.push(current.id)
      }
    }
    return result
  })

/** Writes one walk of a category: its batches of directories as the walk goes on, then the rest at its end. */
export type TreeWriter = ReturnType<typeof treeWriter>

export class MasterTreeStore extends Context.Service<
  MasterTreeStore,
  {
    /** Scans of one category, from any node, write one at a time: taken first in the scan's transaction. */
    readonly lockCategory: (categoryId: number) => Effect.Effect<void, SqlError.SqlError>
    /** The category as a scan sees it; undefined when there is none. */
    readonly category: (id: number) => Effect.Effect<ScanCategory | undefined>
    /** The category's directories below its top directory, with their scan stamps. */
    readonly knownTree: (category: ScanCategory) => Effect.Effect<KnownTree>
    /**
     * Writes one walk, in the caller's transaction (after `lockCategory`): `writeDirectories` for each batch the
     * walk hands over while it goes on, then `finish` with every directory walked. Problems found while writing go
     * to `problems`.
     */
    readonly treeWriter: (input: Parameters<typeof treeWriter>[2]) => TreeWriter
  }
>()("actors/MasterTreeStore") {
  static readonly layer = Layer.effect(
    MasterTreeStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const changes = yield* ChangeLog
      return MasterTreeStore.of({
        lockCategory: Effect.fn("MasterTreeStore.lockCategory")(function* (categoryId) {
          yield* lockCategory(sql, categoryId)
        }),
        category: Effect.fn("MasterTreeStore.category")(function* (id) {
          return yield* loadCategory(sql, id)
        }),
        knownTree: Effect.fn("MasterTreeStore.knownTree")(function* (category) {
          return yield* loadKnownTree(sql, category)
        }),
        treeWriter: (input) => treeWriter(sql, changes, input)
      })
    })
  )
}
