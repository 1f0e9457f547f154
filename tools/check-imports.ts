// The house rules of imports, checked in CI (`npm run check:imports`), over every .ts file of the repository:
// - layering: a package imports only packages below it (domain < actors < http < cluster-node), never itself by
//   name, and only through the doors its package.json lists under `exports`;
// - doors: inside a package, a file of one capability folder reaches another folder only through that folder's
//   `index.ts`; no relative path climbs into another package; tests may reach any file of their own package;
// - tests' door: a package's `testing` folder (fixtures for tests, benchmarks and test-support) is imported by no
//   production code;
// - circles: none between files, none between the folders of a package.
// Prints each violation with its file and exits 1 when there is any. `docs/architecture.md` explains the rules.
import * as fs from "node:fs"
import * as path from "node:path"

export const LAYERS = ["domain", "actors", "http", "cluster-node"] as const

interface SourceFile {
  readonly file: string // relative to the root, with "/"
  readonly imports: ReadonlyArray<{ readonly specifier: string; readonly line: number }>
}

interface Place {
  readonly pkg: string | undefined
  readonly kind: "src" | "test" | undefined
  readonly folder: string | undefined // first folder below src/, "." for a file directly in src/
}

// Statements at the start of a line (so that an import quoted in a string or a comment is not one), and import().
const SPECIFIER =
  /^(?:import|export)\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\}|\w+(?:\s*,\s*(?:\{[^}]*\}|\*\s+as\s+\w+))?)\s*from\s*["']([^"']+)["']|^import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm
const SKIPPED = new Set(["node_modules", ".git", "var"])

const sourceFiles = (root: string): Array<string> => {
  const found: Array<string> = []
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (SKIPPED.has(entry.name)) continue
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) found.push(full)
    }
  }
  for (const top of fs.readdirSync(root, { withFileTypes: true })) {
    if (SKIPPED.has(top.name) || top.name.startsWith(".")) continue
    const full = path.join(root, top.name)
    if (top.isDirectory()) walk(full)
    else if (top.name.endsWith(".ts")) found.push(full)
  }
  return found
}

const readImports = (root: string, file: string): SourceFile => {
  const text = fs.readFileSync(file, "utf8")
  const imports: Array<{ specifier: string; line: number }> = []
  for (const match of text.matchAll(SPECIFIER)) {
    const specifier = (match[1] ?? match[2] ?? match[3])!
    if (!specifier.startsWith(".") && !specifier.startsWith("@mirrormanager/")) continue
    const line = text.slice(0, match.index).split("\n").length
    imports.push({ specifier, line })
  }
  return { file: path.relative(root, file).split(path.sep).join("/"), imports }
}

const placeOf = (file: string): Place => {
  const match = /^packages\/([^/]+)\/(src|test)\/(.*)$/.exec(file)
  if (!match) return { pkg: undefined, kind: undefined, folder: undefined }
  const parts = match[3]!.split("/")
  return { pkg: match[1]!, kind: match[2] as "src" | "test", folder: parts.length > 1 ? parts[0]! : "." }
}

/** Every violation of the house rules below `root`, one line each ("file:line: what"). */
export const checkImports = (root: string): Array<string> => {
  const doors = new Map<string, Map<string, string>>() // package -> export key -> target file
  for (const pkg of fs.existsSync(path.join(root, "packages")) ? fs.readdirSync(path.join(root, "packages")) : []) {
    const manifest = path.join(root, "packages", pkg, "package.json")
    if (!fs.existsSync(manifest)) continue
    const exportsField = JSON.parse(fs.readFileSync(manifest, "utf8")).exports ?? {}
    const map = new Map<string, string>()
    for (const [key, target] of Object.entries(exportsField)) {
      if (typeof target !== "string") continue
      map.set(key, path.posix.join("packages", pkg, target))
    }
    doors.set(pkg, map)
  }
  const files = sourceFiles(root).map((file) => readImports(root, file))
  const known = new Set(files.map((f) => f.file))
  const problems: Array<string> = []
  const fileEdges = new Map<string, Set<string>>()
  const folderEdges = new Map<string, Map<string, Set<string>>>() // package -> folder -> folders
  const addEdge = (from: string, to: string) => {
    const set = fileEdges.get(from) ?? new Set<string>()
    set.add(to)
    fileEdges.set(from, set)
  }

  for (const source of files) {
    const here = placeOf(source.file)
    for (const { specifier, line } of source.imports) {
      const at = `${source.file}:${line}`
      let target: string
      if (specifier.startsWith(".")) {
        target = path.posix.normalize(path.posix.join(path.posix.dirname(source.file), specifier))
        const there = placeOf(target)
        if (there.pkg !== undefined && there.pkg !== here.pkg) {
          problems.push(
            `${at}: reaches into ${there.pkg} by the path "${specifier}": import a door of @mirrormanager/${there.pkg}`
          )
          continue
        }
        if (here.pkg !== undefined && there.pkg === here.pkg && here.kind === "src") {
          if (there.kind === "test") {
            problems.push(`${at}: code imports a test file "${specifier}"`)
            continue
          }
          if (there.folder === "testing" && here.folder !== "testing") {
            problems.push(`${at}: production code imports the tests' folder "${specifier}"`)
            continue
          }
          if (there.folder !== here.folder) {
            const door = there.folder === "." ? undefined : `packages/${here.pkg}/src/${there.folder}/index.ts`
            if (here.folder !== "." && there.folder === ".") {
              problems.push(`${at}: folder ${here.folder} imports "${specifier}" at the root of the package`)
              continue
            }
            if (door !== undefined && target !== door) {
              problems.push(
                `${at}: imports "${specifier}" below the door of ${there.folder}: import ${path.posix.relative(path.posix.dirname(source.file), door).replace(/^(?!\.)/, "./")}`
              )
              continue
            }
            if (here.folder !== "." && there.folder !== undefined) {
              const folders = folderEdges.get(here.pkg) ?? new Map<string, Set<string>>()
              const set = folders.get(here.folder!) ?? new Set<string>()
              set.add(there.folder)
              folders.set(here.folder!, set)
              folderEdges.set(here.pkg, folders)
            }
          }
        }
      } else {
        const match = /^@mirrormanager\/([^/]+)(?:\/(.+))?$/.exec(specifier)!
        const pkg = match[1]!
        const key = match[2] === undefined ? "." : `./${match[2]}`
        const door = doors.get(pkg)?.get(key)
        if (door === undefined) {
          problems.push(`${at}: "${specifier}" is not a door of @mirrormanager/${pkg} (see its package.json exports)`)
          continue
        }
        if (match[2] === "testing" && here.kind === "src" && here.folder !== "testing") {
          problems.push(`${at}: production code imports the tests' door "${specifier}"`)
          continue
        }
        if (here.pkg !== undefined) {
          const from = LAYERS.indexOf(here.pkg as (typeof LAYERS)[number])
          const to = LAYERS.indexOf(pkg as (typeof LAYERS)[number])
          if (pkg === here.pkg) {
            problems.push(`${at}: ${here.pkg} imports itself by name ("${specifier}"): use a relative path`)
            continue
          }
          if (from === -1 || to === -1 || to > from) {
            problems.push(`${at}: ${here.pkg} imports ${pkg}, which is not below it (${LAYERS.join(" < ")})`)
            continue
          }
        }
        target = door
      }
      if (known.has(target)) addEdge(source.file, target)
      else if (!specifier.startsWith("@")) problems.push(`${at}: "${specifier}" names no file`)
    }
  }

  for (const circle of circlesOf(fileEdges)) {
    problems.push(`circle of imports: ${[...circle, circle[0]].join(" -> ")}`)
  }
  for (const [pkg, folders] of folderEdges) {
    for (const circle of circlesOf(folders)) {
      problems.push(`circle of folders in ${pkg}: ${[...circle, circle[0]].join(" -> ")}`)
    }
  }
  return problems
}

/** The strongly connected parts of more than one node (Tarjan), each as one path around it. */
export const circlesOf = (edges: ReadonlyMap<string, ReadonlySet<string>>): Array<Array<string>> => {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const circles: Array<Array<string>> = []
  let next = 0
  const visit = (node: string) => {
    index.set(node, next)
    low.set(node, next)
    next++
    stack.push(node)
    onStack.add(node)
    for (const to of edges.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to)
        low.set(node, Math.min(low.get(node)!, low.get(to)!))
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!))
    }
    if (low.get(node) === index.get(node)) {
      const part: Array<string> = []
      let member: string
      do {
        member = stack.pop()!
        onStack.delete(member)
        part.push(member)
      } while (member !== node)
      if (part.length > 1 || edges.get(node)?.has(node)) circles.push(pathAround(part, edges))
    }
  }
  for (const node of [...edges.keys()].sort()) if (!index.has(node)) visit(node)
  return circles
}

// One walk around a strongly connected part, from its first member back to it, for a readable message.
const pathAround = (part: ReadonlyArray<string>, edges: ReadonlyMap<string, ReadonlySet<string>>): Array<string> => {
  const members = new Set(part)
  const start = [...part].sort()[0]!
  const previous = new Map<string, string>()
  const queue = [start]
  while (queue.length > 0) {
    const node = queue.shift()!
    for (const to of edges.get(node) ?? []) {
      if (!members.has(to)) continue
      if (to === start) {
        const walk = [node]
        while (walk[0] !== start) walk.unshift(previous.get(walk[0]!)!)
        return walk
      }
      if (!previous.has(to)) {
        previous.set(to, node)
        queue.push(to)
      }
    }
  }
  return [start]
}

if (import.meta.main) {
  const root = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, ".."))
  const problems = checkImports(root)
  for (const problem of problems) console.error(problem)
  if (problems.length > 0) {
    console.error(`check-imports: ${problems.length} violation(s) of the import rules (docs/architecture.md)`)
    process.exit(1)
  }
  console.log("check-imports: doors, layering and circles as they should be")
}
