// The directory tree of one category as report_mirror reports it: every directory under the category's path
// (`""` = the path itself), files not listed, symbolic links not followed, and a directory left out with everything
// under it when an exclusion pattern is a substring of `<parent path>/<name>/` (upstream's --exclude-from).
import * as fs from "node:fs"
import { ReportConfigError } from "./ReportConfig.ts"

/** Patterns of an --exclude-from file: one a line, `#` lines are comments (blank lines are skipped, not "all"). */
export const readExcludeFile = (file: string): ReadonlyArray<string> => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch (error) {
    throw new ReportConfigError(`the exclude file ${file} cannot be read: ${(error as Error).message}`)
  }
  return text
    .split(/\r\n|\n|\r/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
}

export interface Tree {
  /** Relative directory paths, each parent before its children. */
  readonly directories: ReadonlyArray<string>
  /** Directories that could not be listed (left out with what is under them), with why. */
  readonly unreadable: ReadonlyArray<string>
}

/** Walks `root`; `root` must be a directory (a missing one would report an empty category). */
export const walkTree = (root: string, exclude: ReadonlyArray<string>): Tree => {
  const directories: Array<string> = []
  const unreadable: Array<string> = []
  // Upstream joins as os.path.join: `root` + "/" + name, no second "/" when `root` ends with one.
  const join = (parent: string, name: string) => (parent.endsWith("/") ? `${parent}${name}` : `${parent}/${name}`)
  const stack: Array<{ readonly full: string; readonly relative: string }> = [{ full: root, relative: "" }]
  while (stack.length > 0) {
    const { full, relative } = stack.pop()!
    let entries: Array<fs.Dirent>
    try {
      entries = fs.readdirSync(full, { withFileTypes: true })
    } catch (error) {
      unreadable.push(`${full}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
      continue
    }
    directories.push(relative)
    const children = entries
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .filter((name) => !exclude.some((pattern) => `${join(full, name)}/`.includes(pattern)))
      .sort()
      .reverse()
    for (const name of children) {
      stack.push({ full: join(full, name), relative: relative === "" ? name : `${relative}/${name}` })
    }
  }
  return { directories, unreadable }
}

/** Checks that a category's path is a directory before it is walked, saying what to fix when it is not. */
export const checkCategoryRoot = (section: string, root: string, file: string) => {
  let stat: fs.Stats
  try {
    stat = fs.statSync(root)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ReportConfigError(
      `${file}: [${section}] path=${root} ${code === "ENOENT" ? "does not exist" : `cannot be read (${code})`}; ` +
        "nothing was sent (an empty tree would tell the server this host carries none of the category): " +
        "mount or fix the path, or set enabled=0 in that section"
    )
  }
  if (!stat.isDirectory()) {
    throw new ReportConfigError(`${file}: [${section}] path=${root} is not a directory; nothing was sent`)
  }
}
