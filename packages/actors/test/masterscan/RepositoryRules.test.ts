import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import type { RepositoryRules } from "@mirrormanager/domain/masterscan"
import {
  type CompiledRepositoryRules,
  compileRepositoryRules,
  defaultRepositoryRules,
  guessRepository,
  loadRepositoryRules,
  type RepositoryGuess
} from "../../src/masterscan/RepositoryRules.ts"

const FEDORA = { category: "Fedora Linux", topdir: "pub/fedora/linux" }
const EPEL = { category: "Fedora EPEL", topdir: "pub/epel" }
const SECONDARY = { category: "Fedora Secondary Arches", topdir: "pub/fedora-secondary" }
const ARCHIVE = { category: "fedora archive", topdir: "pub/archive/fedora/linux" }
type Category = typeof FEDORA

// Known arches as a scan passes them; "source" is left out so that the tests see where it comes from.
const ARCHES: ReadonlySet<string> = new Set(["x86_64", "aarch64", "ppc64le", "s390x", "i386"])
const compiled = compileRepositoryRules(defaultRepositoryRules)

const guess = (
  category: Category,
  rel: string,
  options: { readonly rules?: CompiledRepositoryRules; readonly versions?: ReadonlySet<string> } = {}
) =>
  guessRepository(options.rules ?? compiled, {
    category: category.category,
    name: `${category.topdir}/${rel}`,
    rel,
    arches: ARCHES,
    versions: options.versions ?? new Set()
  })

const repo = (prefix: string | null, version: string | null, arch: string | null, matched = true): RepositoryGuess => ({
  prefix,
  version: version === null ? null : { name: version, isTest: false },
  arch,
  matched
})

/** The error thrown by `f`, which must throw an Error. */
const thrown = (f: () => unknown): Error => {
  try {
    f()
  } catch (error) {
    assert.instanceOf(error, Error)
    return error as Error
  }
  return assert.fail("expected an Error")
}

describe("default rules", () => {
  const cases: ReadonlyArray<{ category: Category; rel: string; expected: RepositoryGuess }> = [
    { category: FEDORA, rel: "releases/40/Everything/x86_64/os", expected: repo("fedora-40", "40", "x86_64") },
    { category: FEDORA, rel: "releases/40/Everything/aarch64/os", expected: repo("fedora-40", "40", "aarch64") },
    {
      category: FEDORA,
      rel: "releases/40/Everything/x86_64/debug/tree",
      expected: repo("fedora-debug-40", "40", "x86_64")
    },
    { category: FEDORA, rel: "releases/40/Everything/x86_64/debug", expected: repo("fedora-debug-40", "40", "x86_64") },
    { category: FEDORA, rel: "releases/40/Everything/source/tree", expected: repo("fedora-source-40", "40", "source") },
    {
      category: FEDORA,
      rel: "releases/40/Everything/source/SRPMS",
      expected: repo("fedora-source-40", "40", "source")
    },
    { category: FEDORA, rel: "updates/40/Everything/aarch64", expected: repo("updates-released-f40", "40", "aarch64") },
    { category: FEDORA, rel: "updates/40/Everything/x86_64", expected: repo("updates-released-f40", "40", "x86_64") },
    {
      category: FEDORA,
      rel: "updates/40/Everything/x86_64/debug",
      expected: repo("updates-released-debug-f40", "40", "x86_64")
    },
    {
      category: FEDORA,
      rel: "updates/40/Everything/source/tree",
      expected: repo("updates-released-source-f40", "40", "source")
    },
    {
      category: FEDORA,
      rel: "updates/testing/40/Everything/x86_64",
      expected: repo("updates-testing-f40", "40", "x86_64")
    },
    {
      category: FEDORA,
      rel: "updates/testing/40/Everything/ppc64le/debug",
      expected: repo("updates-testing-debug-f40", "40", "ppc64le")
    },
    {
      category: FEDORA,
      rel: "updates/testing/40/Everything/source/tree",
      expected: repo("updates-testing-source-f40", "40", "source")
    },
    {
      category: FEDORA,
      rel: "development/rawhide/Everything/x86_64/os",
      expected: repo("rawhide", "development", "x86_64")
    },
    {
      category: FEDORA,
      rel: "development/rawhide/Everything/s390x/debug/tree",
      expected: repo("rawhide-debug", "development", "s390x")
    },
    {
      category: FEDORA,
      rel: "development/rawhide/Everything/source/tree",
      expected: repo("rawhide-source", "development", "source")
    },
    // A branched release, before it moves to releases/N.
    { category: FEDORA, rel: "development/41/Everything/x86_64/os", expected: repo("fedora-41", "41", "x86_64") },
    {
      category: FEDORA,
      rel: "development/41/Everything/aarch64/debug/tree",
      expected: repo("fedora-debug-41", "41", "aarch64")
    },
    {
      category: FEDORA,
      rel: "development/41/Everything/source/tree",
      expected: repo("fedora-source-41", "41", "source")
    },
    // The secondary arches and the archive share Fedora's layout and names.
    { category: SECONDARY, rel: "releases/40/Everything/s390x/os", expected: repo("fedora-40", "40", "s390x") },
    { category: ARCHIVE, rel: "updates/30/Everything/x86_64", expected: repo("updates-released-f30", "30", "x86_64") },
    { category: EPEL, rel: "9/Everything/x86_64", expected: repo("epel-9", "9", "x86_64") },
    { category: EPEL, rel: "9/Everything/x86_64/debug", expected: repo("epel-debug-9", "9", "x86_64") },
    { category: EPEL, rel: "9/Everything/source/tree", expected: repo("epel-source-9", "9", "source") },
    { category: EPEL, rel: "testing/9/Everything/ppc64le", expected: repo("testing-epel9", "9", "ppc64le") },
    {
      category: EPEL,
      rel: "testing/9/Everything/aarch64/debug",
      expected: repo("testing-debug-epel9", "9", "aarch64")
    },
    {
      category: EPEL,
      rel: "testing/9/Everything/source/tree",
      expected: repo("testing-source-epel9", "9", "source")
    },
    { category: EPEL, rel: "10.1/Everything/x86_64", expected: repo("epel-10.1", "10.1", "x86_64") },
    { category: EPEL, rel: "testing/10.1/Everything/x86_64", expected: repo("testing-epel10.1", "10.1", "x86_64") },
    // Test releases have no repo= of their own.
    {
      category: FEDORA,
      rel: "releases/test/41_Beta/Everything/x86_64/os",
      expected: { prefix: null, version: { name: "41_Beta", isTest: true }, arch: "x86_64", matched: false }
    },
    {
      category: EPEL,
      rel: "test/10.1/Everything/x86_64",
      expected: { prefix: null, version: { name: "10.1", isTest: true }, arch: "x86_64", matched: false }
    },
    // An EPEL layout in the Fedora category, a Fedora layout in the EPEL category: no rule of theirs.
    { category: FEDORA, rel: "9/Everything/x86_64", expected: repo(null, "9", "x86_64", false) },
    { category: EPEL, rel: "releases/40/Everything/x86_64/os", expected: repo(null, "40", "x86_64", false) },
    // Near misses: anchored patterns.
    { category: FEDORA, rel: "releases/40/Everything/x86_64/os/Packages", expected: repo(null, "40", "x86_64", false) },
    { category: FEDORA, rel: "releases/40/Everything/x86_64", expected: repo(null, "40", "x86_64", false) },
    { category: FEDORA, rel: "updates/40/Modular/x86_64", expected: repo(null, "40", "x86_64", false) },
    { category: EPEL, rel: "9/Everything/x86_64/os", expected: repo(null, "9", "x86_64", false) }
  ]

  it.each(cases)("$category.category $rel", ({ category, rel, expected }) => {
    assert.deepStrictEqual(guess(category, rel), expected)
  })

  it.each([
    { category: FEDORA, name: "pub/alt/releases/40/Everything/x86_64/os" },
    { category: FEDORA, name: "pub/alt" },
    { category: FEDORA, name: "pub/fedora/linux/releases/40/Cloud/x86_64/images" },
    { category: FEDORA, name: "pub/fedora/linux/releases/40/Workstation/x86_64/os" },
    { category: FEDORA, name: "pub/fedora/linux/releases/40/Server/x86_64/os" },
    { category: FEDORA, name: "pub/fedora/linux/releases/40/Server" },
    { category: EPEL, name: "pub/epel/9/Server/x86_64" }
  ])("excludes $name", ({ category, name }) => {
    const rel = name.startsWith(`${category.topdir}/`) ? name.slice(category.topdir.length + 1) : name
    assert.isUndefined(
      guessRepository(compiled, { category: category.category, name, rel, arches: ARCHES, versions: new Set() })
    )
  })

  it("excludes whole components only", () => {
    assert.isDefined(guess(FEDORA, "releases/40/Servers/x86_64/os"))
    assert.isDefined(guess(FEDORA, "releases/40/CloudImages/x86_64/os"))
    assert.isDefined(
      guessRepository(compiled, {
        category: "Fedora Alt",
        name: "pub/alternative/x86_64",
        rel: "x86_64",
        arches: ARCHES,
        versions: new Set()
      })
    )
  })

  it("match category names case-insensitively", () => {
    assert.deepStrictEqual(
      guess({ category: "FEDORA epel", topdir: "pub/epel" }, "9/Everything/x86_64"),
      repo("epel-9", "9", "x86_64")
    )
  })

  it("leave an unknown category without a prefix", () => {
    assert.deepStrictEqual(
      guess({ category: "CentOS Stream", topdir: "pub/centos-stream" }, "9-stream/BaseOS/x86_64/os"),
      repo(null, "9-stream", "x86_64", false)
    )
  })

  it("keep test trees away from later rules, however loose", () => {
    const rules = compileRepositoryRules({
      ...defaultRepositoryRules,
      rules: [...defaultRepositoryRules.rules, { pattern: "/Everything/(?<arch>[^/]+)/os$", prefix: "catch-all" }]
    })
    assert.deepStrictEqual(guess(FEDORA, "releases/test/41_Beta/Everything/x86_64/os", { rules }), {
      prefix: null,
      version: { name: "41_Beta", isTest: true },
      arch: "x86_64",
      matched: false
    })
    assert.strictEqual(guess(FEDORA, "releases/40_Test/Everything/x86_64/os", { rules })?.prefix, "catch-all")
    assert.strictEqual(guess(FEDORA, "releases/40/Everything/x86_64/os", { rules })?.prefix, "fedora-40")
  })

  it("take the arch from the pattern even when it is not a known arch", () => {
    assert.deepStrictEqual(guess(FEDORA, "releases/40/Everything/riscv64/os"), repo("fedora-40", "40", "riscv64"))
  })

  it("take the version from the pattern before the known versions", () => {
    assert.deepStrictEqual(
      guess(FEDORA, "releases/40/Everything/x86_64/os", { versions: new Set(["41", "x86_64"]) }),
      repo("fedora-40", "40", "x86_64")
    )
  })

  it("call rawhide by a known version name that is a path component, or else `development`", () => {
    assert.strictEqual(guess(FEDORA, "development/rawhide/Everything/x86_64/os")?.version?.name, "development")
    assert.strictEqual(
      guess(FEDORA, "development/rawhide/Everything/x86_64/os", { versions: new Set(["rawhide"]) })?.version?.name,
      "rawhide"
    )
  })
})

describe("guessRepository without a matching rule", () => {
  it("takes the version from a known version name that is a path component", () => {
    assert.deepStrictEqual(
      guess(FEDORA, "extras/2024/f40/x86_64", { versions: new Set(["f40", "39"]) }),
      repo(null, "f40", "x86_64", false)
    )
  })

  it("else from the first component that looks like a version", () => {
    assert.strictEqual(guess(FEDORA, "extras/2024/f40/x86_64")?.version?.name, "2024")
    assert.strictEqual(guess(FEDORA, "extras/9.4/x86_64")?.version?.name, "9.4")
    assert.strictEqual(guess(FEDORA, "extras/41-beta/x86_64")?.version?.name, "41-beta")
    assert.isNull(guess(FEDORA, "extras/x86_64")?.version)
    assert.isNull(guess(FEDORA, "extras/f40/x86_64")?.version)
  })

  it("marks versions below a `test` or `stage` component as test versions", () => {
    assert.deepStrictEqual(guess(FEDORA, "stage/41_Beta/Everything/x86_64/os")?.version, {
      name: "41_Beta",
      isTest: true
    })
    assert.deepStrictEqual(guess(FEDORA, "testing/41/x86_64")?.version, { name: "41", isTest: false })
  })

  it("takes the arch from the known arch names", () => {
    assert.strictEqual(guess(FEDORA, "extras/40/aarch64/os")?.arch, "aarch64")
    assert.isNull(guess(FEDORA, "extras/40/riscv64/os")?.arch)
  })

  it("calls `SRPMS` and `source` directories source, before any known arch", () => {
    assert.strictEqual(guess(FEDORA, "extras/40/SRPMS")?.arch, "source")
    assert.strictEqual(guess(FEDORA, "extras/40/source/tree")?.arch, "source")
    assert.strictEqual(guess(FEDORA, "extras/40/x86_64/SRPMS")?.arch, "source")
  })

  it("reports matched only for a rule with a prefix", () => {
    assert.isTrue(guess(FEDORA, "releases/40/Everything/x86_64/os")?.matched)
    assert.isFalse(guess(FEDORA, "releases/test/41_Beta/Everything/x86_64/os")?.matched)
    assert.isFalse(guess(FEDORA, "extras/40/x86_64")?.matched)
  })
})

describe("compileRepositoryRules", () => {
  it("compiles the default rules", () => {
    assert.strictEqual(compiled.rules.length, defaultRepositoryRules.rules.length)
    assert.strictEqual(compiled.excludePaths.length, defaultRepositoryRules.excludePaths?.length)
  })

  it("tries rules in order; the first match decides", () => {
    const rules = compileRepositoryRules({
      rules: [
        { category: "Fedora Linux", pattern: "^releases/(?<version>\\d+)/", prefix: "first-{version}" },
        { pattern: "^releases/(?<version>\\d+)/Everything/(?<arch>[^/]+)/os$", prefix: "second-{version}-{arch}" }
      ]
    })
    assert.deepStrictEqual(
      guess(FEDORA, "releases/40/Everything/x86_64/os", { rules }),
      repo("first-40", "40", "x86_64")
    )
    assert.deepStrictEqual(
      guess(EPEL, "releases/40/Everything/x86_64/os", { rules }),
      repo("second-40-x86_64", "40", "x86_64")
    )
  })

  it("fills a placeholder whose group did not take part in the match with nothing", () => {
    const rules = compileRepositoryRules({
      rules: [{ pattern: "^repo/(?:v(?<version>\\d+)/)?(?<arch>[^/]+)$", prefix: "repo{version}" }]
    })
    assert.strictEqual(guess(FEDORA, "repo/v7/x86_64", { rules })?.prefix, "repo7")
    assert.strictEqual(guess(FEDORA, "repo/x86_64", { rules })?.prefix, "repo")
  })

  it("has no exclusions unless given", () => {
    const rules = compileRepositoryRules({ rules: [] })
    assert.deepStrictEqual(rules.excludePaths, [])
    assert.isDefined(
      guessRepository(rules, {
        category: FEDORA.category,
        name: "pub/alt/releases/40/Server/x86_64/os",
        rel: "releases/40/Server/x86_64/os",
        arches: ARCHES,
        versions: new Set()
      })
    )
  })

  const second = (rule: RepositoryRules["rules"][number]): RepositoryRules => ({
    rules: [{ pattern: "^fine$", prefix: "fine" }, rule]
  })

  it("throws naming the rule for a pattern that is not a regular expression", () => {
    const error = thrown(() => compileRepositoryRules(second({ pattern: "^releases/(?<version>\\d+", prefix: "x" })))
    assert.include(error.message, "rule 2")
    assert.include(error.message, "^releases/(?<version>\\d+")
    assert.include(error.message, "not a regular expression")
  })

  it("throws for a bad pattern even without a prefix", () => {
    assert.include(thrown(() => compileRepositoryRules(second({ pattern: "[x", prefix: null }))).message, "rule 2")
  })

  it("throws naming the rule for a placeholder without a group", () => {
    const error = thrown(() =>
      compileRepositoryRules(second({ pattern: "^(?<version>\\d+)/(?<arch>[^/]+)$", prefix: "epel-{release}" }))
    )
    assert.include(error.message, "rule 2")
    assert.include(error.message, "{release}")
  })

  it("sees named groups of a pattern that cannot match the empty string", () => {
    assert.doesNotThrow(() =>
      compileRepositoryRules(
        second({ pattern: "^x/(?<version>\\d+)/(?<arch>[a-z0-9_]+)$", prefix: "x{version}{arch}" })
      )
    )
  })

  it.each(["epel-{version", "epel-version}", "epel-{}", "epel-{{version}}", "epel-{1}"])(
    "throws naming the rule for unbalanced braces: %s",
    (prefix) => {
      const error = thrown(() => compileRepositoryRules(second({ pattern: "^(?<version>\\d+)$", prefix })))
      assert.include(error.message, "rule 2")
      assert.include(error.message, "braces")
    }
  )

  it("throws naming the entry for an exclusion that is not a regular expression", () => {
    const error = thrown(() => compileRepositoryRules({ rules: [], excludePaths: ["^pub/alt/", "(unclosed"] }))
    assert.include(error.message, "excludePaths[1]")
    assert.include(error.message, "(unclosed")
  })
})

describe("loadRepositoryRules", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "repository-rules-"))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  const write = (name: string, content: string) => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, content)
    return file
  }

  it("reads a valid rules file", () => {
    const file = write(
      "custom.json",
      JSON.stringify({
        rules: [
          {
            category: "Rocky Linux",
            pattern: "^(?<version>\\d+\\.\\d+)/(?<repo>BaseOS|AppStream)/(?<arch>[^/]+)/os$",
            prefix: "{repo}-{version}"
          },
          { pattern: "(^|/)vault/", prefix: null }
        ],
        excludePaths: ["/isos(/|$)"]
      })
    )
    const rules = loadRepositoryRules(file)
    const rocky = { category: "Rocky Linux", topdir: "pub/rocky" }
    assert.deepStrictEqual(guess(rocky, "9.4/BaseOS/x86_64/os", { rules }), repo("BaseOS-9.4", "9.4", "x86_64"))
    assert.deepStrictEqual(guess(rocky, "vault/9.3/BaseOS/x86_64/os", { rules }), repo(null, "9.3", "x86_64", false))
    assert.isUndefined(guess(rocky, "9.4/isos/x86_64", { rules }))
    // The file replaces the defaults.
    assert.deepStrictEqual(
      guess(FEDORA, "releases/40/Everything/x86_64/os", { rules }),
      repo(null, "40", "x86_64", false)
    )
  })

  it("reads a file without excludePaths", () => {
    const file = write("no-excludes.json", JSON.stringify({ rules: [{ pattern: "^x$", prefix: null }] }))
    assert.deepStrictEqual(loadRepositoryRules(file).excludePaths, [])
  })

  it("reads the default rules written as JSON", () => {
    const rules = loadRepositoryRules(write("defaults.json", JSON.stringify(defaultRepositoryRules)))
    assert.deepStrictEqual(
      guess(EPEL, "testing/9/Everything/ppc64le", { rules }),
      repo("testing-epel9", "9", "ppc64le")
    )
  })

  it("throws naming a missing file", () => {
    const file = path.join(dir, "missing.json")
    const error = thrown(() => loadRepositoryRules(file))
    assert.include(error.message, file)
    assert.include(error.message, "ENOENT")
  })

  it("throws naming a file that is not JSON", () => {
    const file = write("broken.json", `{ "rules": [ { "pattern": "^x$", "prefix": null }, ] `)
    const error = thrown(() => loadRepositoryRules(file))
    assert.include(error.message, file)
    assert.include(error.message, "JSON")
  })

  it.each([
    { name: "rules-not-array.json", json: { rules: { pattern: "^x$", prefix: null } }, at: "rules" },
    { name: "no-rules.json", json: { excludePaths: [] }, at: "rules" },
    { name: "no-pattern.json", json: { rules: [{ prefix: "x" }] }, at: "pattern" },
    { name: "no-prefix.json", json: { rules: [{ pattern: "^x$" }] }, at: "prefix" },
    { name: "number-prefix.json", json: { rules: [{ pattern: "^x$", prefix: 7 }] }, at: "prefix" },
    { name: "bad-excludes.json", json: { rules: [], excludePaths: "^pub/alt" }, at: "excludePaths" },
    { name: "array.json", json: [], at: "" }
  ])("throws naming the file and the fault for a schema violation: $name", ({ name, json, at }) => {
    const file = write(name, JSON.stringify(json))
    const error = thrown(() => loadRepositoryRules(file))
    assert.include(error.message, file)
    assert.include(error.message, at)
  })

  it("throws naming the file and the rule for a bad pattern", () => {
    const file = write(
      "bad-pattern.json",
      JSON.stringify({
        rules: [
          { pattern: "^ok$", prefix: null },
          { pattern: "^(?<version>\\d+", prefix: "x" }
        ]
      })
    )
    const error = thrown(() => loadRepositoryRules(file))
    assert.include(error.message, file)
    assert.include(error.message, "rule 2")
  })
})

describe("rules for several categories", () => {
  it("a rule naming a list of categories applies to each of them, ignoring case, and to no other", () => {
    const rules = compileRepositoryRules({
      rules: [
        { category: ["Alpha Linux", "Beta Linux"], pattern: "^(?<version>\\d+)/(?<arch>[^/]+)$", prefix: "x-{version}" }
      ]
    })
    const input = (category: string) => ({
      category,
      name: `pub/x/9/x86_64`,
      rel: "9/x86_64",
      arches: new Set<string>(),
      versions: new Set<string>()
    })
    assert.strictEqual(guessRepository(rules, input("alpha linux"))?.prefix, "x-9")
    assert.strictEqual(guessRepository(rules, input("BETA LINUX"))?.prefix, "x-9")
    assert.strictEqual(guessRepository(rules, input("Gamma Linux"))?.prefix, null)
  })
})
