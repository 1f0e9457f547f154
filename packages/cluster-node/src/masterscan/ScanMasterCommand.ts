// `mirrormanager scan-master`: scans master trees now, showing progress, and ends with a summary per category.
// Exit status: 0 = scanned without problems, 2 = something was skipped (named on stderr), 1 = could not scan.

import { ChangeLog } from "@mirrormanager/actors/db"
import { MasterScanner } from "@mirrormanager/actors/masterscan"
import type { ScanProgress, ScanSummary } from "@mirrormanager/domain/masterscan"
import { Effect, Layer, Option } from "effect"
import { Command, Flag } from "effect/cli"
import {
  commandFailed,
  MasterScanPolicyLayer,
  NodeConfig,
  namedCategory,
  nodeDatabaseLayer,
  number,
  seconds,
  stoppedUnlessEnded
} from "../node/index.ts"

const EXIT_SKIPPED = 2

const progressLine = (p: ScanProgress) =>
  `${p.category}: ${p.phase}, ${number(p.directoriesSeen)} directories seen (${number(p.directoriesRead)} read), ${number(p.filesHashed)} files hashed, ${seconds(p.elapsedMs)}`

/** Progress on stderr: one line rewritten in a terminal, a line every few seconds otherwise (logs, CI). */
const progressReporter = () => {
  const tty = process.stderr.isTTY === true
  let last = 0
  let shown = false
  return {
    interval: tty ? ("250 millis" as const) : ("5 seconds" as const),
    report: (p: ScanProgress) =>
      Effect.sync(() => {
        if (tty) {
          process.stderr.write(`\r\x1b[2K${progressLine(p)}`)
          shown = true
        } else if (Date.now() - last >= 4000) {
          process.stderr.write(`${progressLine(p)}\n`)
          last = Date.now()
        }
      }),
    end: () =>
      Effect.sync(() => {
        if (shown) process.stderr.write("\n")
        shown = false
      })
  }
}

const scanSummaryText = (s: ScanSummary) => {
  const lines = [
    `${s.category}: ${s.outcome} in ${seconds(s.durationMs)}`,
    `  directories: ${number(s.directoriesSeen)} seen, ${number(s.directoriesRead)} read, ${number(s.directoriesAdded)} added, ${number(s.directoriesUpdated)} updated, ${number(s.directoriesRemoved)} removed${s.directoriesVanished > 0 ? `, ${number(s.directoriesVanished)} gone from the master tree but kept (--delete-directories removes them)` : ""}`,
    `  repositories: ${number(s.repositoriesAdded)} added, ${number(s.repositoriesUpdated)} updated`,
    `  file details: ${number(s.fileDetailsAdded)} added, ${number(s.fileDetailsAged)} aged out; ${number(s.filesHashed)} files hashed`
  ]
  if (s.problemCount > 0) lines.push(`  skipped: ${number(s.problemCount)} (see above)`)
  return lines.join("\n")
}

/** File names may hold newlines and escape sequences: shown escaped, one problem per line. */
const printable = (text: string) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is escaped here
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)

const problemsText = (s: ScanSummary) => {
  const lines = s.problems.map((p) => `${s.category}: ${printable(p.path)}: ${printable(p.problem)}`)
  if (s.problemCount > s.problems.length)
    lines.push(`${s.category}: ... and ${s.problemCount - s.problems.length} more`)
  return lines.join("\n")
}

const fail = commandFailed("scan-master")

const scanMaster = (options: { readonly category: Option.Option<string>; readonly deleteDirectories: boolean }) =>
  Effect.gen(function* () {
    const scanner = yield* MasterScanner
    const categories = yield* scanner.categories()
    let targets = categories.filter((c) => c.masterPath !== null)
    if (Option.isSome(options.category)) {
      const named = namedCategory(categories, options.category.value)
      if ("unknown" in named) return yield* fail(named.unknown)
      if (named.masterPath === null) {
        return yield* fail(
          `category "${named.name}" has no master path; set one with PATCH /api/categories/${named.id} {"masterPath": "/srv/..."}`
        )
      }
      targets = [named]
    } else if (targets.length === 0) {
      process.stderr.write("scan-master: no category has a master path yet; nothing to scan\n")
      process.exitCode = 0
      return
    }
    let skipped = false
    for (const target of targets) {
      const progress = progressReporter()
      const summary = yield* scanner
        .scan(target.id, {
          deleteDirectories: options.deleteDirectories,
          onProgress: progress.report,
          progressInterval: progress.interval
        })
        .pipe(Effect.ensuring(progress.end()))
      if (summary.problemCount > 0) {
        process.stderr.write(`${problemsText(summary)}\n`)
        skipped = true
      }
      process.stdout.write(`${scanSummaryText(summary)}\n`)
    }
    process.exitCode = skipped ? EXIT_SKIPPED : 0
  }).pipe(
    // The category was deleted or lost its master path while we ran.
    Effect.catchTags({
      NotFound: (e) => fail(e.detail ?? "not found"),
      Unprocessable: (e) => fail(e.detail ?? "refused")
    })
  )

const ScannerLayer = MasterScanner.layer.pipe(
  Layer.provideMerge(ChangeLog.layer),
  Layer.provide(MasterScanPolicyLayer),
  Layer.provideMerge(nodeDatabaseLayer({ attach: true }))
)

export const scanMasterCommand = Command.make(
  "scan-master",
  {
    category: Flag.String("category").pipe(
      Flag.withDescription("Scan only this category (by name); default: every category with a master path"),
      Flag.optional
    ),
    deleteDirectories: Flag.Boolean("delete-directories").pipe(
      Flag.withDescription("Remove directories that are gone from the master tree"),
      Flag.withDefault(false)
    )
  },
  (options) =>
    stoppedUnlessEnded(
      scanMaster(options).pipe(
        Effect.provide(ScannerLayer),
        // No database, or rules that do not load: say so plainly, not as a stack trace.
        Effect.catch((error) =>
          fail(
            error instanceof Error && error.message.startsWith("repository rules")
              ? error.message
              : `cannot use the database: ${error instanceof Error ? error.message : String(error)}`
          )
        ),
        Effect.provide(NodeConfig.layer)
      )
    )
).pipe(
  Command.withDescription(
    "Scan master trees now: directories, repositories (by the prefix rules) and repomd.xml/CHECKSUM file details"
  )
)
