// Walks one category's master tree (docs/masterscan.md#the-walk) with synchronous file system calls, which are several
// times faster than libuv's thread pool for hundreds of thousands of stat calls; it runs in a worker thread
// (MasterTreeWorker.ts), so the node's event loop stays free. Directories whose ctime is unchanged are not re-read.

import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { type HashAlgorithm, isChecksumFile, parseChecksumFile } from "./ChecksumFile.ts"
import { repomdTimestamp } from "./Repomd.ts"

/** What the registry already knows of a directory of this category. */
export interface KnownDirectory {
  /** Path below the master root ("" = the root). */
  readonly rel: string
  /** The stat stamp recorded when it was last read; null = read it again. */
  readonly stamp: string | null
  /** For `repodata` directories: repomd.xml as last seen, to notice a file rewritten in place. */
  readonly repomd?: { readonly size: number; readonly timestamp: number } | undefined
}

export interface WalkOptions {
  readonly root: string
  readonly known: ReadonlyArray<KnownDirectory>
  /** Path components never walked (`.snapshot`, `.~tmp~`). */
  readonly excludes: ReadonlyArray<string>
  /** More than this many bulk files (.rpm .drpm .hdr .html) in a directory: only the newest few are listed. */
  readonly bulkThreshold: number
  readonly keepNewest: number
  /** A directory changed this recently may still be changing: its stamp is not kept, so the next scan re-reads it. */
  readonly settleMs: number
  readonly maxMetadataBytes: number
  /** Symbolic links can multiply a tree; the walk stops past this many directories. */
  readonly maxDirectories: number
  readonly startedAt: number
}

export interface ListedFile {
  readonly name: string
  readonly size: number
  readonly timestamp: number
}

export interface FileDetailFound {
  readonly filename: string
  readonly timestamp: number
  readonly size: number
  readonly md5: string | null
  readonly sha1: string | null
  readonly sha256: string
  readonly sha512: string | null
}

export interface WalkedDirectory {
  readonly rel: string
  readonly readable: boolean
  readonly ctime: number
  readonly stamp: string | null
  /** Whether its entries were read in this walk (false: unchanged since the last scan). */
  readonly read: boolean
  /** Has a `repodata` subdirectory. */
  readonly isRepo: boolean
  /** JSON of the files the crawler checks; only when read. */
  readonly files?: string
  readonly fileDetails?: ReadonlyArray<FileDetailFound>
}

export interface WalkProblem {
  readonly path: string
  readonly problem: string
}

export interface WalkProgress {
  readonly directoriesSeen: number
  readonly directoriesRead: number
  readonly filesHashed: number
}

export const MAX_PROBLEMS_LISTED = 1000

/** Directories are handed over in batches while the walk goes on (so they can be written meanwhile). */
export const WALK_BATCH = 1000

export type WalkResult =
  | {
      readonly _tag: "Walked"
      /** Known directories that could not be read now: they and everything below them are kept as they are. */
      readonly unreadable: ReadonlyArray<string>
      /** Known directories left as they were that must be read again next time (their stamps are dropped). */
      readonly unsettled: ReadonlyArray<string>
      /** The first MAX_PROBLEMS_LISTED problems; `problemCount` counts them all. */
      readonly problems: ReadonlyArray<WalkProblem>
      readonly problemCount: number
      /** The walk stopped at maxDirectories: what it did not reach is unknown, so nothing may count as unchanged. */
      readonly truncated: boolean
      readonly progress: WalkProgress
    }
  | { readonly _tag: "RootFailed"; readonly problem: WalkProblem }

const BULK_FILE = /\.(rpm|drpm|hdr|html)$/
const ALGORITHMS: ReadonlyArray<HashAlgorithm> = ["md5", "sha1", "sha256", "sha512"]

const errorText = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code
  switch (code) {
    case "ENOENT":
      return "does not exist"
    case "EACCES":
    case "EPERM":
      return "permission denied"
    case "ENOTDIR":
      return "is not a directory"
    case "ELOOP":
      return "symbolic link loop"
    default:
      return error instanceof Error ? error.message : String(error)
  }
}

/** A name as its bytes (latin1 keeps one character per byte), to compare readdir's UTF-8 names with raw ones. */
const rawName = (name: string) => Buffer.from(name, "utf8").toString("latin1")

/** The raw names of a directory, read only when a name holds U+FFFD: that character itself, or bytes not UTF-8? */
const rawNamesOf = (directory: string): ReadonlySet<string> => {
  try {
    return new Set(fs.readdirSync(directory, { encoding: "buffer" }).map((raw) => raw.toString("latin1")))
  } catch {
    return new Set()
  }
}

/** The entry no longer exists (as a directory): not a reason to keep what the registry knows of it. */
const gone = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code
  return code === "ENOENT" || code === "ENOTDIR" || code === "ELOOP"
}

const join = (rel: string, name: string) => (rel === "" ? name : `${rel}/${name}`)

/** The files a crawler checks: all of them, but only the newest few bulk files where there are many. */
const listedFiles = (files: Array<ListedFile>, options: WalkOptions): Array<ListedFile> => {
  const bulk = files.filter((file) => BULK_FILE.test(file.name))
  if (bulk.length <= options.bulkThreshold) return files.sort((a, b) => (a.name < b.name ? -1 : 1))
  const newest = new Set(
    bulk
      .sort((a, b) => b.timestamp - a.timestamp || (a.name < b.name ? -1 : 1))
      .slice(0, options.keepNewest)
      .map((file) => file.name)
  )
  return files
    .filter((file) => !BULK_FILE.test(file.name) || newest.has(file.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
}

export const walkMasterTree = (
  options: WalkOptions,
  onProgress: (progress: WalkProgress) => void,
  onDirectories: (directories: ReadonlyArray<WalkedDirectory>) => void
): WalkResult => {
  const known = new Map<string, KnownDirectory>()
  const knownChildren = new Map<string, Array<string>>()
  for (const directory of options.known) {
    known.set(directory.rel, directory)
    if (directory.rel === "") continue
    const slash = directory.rel.lastIndexOf("/")
    const parent = slash < 0 ? "" : directory.rel.slice(0, slash)
    const children = knownChildren.get(parent)
    if (children === undefined) knownChildren.set(parent, [directory.rel.slice(slash + 1)])
    else children.push(directory.rel.slice(slash + 1))
  }
  const excludes = new Set(options.excludes)
  let directories: Array<WalkedDirectory> = []
  const unreadable: Array<string> = []
  const problems: Array<WalkProblem> = []
  const progress = { directoriesSeen: 0, directoriesRead: 0, filesHashed: 0 }
  let lastReport = Date.now()
  let truncated = false
  const unsettled: Array<string> = []
  const settledBefore = options.startedAt - options.settleMs
  const pathOf = (rel: string) => (rel === "" ? options.root : `${options.root}/${rel}`)
  // A tree can hold any number of bad entries: all are counted, the first MAX_PROBLEMS_LISTED are listed.
  let problemCount = 0
  const problem = (rel: string, text: string) => {
    problemCount++
    if (problems.length < MAX_PROBLEMS_LISTED) problems.push({ path: pathOf(rel), problem: text })
  }

  let rootReal: string
  let rootStat: fs.Stats
  try {
    rootReal = fs.realpathSync(options.root)
    rootStat = fs.statSync(rootReal)
    if (!rootStat.isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" })
    fs.accessSync(rootReal, fs.constants.R_OK | fs.constants.X_OK)
  } catch (error) {
    return { _tag: "RootFailed", problem: { path: options.root, problem: `master path ${errorText(error)}` } }
  }

  /** Reads a metadata file of at most maxMetadataBytes (however much it grew since it was examined). */
  const readSmallFile = (rel: string, name: string): Buffer | undefined => {
    const tooBig = () =>
      problem(join(rel, name), `is larger than the ${options.maxMetadataBytes} bytes read for metadata; skipped`)
    let fd: number | undefined
    try {
      fd = fs.openSync(pathOf(join(rel, name)), "r")
      const limit = options.maxMetadataBytes + 1
      let buffer = Buffer.allocUnsafe(Math.min(fs.fstatSync(fd).size + 1, limit))
      let length = 0
      while (length < limit) {
        if (length === buffer.length) {
          const grown = Buffer.allocUnsafe(Math.min(buffer.length * 2, limit))
          buffer.copy(grown, 0, 0, length)
          buffer = grown
        }
        const read = fs.readSync(fd, buffer, length, buffer.length - length, null)
        if (read === 0) break
        length += read
      }
      if (length > options.maxMetadataBytes) return void tooBig()
      return buffer.subarray(0, length)
    } catch (error) {
      problem(join(rel, name), `could not be read: ${errorText(error)}`)
      return undefined
    } finally {
      if (fd !== undefined) fs.closeSync(fd)
    }
  }

  const hashes = (content: Buffer) => {
    progress.filesHashed++
    const [md5, sha1, sha256, sha512] = ALGORITHMS.map((algorithm) =>
      createHash(algorithm).update(content).digest("hex")
    )
    return { md5: md5!, sha1: sha1!, sha256: sha256!, sha512: sha512! }
  }

  const sha256OfFile = (path: string): string => {
    progress.filesHashed++
    const hash = createHash("sha256")
    const buffer = Buffer.allocUnsafe(1 << 20)
    const fd = fs.openSync(path, "r")
    try {
      for (let read = fs.readSync(fd, buffer); read > 0; read = fs.readSync(fd, buffer)) {
        hash.update(buffer.subarray(0, read))
      }
    } finally {
      fs.closeSync(fd)
    }
    return hash.digest("hex")
  }

  const repomdDetail = (rel: string, file: ListedFile): FileDetailFound | undefined => {
    const content = readSmallFile(rel, file.name)
    if (content === undefined) return undefined
    const parsed = repomdTimestamp(content.toString("utf8"))
    if (parsed._tag === "Malformed") {
      problem(join(rel, file.name), `is not a valid repomd.xml (${parsed.reason}); no file detail recorded`)
      return undefined
    }
    const timestamp = parsed._tag === "Timestamp" ? parsed.timestamp : file.timestamp
    return { filename: file.name, timestamp, size: content.length, ...hashes(content) }
  }

  /** FileDetails for the files that the directory's checksum files list and that are present beside them. */
  const checksumDetails = (rel: string, files: ReadonlyMap<string, ListedFile>): Array<FileDetailFound> => {
    const found = new Map<string, Partial<Record<HashAlgorithm, string>>>()
    for (const file of files.values()) {
      if (!isChecksumFile(file.name)) continue
      const content = readSmallFile(rel, file.name)
      if (content === undefined) continue
      const parsed = parseChecksumFile(content.toString("utf8"))
      if (parsed.badLines.length > 0) {
        const shown = parsed.badLines.slice(0, 5).join(", ")
        const more = parsed.badLines.length > 5 ? ` and ${parsed.badLines.length - 5} more` : ""
        problem(join(rel, file.name), `has lines that are not checksums (line ${shown}${more}); they were skipped`)
      }
      for (const listed of parsed.hashes) {
        if (!files.has(listed.filename)) continue
        const entry = found.get(listed.filename) ?? {}
        entry[listed.algorithm] = listed.hex
        found.set(listed.filename, entry)
      }
    }
    const details: Array<FileDetailFound> = []
    for (const [filename, hex] of found) {
      const file = files.get(filename)!
      let sha256 = hex.sha256
      if (sha256 === undefined) {
        // Every FileDetail carries a sha256; a tree that publishes only weaker hashes gets one computed.
        try {
          sha256 = sha256OfFile(pathOf(join(rel, filename)))
        } catch (error) {
          problem(join(rel, filename), `could not be hashed: ${errorText(error)}`)
          continue
        }
      }
      details.push({
        filename,
        timestamp: file.timestamp,
        size: file.size,
        md5: hex.md5 ?? null,
        sha1: hex.sha1 ?? null,
        sha256,
        sha512: hex.sha512 ?? null
      })
    }
    return details
  }

  const flush = () => {
    if (directories.length > 0) onDirectories(directories)
    directories = []
  }

  const report = () => {
    if (directories.length >= WALK_BATCH) flush()
    const now = Date.now()
    if (now - lastReport >= 200) {
      lastReport = now
      onProgress({ ...progress })
    }
  }

  /** Whether a symbolic link resolves inside the master tree; reports it when not. */
  const insideTree = (rel: string) => {
    let target: string
    try {
      target = fs.realpathSync(pathOf(rel))
    } catch (error) {
      if (gone(error)) problem(rel, `is a symbolic link that cannot be resolved (${errorText(error)}); skipped`)
      else {
        problem(rel, `is a symbolic link that could not be followed (${errorText(error)}); kept as it was`)
        keep(rel)
      }
      return false
    }
    if (target === rootReal || target.startsWith(`${rootReal}/`)) return true
    problem(rel, `is a symbolic link out of the master tree (to ${target}); not followed`)
    return false
  }

  /** Everything known at and below `rel` is kept as it is (it could not be looked at now). */
  const keep = (rel: string) => {
    if (known.has(rel)) unreadable.push(rel)
  }

  const walk = (rel: string, stat: fs.Stats, ancestors: ReadonlySet<string>): void => {
    if (progress.directoriesSeen >= options.maxDirectories) {
      if (!truncated)
        problem(rel, `the tree has more than ${options.maxDirectories} directories; the rest is kept as it was`)
      truncated = true
      keep(rel)
      return
    }
    progress.directoriesSeen++
    report()
    const readable = (stat.mode & 0o005) !== 0
    const ctime = Math.floor(stat.ctimeMs / 1000)
    const currentStamp = `${stat.ino}:${stat.ctimeMs}`
    const previous = known.get(rel)
    let unchanged = previous !== undefined && previous.stamp === currentStamp
    const name = rel.slice(rel.lastIndexOf("/") + 1)
    if (unchanged && name === "repodata" && previous?.repomd !== undefined) {
      // repomd.xml rewritten in place leaves the directory's ctime alone.
      try {
        const repomd = fs.statSync(`${pathOf(rel)}/repomd.xml`)
        unchanged =
          repomd.size === previous.repomd.size && Math.floor(repomd.mtimeMs / 1000) === previous.repomd.timestamp
      } catch {
        unchanged = false
      }
    }
    const stamp = stat.ctimeMs < settledBefore ? currentStamp : null
    const lineage = new Set(ancestors).add(`${stat.dev}:${stat.ino}`)

    if (unchanged) {
      const children = (knownChildren.get(rel) ?? []).filter((child) => !excludes.has(child))
      directories.push({ rel, readable, ctime, stamp, read: false, isRepo: children.includes("repodata") })
      for (const child of children) {
        const childRel = join(rel, child)
        let childStat: fs.Stats
        try {
          childStat = fs.lstatSync(pathOf(childRel))
          // A link whose target changed elsewhere in the tree (or outside it) is checked again every time.
          if (childStat.isSymbolicLink()) {
            if (!insideTree(childRel)) continue
            childStat = fs.statSync(pathOf(childRel))
          }
        } catch (error) {
          if (gone(error)) continue // the registry drops or keeps it
          problem(childRel, `could not be examined: ${errorText(error)}; kept as it was`)
          keep(childRel)
          continue
        }
        if (!childStat.isDirectory()) continue
        if (lineage.has(`${childStat.dev}:${childStat.ino}`)) {
          problem(childRel, "is a symbolic link to a directory above it (a loop); not followed")
          continue
        }
        walk(childRel, childStat, lineage)
      }
      return
    }

    let entries: Array<fs.Dirent>
    try {
      entries = fs.readdirSync(pathOf(rel), { withFileTypes: true })
    } catch (error) {
      problem(rel, `could not be read: ${errorText(error)}; kept as it was`)
      keep(rel)
      return
    }
    progress.directoriesRead++
    // Whatever is skipped here makes the directory count as changed next time, so that it is looked at again.
    const problemsBefore = problemCount
    let rawNames: ReadonlySet<string> | undefined
    const isRawName = (name: string) => {
      rawNames ??= rawNamesOf(pathOf(rel))
      return rawNames.has(rawName(name))
    }
    // A child that cannot be examined (listable, not enterable) leaves this directory as it was.
    let unexaminable = false
    const files = new Map<string, ListedFile>()
    const subdirectories: Array<[string, fs.Stats]> = []
    for (const entry of entries) {
      if (excludes.has(entry.name)) continue
      const childRel = join(rel, entry.name)
      if (entry.name.includes("\uFFFD") && !isRawName(entry.name)) {
        // readdir decodes names as UTF-8; a name that is not cannot be stored, served or even stat()ed by it.
        problem(childRel, "has a name that is not valid UTF-8 (shown with U+FFFD); skipped")
        continue
      }
      const childPath = pathOf(childRel)
      let childStat: fs.Stats
      try {
        childStat = fs.statSync(childPath)
      } catch (error) {
        if (gone(error)) {
          if (entry.isSymbolicLink()) problem(childRel, `is a broken symbolic link (${errorText(error)}); skipped`)
        } else {
          problem(childRel, `could not be examined: ${errorText(error)}; kept as it was`)
          keep(childRel)
          unexaminable = true
        }
        continue
      }
      // A link is followed only inside the master tree: mirrors copy the link, not what it points to outside.
      if (entry.isSymbolicLink() && !insideTree(childRel)) continue
      if (childStat.isDirectory()) {
        if (lineage.has(`${childStat.dev}:${childStat.ino}`)) {
          problem(childRel, "is a symbolic link to a directory above it (a loop); not followed")
          continue
        }
        // Checked here, so that a directory that cannot be read (rsync makes new ones 0700 until it is done) counts
        // against this one, which is then read again next time and finds it once it is readable.
        try {
          fs.accessSync(childPath, fs.constants.R_OK | fs.constants.X_OK)
        } catch (error) {
          problem(childRel, `could not be read: ${errorText(error)}; kept as it was`)
          keep(childRel)
          continue
        }
        subdirectories.push([entry.name, childStat])
      } else if (childStat.isFile()) {
        files.set(entry.name, {
          name: entry.name,
          size: childStat.size,
          timestamp: Math.floor(childStat.mtimeMs / 1000)
        })
      }
    }

    if (unexaminable) {
      // Its file list would miss what could not be examined: its row stays as it was (but is read again next time),
      // nothing below it counts as gone this time, and the subdirectories that could be examined are walked.
      keep(rel)
      unsettled.push(rel)
      for (const [child, childStat] of subdirectories) walk(join(rel, child), childStat, lineage)
      return
    }
    const fileDetails: Array<FileDetailFound> = []
    const repomd = name === "repodata" ? files.get("repomd.xml") : undefined
    if (repomd !== undefined) {
      const detail = repomdDetail(rel, repomd)
      if (detail !== undefined) fileDetails.push(detail)
    }
    fileDetails.push(...checksumDetails(rel, files))
    directories.push({
      rel,
      readable,
      ctime,
      stamp: problemCount === problemsBefore ? stamp : null,
      read: true,
      isRepo: subdirectories.some(([child]) => child === "repodata"),
      files: JSON.stringify(listedFiles([...files.values()], options)),
      fileDetails
    })
    for (const [child, childStat] of subdirectories) walk(join(rel, child), childStat, lineage)
  }

  walk("", rootStat, new Set())
  flush()
  onProgress({ ...progress })
  return { _tag: "Walked", unreadable, unsettled, problems, problemCount, truncated, progress: { ...progress } }
}
