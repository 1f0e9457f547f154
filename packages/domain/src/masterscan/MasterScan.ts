// The master-tree scan (docs/masterscan.md#overview): what one scan of a category found and changed, and the repository
// rules file.
import { Schema } from "effect"
import { CategoryId, PageQuery } from "../registry/index.ts"

/** Something the scan could not use; the rest of the scan went on. */
export const ScanProblem = Schema.Struct({ path: Schema.String, problem: Schema.String }).annotate({
  identifier: "ScanProblem"
})
export type ScanProblem = typeof ScanProblem.Type

export const ScanSummary = Schema.Struct({
  categoryId: CategoryId,
  category: Schema.String,
  /** `completed`: written, maybe with problems; `failed`: nothing written (the master path could not be walked). */
  outcome: Schema.Literals(["completed", "failed"]),
  startedAt: Schema.Number,
  durationMs: Schema.Number,
  directoriesSeen: Schema.Int,
  /** Directories whose entries were read; the others were unchanged since the last scan. */
  directoriesRead: Schema.Int,
  directoriesAdded: Schema.Int,
  directoriesUpdated: Schema.Int,
  directoriesRemoved: Schema.Int,
  /** Gone from the master tree but kept, because the scan ran without deleting directories. */
  directoriesVanished: Schema.Int,
  repositoriesAdded: Schema.Int,
  repositoriesUpdated: Schema.Int,
  filesHashed: Schema.Int,
  fileDetailsAdded: Schema.Int,
  fileDetailsAged: Schema.Int,
  /** At most the first 100; `problemCount` has them all. */
  problems: Schema.Array(ScanProblem),
  problemCount: Schema.Int
}).annotate({ identifier: "ScanSummary" })
export type ScanSummary = typeof ScanSummary.Type

/** What an emergency expire removed (docs/masterscan.md#aging). */
export const ExpireResult = Schema.Struct({ fileDetailsRemoved: Schema.Int }).annotate({ identifier: "ExpireResult" })
export type ExpireResult = typeof ExpireResult.Type

export const ScanPhase = Schema.Literals(["queued", "walking", "writing"])
export type ScanPhase = typeof ScanPhase.Type

export const ScanProgress = Schema.Struct({
  categoryId: CategoryId,
  category: Schema.String,
  phase: ScanPhase,
  directoriesSeen: Schema.Int,
  directoriesRead: Schema.Int,
  filesHashed: Schema.Int,
  elapsedMs: Schema.Number
}).annotate({ identifier: "ScanProgress" })
export type ScanProgress = typeof ScanProgress.Type

export const ScanStatus = Schema.Struct({
  categoryId: CategoryId,
  /** The scan in progress on the node that answers, if any. */
  running: Schema.NullOr(ScanProgress),
  /** The newest finished scan of this category, by any node. */
  last: Schema.NullOr(ScanSummary)
}).annotate({ identifier: "ScanStatus" })
export type ScanStatus = typeof ScanStatus.Type

/**
 * One prefix rule: a directory below the category's top directory whose path matches `pattern` becomes the
 * repository `prefix` (the `repo=` value). `{name}` in the prefix is the regex group `(?<name>...)`; the groups
 * `version` and `arch` also name the repository's version and arch. `prefix: null` = not addressable.
 */
export const RepositoryRule = Schema.Struct({
  /** Category name, or names (case-insensitive); omitted = every category. */
  category: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(Schema.String)])),
  pattern: Schema.String,
  prefix: Schema.NullOr(Schema.String)
}).annotate({ identifier: "RepositoryRule" })
export type RepositoryRule = typeof RepositoryRule.Type

export const RepositoryRules = Schema.Struct({
  /** Tried in order; the first match decides. */
  rules: Schema.Array(RepositoryRule),
  /** Directories (full names) matching one of these patterns never become repositories. */
  excludePaths: Schema.optionalKey(Schema.Array(Schema.String))
}).annotate({ identifier: "RepositoryRules" })
export type RepositoryRules = typeof RepositoryRules.Type

/** Which directories of the scanned tree a listing shows, a page at a time. */
export const DirectoryFilter = Schema.Struct({
  ...PageQuery,
  /** Only directories of this category. */
  categoryId: Schema.optionalKey(CategoryId),
  /** Only this directory and those below it, e.g. `pub/epel/9`. */
  under: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(1024)))
})
export type DirectoryFilter = typeof DirectoryFilter.Type
