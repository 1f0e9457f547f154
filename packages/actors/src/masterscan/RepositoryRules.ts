// Prefix rules (docs/masterscan.md#repository-rules): which directory of a master tree is which `repo=` for which
// version and arch. The strings they produce are exactly what dnf clients send; changing a rule changes what clients
// must ask for.

import * as fs from "node:fs"
import { type RepositoryRule, RepositoryRules } from "@mirrormanager/domain/masterscan"
import { Schema } from "effect"

/** Fedora's trees share one layout: the main tree, the secondary arches (ppc64le, s390x) and the archive. */
const FEDORA = ["Fedora Linux", "Fedora Secondary Arches", "Fedora Archive"]
const EPEL = "Fedora EPEL"
const N = "(?<version>\\d+)"
const A = "(?<arch>[^/]+)"
const EPEL_N = "(?<version>\\d+(?:\\.\\d+)?)"

/** Fedora and EPEL, as MirrorManager names their repositories. */
export const defaultRepositoryRules: RepositoryRules = {
  rules: [
    { pattern: "(^|/)test/", prefix: null },
    { category: FEDORA, pattern: `^releases/${N}/Everything/${A}/os$`, prefix: "fedora-{version}" },
    {
      category: FEDORA,
      pattern: `^releases/${N}/Everything/${A}/debug(/tree)?$`,
      prefix: "fedora-debug-{version}"
    },
    {
      category: FEDORA,
      pattern: `^releases/${N}/Everything/source/(tree|SRPMS)$`,
      prefix: "fedora-source-{version}"
    },
    { category: FEDORA, pattern: `^updates/${N}/Everything/${A}$`, prefix: "updates-released-f{version}" },
    {
      category: FEDORA,
      pattern: `^updates/${N}/Everything/${A}/debug$`,
      prefix: "updates-released-debug-f{version}"
    },
    {
      category: FEDORA,
      pattern: `^updates/${N}/Everything/source/tree$`,
      prefix: "updates-released-source-f{version}"
    },
    {
      category: FEDORA,
      pattern: `^updates/testing/${N}/Everything/${A}$`,
      prefix: "updates-testing-f{version}"
    },
    {
      category: FEDORA,
      pattern: `^updates/testing/${N}/Everything/${A}/debug$`,
      prefix: "updates-testing-debug-f{version}"
    },
    {
      category: FEDORA,
      pattern: `^updates/testing/${N}/Everything/source/tree$`,
      prefix: "updates-testing-source-f{version}"
    },
    { category: FEDORA, pattern: `^development/rawhide/Everything/${A}/os$`, prefix: "rawhide" },
    // A branched release lives in development/N until it moves to releases/N.
    { category: FEDORA, pattern: `^development/${N}/Everything/${A}/os$`, prefix: "fedora-{version}" },
    { category: FEDORA, pattern: `^development/${N}/Everything/${A}/debug(/tree)?$`, prefix: "fedora-debug-{version}" },
    {
      category: FEDORA,
      pattern: `^development/${N}/Everything/source/(tree|SRPMS)$`,
      prefix: "fedora-source-{version}"
    },
    {
      category: FEDORA,
      pattern: `^development/rawhide/Everything/${A}/debug(/tree)?$`,
      prefix: "rawhide-debug"
    },
    {
      category: FEDORA,
      pattern: "^development/rawhide/Everything/source/(tree|SRPMS)$",
      prefix: "rawhide-source"
    },
    { category: EPEL, pattern: `^${EPEL_N}/Everything/${A}$`, prefix: "epel-{version}" },
    { category: EPEL, pattern: `^${EPEL_N}/Everything/${A}/debug$`, prefix: "epel-debug-{version}" },
    { category: EPEL, pattern: `^${EPEL_N}/Everything/source/tree$`, prefix: "epel-source-{version}" },
    { category: EPEL, pattern: `^testing/${EPEL_N}/Everything/${A}$`, prefix: "testing-epel{version}" },
    {
      category: EPEL,
      pattern: `^testing/${EPEL_N}/Everything/${A}/debug$`,
      prefix: "testing-debug-epel{version}"
    },
    {
      category: EPEL,
      pattern: `^testing/${EPEL_N}/Everything/source/tree$`,
      prefix: "testing-source-epel{version}"
    }
  ],
  excludePaths: ["^pub/alt(/|$)", "/(Cloud|Workstation|Server)(/|$)"]
}

interface CompiledRule {
  /** Lower-case category names; undefined = every category. */
  readonly categories: ReadonlySet<string> | undefined
  readonly pattern: RegExp
  readonly prefix: string | null
}

export interface CompiledRepositoryRules {
  readonly rules: ReadonlyArray<CompiledRule>
  readonly excludePaths: ReadonlyArray<RegExp>
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g

const compileRegex = (source: string, where: string): RegExp => {
  try {
    return new RegExp(source)
  } catch (error) {
    throw new Error(`${where}: "${source}" is not a regular expression (${(error as Error).message})`)
  }
}

const compileRule = (rule: RepositoryRule, index: number): CompiledRule => {
  const where = `rule ${index + 1}`
  const pattern = compileRegex(rule.pattern, where)
  if (rule.prefix !== null) {
    // Which named groups the pattern has: a pattern that matches nothing still reports them through a union.
    const groups = new Set(Object.keys(new RegExp(`${rule.pattern}|`).exec("")?.groups ?? {}))
    for (const [, name] of rule.prefix.matchAll(PLACEHOLDER)) {
      if (!groups.has(name!))
        throw new Error(`${where}: the prefix uses {${name}}, but the pattern has no group (?<${name}>...)`)
    }
    if (/[{}]/.test(rule.prefix.replace(PLACEHOLDER, ""))) throw new Error(`${where}: unbalanced braces in the prefix`)
  }
  const categories =
    rule.category === undefined
      ? undefined
      : new Set((typeof rule.category === "string" ? [rule.category] : rule.category).map((c) => c.toLowerCase()))
  return { categories, pattern, prefix: rule.prefix }
}

/** Checks every pattern and template; throws an Error naming the rule at fault. */
export const compileRepositoryRules = (rules: RepositoryRules): CompiledRepositoryRules => ({
  rules: rules.rules.map(compileRule),
  excludePaths: (rules.excludePaths ?? []).map((source, index) => compileRegex(source, `excludePaths[${index}]`))
})

/** Reads an operator's rules file (JSON, see the README); throws an Error that names the file and the fault. */
export const loadRepositoryRules = (file: string): CompiledRepositoryRules => {
  let json: unknown
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"))
  } catch (error) {
    throw new Error(`repository rules ${file}: ${(error as Error).message}`)
  }
  try {
    return compileRepositoryRules(Schema.decodeUnknownSync(RepositoryRules)(json))
  } catch (error) {
    throw new Error(`repository rules ${file}: ${(error as Error).message}`)
  }
}

export interface RepositoryGuess {
  readonly prefix: string | null
  readonly version: { readonly name: string; readonly isTest: boolean } | null
  readonly arch: string | null
  /** Whether a rule with a prefix matched (an arch is then required). */
  readonly matched: boolean
}

const VERSION_COMPONENT = /^\d[\d.]*([-_]\w+)?$/

/**
 * What repository a directory holding `repodata` is. `rel` is its path below the category's top directory,
 * `name` its full name; `arches` the known arch names, `versions` the names of the product's versions.
 */
export const guessRepository = (
  compiled: CompiledRepositoryRules,
  input: {
    readonly category: string
    readonly name: string
    readonly rel: string
    readonly arches: ReadonlySet<string>
    readonly versions: ReadonlySet<string>
  }
): RepositoryGuess | undefined => {
  if (compiled.excludePaths.some((pattern) => pattern.test(input.name))) return undefined
  const category = input.category.toLowerCase()
  const components = input.name.split("/")
  const isTest = components.includes("test") || components.includes("stage")
  let prefix: string | null = null
  let groups: Readonly<Record<string, string | undefined>> = {}
  let matched = false
  for (const rule of compiled.rules) {
    if (rule.categories !== undefined && !rule.categories.has(category)) continue
    const match = rule.pattern.exec(input.rel)
    if (match === null) continue
    groups = match.groups ?? {}
    prefix = rule.prefix === null ? null : rule.prefix.replace(PLACEHOLDER, (_, name: string) => groups[name] ?? "")
    matched = rule.prefix !== null
    break
  }
  const versionName =
    groups.version ??
    components.find((component) => input.versions.has(component)) ??
    (components.includes("rawhide") ? "development" : components.find((c) => VERSION_COMPONENT.test(c)))
  const arch =
    groups.arch ??
    (components.includes("source") || components.includes("SRPMS")
      ? "source"
      : (components.find((component) => input.arches.has(component)) ?? null))
  return { prefix, version: versionName === undefined ? null : { name: versionName, isTest }, arch, matched }
}
