// Repositories from the prefix rules against what admins made, and deleting vanished directories shared by categories.

import * as path from "node:path"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { ChangeLog } from "../../src/db/ChangeLog.ts"
import { MasterScanner } from "../../src/masterscan/MasterScanner.ts"
import { defaultMasterScanPolicy, MasterScanPolicy } from "../../src/masterscan/MasterScanPolicy.ts"
import { compileRepositoryRules } from "../../src/masterscan/RepositoryRules.ts"
import { Content } from "../../src/registry/Content.ts"
import { MasterTree, makeTempDir } from "../support/MasterTree.ts"
import {
  changesSince,
  createCategory,
  directoriesOf,
  globalAdmin,
  lastChange,
  repositoriesOf,
  scanTestLayer
} from "../support/ScanDatabase.ts"

const rules = (prefix: string, pattern = "^(a|b)/(?<version>\\d+)/(?<arch>[^/]+)$") =>
  compileRepositoryRules({ rules: [{ pattern, prefix }] })

/** A scanner with other rules over the same database, as a node configured differently would have. */
const scannerWithRules = (prefix: string, pattern?: string) =>
  Layer.build(
    Layer.fresh(MasterScanner.layer).pipe(
      Layer.provide(ChangeLog.layer),
      Layer.provide(
        Layer.succeed(MasterScanPolicy, { ...defaultMasterScanPolicy, settleMs: 0, rules: rules(prefix, pattern) })
      )
    )
  ).pipe(Effect.map((context) => Context.get(context, MasterScanner)))

layer(scanTestLayer({ rules: rules("x-{version}") }), { excludeTestServices: true })("repositories", (it) => {
  it.effect("a name the rules give twice goes to the first directory; the second is reported, not added", () =>
    Effect.gen(function* () {
      const tree = new MasterTree(path.join(makeTempDir(), "twice"))
      tree.repo("a/9/x86_64", [1_700_000_000])
      tree.repo("b/9/x86_64", [1_700_000_000])
      const category = yield* createCategory({ name: "Twice", topdir: "pub/twice", masterPath: tree.root })
      const summary = yield* (yield* MasterScanner).scan(category.id)
      assert.deepStrictEqual(yield* repositoriesOf(category.id), [
        { name: "pub/twice/a/9/x86_64", prefix: "x-9", arch: "x86_64", version: "9", isTest: false }
      ])
      assert.strictEqual(summary.problems.length, 1)
      assert.strictEqual(summary.problemCount, 1)
      assert.strictEqual(summary.problems[0]!.path, "pub/twice/b/9/x86_64")
      assert.match(
        summary.problems[0]!.problem,
        /repo=x-9 arch=x86_64 already belongs to directory id \d+; not changed/
      )
    })
  )

  it.effect("repositories an admin made or renamed are theirs; the rules rename only their own", () =>
    Effect.gen(function* () {
      const content = yield* Content
      const admin = yield* globalAdmin
      const tree = new MasterTree(path.join(makeTempDir(), "admin"))
      tree.repo("a/10/aarch64", [1_700_000_000])
      tree.repo("b/11/aarch64", [1_700_000_000])
      const category = yield* createCategory({ name: "Admin", topdir: "pub/admin", masterPath: tree.root })
      // An admin names a/10/aarch64 before any scan, as the README's example does for epel-9.
      yield* content.arches.create(admin, { name: "aarch64" })
      yield* content.repositories.create(admin, {
        prefix: "hand-made",
        arch: "aarch64",
        directory: "pub/admin/a/10/aarch64",
        categoryId: category.id
      })
      const scanner = yield* MasterScanner
      const first = yield* scanner.scan(category.id)
      assert.deepStrictEqual(first.problems, [])
      assert.deepStrictEqual(
        (yield* repositoriesOf(category.id)).map((r) => [r.name, r.prefix]),
        [
          ["pub/admin/a/10/aarch64", "hand-made"],
          ["pub/admin/b/11/aarch64", "x-11"]
        ]
      )

      // The rules change (a node configured with other rules): the scan's own repository is renamed.
      const renamer = yield* scannerWithRules("y-{version}")
      const renamed = yield* renamer.scan(category.id)
      assert.strictEqual(renamed.repositoriesUpdated, 1)
      assert.deepStrictEqual(
        (yield* repositoriesOf(category.id)).map((r) => r.prefix),
        ["hand-made", "y-11"]
      )

      // An admin renames it, which makes it theirs: later scans leave it alone and add nothing beside it.
      const scanned = (yield* content.repositories.list(admin, { pageSize: 1000 })).items.find(
        (r) => r.prefix === "y-11"
      )
      assert.strictEqual(scanned?.scanned, true)
      assert.strictEqual((yield* content.repositories.update(admin, scanned!.id, { prefix: "mine" })).scanned, false)
      const after = yield* scanner.scan(category.id)
      assert.strictEqual(after.repositoriesAdded + after.repositoriesUpdated, 0)
      assert.deepStrictEqual(
        (yield* repositoriesOf(category.id)).map((r) => r.prefix),
        ["hand-made", "mine"]
      )
    }).pipe(Effect.scoped)
  )

  it.effect("deleting vanished directories keeps those another category lists and every top directory", () =>
    Effect.gen(function* () {
      const tree = new MasterTree(path.join(makeTempDir(), "shared"))
      tree.repo("a/9/x86_64", [1_700_000_000])
      tree.dir("sub/inner/deep")
      const outer = yield* createCategory({ name: "Outer", topdir: "pub/shared", masterPath: tree.root })
      const inner = yield* createCategory({ name: "Inner", topdir: "pub/shared/sub", masterPath: tree.path("sub") })
      const scanner = yield* MasterScanner
      yield* scanner.scan(outer.id)
      yield* scanner.scan(inner.id)

      // Gone from the outer tree's copy (the inner category keeps its own master elsewhere, say).
      const innerNames = (yield* directoriesOf(inner.id)).map((d) => d.name)
      assert.deepStrictEqual(innerNames, ["pub/shared/sub", "pub/shared/sub/inner", "pub/shared/sub/inner/deep"])
      tree.remove("sub")
      tree.remove("a")
      const before = yield* lastChange
      const summary = yield* scanner.scan(outer.id, { deleteDirectories: true })
      // a, a/9, a/9/x86_64, a/9/x86_64/repodata are deleted; sub and below are only unlinked from Outer.
      assert.strictEqual(summary.directoriesRemoved, 4)
      assert.deepStrictEqual(
        (yield* directoriesOf(outer.id)).map((d) => d.name),
        ["pub/shared"]
      )
      assert.deepStrictEqual(
        (yield* directoriesOf(inner.id)).map((d) => d.name),
        innerNames
      )
      assert.deepStrictEqual(yield* repositoriesOf(outer.id), [])
      const [change] = yield* changesSince(before)
      assert.strictEqual(change!.payload.directoriesRemoved.length, 4)
      assert.strictEqual(change!.payload.directoriesUnlinked.length, 3)
    })
  )

  it.effect("two categories listing one directory each keep their own repository there", () =>
    Effect.gen(function* () {
      const tree = new MasterTree(path.join(makeTempDir(), "nested"))
      tree.repo("b/9/x86_64", [1_700_000_000])
      const outer = yield* createCategory({ name: "Nested outer", topdir: "pub/nested", masterPath: tree.root })
      const inner = yield* createCategory({ name: "Nested inner", topdir: "pub/nested/b", masterPath: tree.path("b") })
      const outerScanner = yield* scannerWithRules("outer-{version}")
      const innerScanner = yield* scannerWithRules("inner-{version}", "^(?<version>\\d+)/(?<arch>[^/]+)$")
      for (let round = 0; round < 2; round++) {
        const a = yield* outerScanner.scan(outer.id)
        const b = yield* innerScanner.scan(inner.id)
        assert.strictEqual(a.repositoriesUpdated + b.repositoriesUpdated, 0, `round ${round}`)
      }
      assert.deepStrictEqual(
        (yield* repositoriesOf(outer.id)).map((r) => [r.name, r.prefix]),
        [["pub/nested/b/9/x86_64", "outer-9"]]
      )
      assert.deepStrictEqual(
        (yield* repositoriesOf(inner.id)).map((r) => [r.name, r.prefix]),
        [["pub/nested/b/9/x86_64", "inner-9"]]
      )
    }).pipe(Effect.scoped)
  )
})
