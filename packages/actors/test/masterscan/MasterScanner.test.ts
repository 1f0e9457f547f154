// The master-tree scan against real trees on disk and a real PostgreSQL: exact rows, incremental rescans, aging.

import * as fs from "node:fs"
import * as path from "node:path"
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { type Principal, UserId } from "@mirrormanager/domain/registry"
import { Effect, Queue } from "effect"
import { CHANGES_CHANNEL } from "../../src/db/ChangeLog.ts"
import { MasterScanner } from "../../src/masterscan/MasterScanner.ts"
import { Content } from "../../src/registry/Content.ts"
import { DAY, hashesOf, MasterTree, makeTempDir, repomdXml } from "../support/MasterTree.ts"
import {
  changesSince,
  createCategory,
  directoriesOf,
  fileDetailsUnder,
  globalAdmin,
  lastChange,
  repositoriesOf,
  scanTestLayer
} from "../support/ScanDatabase.ts"

/** A signed-in user who administers nothing: may see a category's scans. */
const reader: Principal = { userId: UserId.make(2), username: "reader", admin: false, siteIds: new Set() }

const ctimeOf = (file: string) => Math.floor(fs.statSync(file).ctimeMs / 1000)
const mtime = 1_700_000_000

/** An EPEL-like tree: repositories by the default rules, a big package directory, ISOs with a CHECKSUM file. */
const buildEpel = (tree: MasterTree, t0 = 1_700_000_000) => {
  const repomd = tree.repo("9/Everything/x86_64", [t0 + 100, t0 + 300, t0 + 200], mtime)
  for (let i = 1; i <= 12; i++) {
    tree.file(`9/Everything/x86_64/Packages/a/app-1.${i}.rpm`, `rpm ${i}`, mtime + i * 10)
  }
  tree.file("9/Everything/x86_64/Packages/a/README", "about a", mtime)
  tree.repo("9/Everything/x86_64/debug", [1_700_000_400], mtime)
  tree.repo("9/Everything/source/tree", [1_700_000_500], mtime)
  tree.repo("testing/9/Everything/aarch64", [1_700_000_600], mtime)
  tree.repo("test/9/Everything/x86_64", [1_700_000_700], mtime)
  const iso = "an iso image"
  tree.file("9/iso/Epel-9-x86_64.iso", iso, mtime + 5)
  tree.file(
    "9/iso/Epel-9-CHECKSUM",
    [
      "-----BEGIN PGP SIGNED MESSAGE-----",
      "Hash: SHA256",
      "",
      "# Epel-9-x86_64.iso: 12 bytes",
      `SHA256 (Epel-9-x86_64.iso) = ${hashesOf(iso).sha256}`,
      `SHA256 (not-here.iso) = ${hashesOf("x").sha256}`,
      "-----BEGIN PGP SIGNATURE-----",
      "",
      "iQIzBAEBCAAdFiEE",
      "-----END PGP SIGNATURE-----",
      ""
    ].join("\n"),
    mtime
  )
  tree.file("9/iso/SHA512SUM", `${hashesOf(iso).sha512} *Epel-9-x86_64.iso\n`, mtime)
  tree.file(".snapshot/9/ignored", "x")
  return { repomd, iso }
}

layer(scanTestLayer(), { excludeTestServices: true })("master scan", (it) => {
  it.effect("a first scan records directories, repositories and file details exactly", () =>
    Effect.gen(function* () {
      const root = makeTempDir()
      const tree = new MasterTree(path.join(root, "epel"))
      const { repomd, iso } = buildEpel(tree)
      const category = yield* createCategory({ name: "Fedora EPEL", topdir: "pub/epel", masterPath: tree.root })
      const scanner = yield* MasterScanner
      const before = yield* lastChange
      const summary = yield* scanner.scan(category.id)

      const directories = yield* directoriesOf(category.id)
      assert.deepStrictEqual(
        directories.map((d) => d.name),
        [
          "pub/epel",
          "pub/epel/9",
          "pub/epel/9/Everything",
          "pub/epel/9/Everything/source",
          "pub/epel/9/Everything/source/tree",
          "pub/epel/9/Everything/source/tree/repodata",
          "pub/epel/9/Everything/x86_64",
          "pub/epel/9/Everything/x86_64/Packages",
          "pub/epel/9/Everything/x86_64/Packages/a",
          "pub/epel/9/Everything/x86_64/debug",
          "pub/epel/9/Everything/x86_64/debug/repodata",
          "pub/epel/9/Everything/x86_64/repodata",
          "pub/epel/9/iso",
          "pub/epel/test",
          "pub/epel/test/9",
          "pub/epel/test/9/Everything",
          "pub/epel/test/9/Everything/x86_64",
          "pub/epel/test/9/Everything/x86_64/repodata",
          "pub/epel/testing",
          "pub/epel/testing/9",
          "pub/epel/testing/9/Everything",
          "pub/epel/testing/9/Everything/aarch64",
          "pub/epel/testing/9/Everything/aarch64/repodata"
        ]
      )
      const byName = new Map(directories.map((d) => [d.name, d]))
      // More than 10 rpms: the 3 newest, plus every other file.
      assert.deepStrictEqual(byName.get("pub/epel/9/Everything/x86_64/Packages/a")?.files, [
        { name: "README", size: 7, timestamp: mtime },
        { name: "app-1.10.rpm", size: 6, timestamp: mtime + 100 },
        { name: "app-1.11.rpm", size: 6, timestamp: mtime + 110 },
        { name: "app-1.12.rpm", size: 6, timestamp: mtime + 120 }
      ])
      assert.deepStrictEqual(byName.get("pub/epel/9/Everything/x86_64/repodata")?.files, [
        { name: "repomd.xml", size: Buffer.byteLength(repomd), timestamp: mtime }
      ])
      assert.deepStrictEqual(byName.get("pub/epel/9/Everything")?.files, [])
      for (const directory of directories) {
        const rel = directory.name === "pub/epel" ? "" : directory.name.slice("pub/epel/".length)
        assert.strictEqual(directory.ctime, ctimeOf(tree.path(rel)), directory.name)
        assert.strictEqual(directory.readable, true)
      }

      assert.deepStrictEqual(yield* repositoriesOf(category.id), [
        {
          name: "pub/epel/9/Everything/source/tree",
          prefix: "epel-source-9",
          arch: "source",
          version: "9",
          isTest: false
        },
        { name: "pub/epel/9/Everything/x86_64", prefix: "epel-9", arch: "x86_64", version: "9", isTest: false },
        {
          name: "pub/epel/9/Everything/x86_64/debug",
          prefix: "epel-debug-9",
          arch: "x86_64",
          version: "9",
          isTest: false
        },
        { name: "pub/epel/test/9/Everything/x86_64", prefix: null, arch: "x86_64", version: "9", isTest: false },
        {
          name: "pub/epel/testing/9/Everything/aarch64",
          prefix: "testing-epel9",
          arch: "aarch64",
          version: "9",
          isTest: false
        }
      ])

      const details = yield* fileDetailsUnder("pub/epel/9/")
      const repomdHashes = hashesOf(repomd)
      assert.deepStrictEqual(
        details.filter((d) => d.directory === "pub/epel/9/Everything/x86_64/repodata"),
        [
          {
            directory: "pub/epel/9/Everything/x86_64/repodata",
            filename: "repomd.xml",
            timestamp: 1_700_000_300,
            size: Buffer.byteLength(repomd),
            ...repomdHashes
          }
        ]
      )
      assert.deepStrictEqual(
        details.filter((d) => d.directory === "pub/epel/9/iso"),
        [
          {
            directory: "pub/epel/9/iso",
            filename: "Epel-9-x86_64.iso",
            timestamp: mtime + 5,
            size: iso.length,
            md5: null,
            sha1: null,
            sha256: hashesOf(iso).sha256,
            sha512: hashesOf(iso).sha512
          }
        ]
      )
      assert.strictEqual(details.filter((d) => d.filename === "repomd.xml").length, 3)

      assert.strictEqual(summary.outcome, "completed")
      assert.strictEqual(summary.directoriesSeen, 23)
      assert.strictEqual(summary.directoriesRead, 23)
      assert.strictEqual(summary.directoriesAdded, 23)
      assert.strictEqual(summary.directoriesUpdated, 0)
      assert.strictEqual(summary.repositoriesAdded, 5)
      assert.strictEqual(summary.filesHashed, 5)
      assert.strictEqual(summary.fileDetailsAdded, 6)
      assert.deepStrictEqual(summary.problems, [])

      const changes = yield* changesSince(before)
      assert.strictEqual(changes.length, 1)
      assert.strictEqual(changes[0]!.kind, "master-scan")
      assert.strictEqual(changes[0]!.payload.categoryId, category.id)
      assert.strictEqual(changes[0]!.payload.directoriesAdded.length, 23)
      assert.strictEqual(changes[0]!.payload.repositories.length, 5)
    })
  )
})

// A database of its own, so this category can carry the name the default EPEL rules know.
layer(scanTestLayer(), { excludeTestServices: true })("master rescans", (it) => {
  it.effect("rescans read only what changed, and a changed repomd.xml adds a file detail", () =>
    Effect.gen(function* () {
      const tree = new MasterTree(path.join(makeTempDir(), "epel"))
      // Recent metadata: nothing ages out here.
      const t0 = Math.floor(Date.now() / 1000) - DAY
      buildEpel(tree, t0)
      const category = yield* createCategory({ name: "Fedora EPEL", topdir: "pub/epel-inc", masterPath: tree.root })
      const scanner = yield* MasterScanner
      yield* scanner.scan(category.id)
      const rowsAfterFirst = yield* directoriesOf(category.id)

      const before = yield* lastChange
      const unchanged = yield* scanner.scan(category.id)
      assert.strictEqual(unchanged.directoriesSeen, 23)
      assert.strictEqual(unchanged.directoriesRead, 0)
      assert.strictEqual(unchanged.filesHashed, 0)
      assert.strictEqual(unchanged.directoriesAdded + unchanged.directoriesUpdated + unchanged.fileDetailsAdded, 0)
      assert.strictEqual(unchanged.repositoriesAdded + unchanged.repositoriesUpdated, 0)
      assert.deepStrictEqual(yield* changesSince(before), [])
      assert.deepStrictEqual(yield* directoriesOf(category.id), rowsAfterFirst)

      // A new repomd.xml arrives the way rsync delivers it.
      const newer = repomdXml([t0 + 1000])
      tree.replace("9/Everything/x86_64/repodata/repomd.xml", newer, mtime + 1000)
      const pushed = yield* scanner.scan(category.id)
      assert.strictEqual(pushed.directoriesRead, 1)
      assert.strictEqual(pushed.filesHashed, 1)
      assert.strictEqual(pushed.fileDetailsAdded, 1)
      assert.strictEqual(pushed.directoriesUpdated, 1)
      assert.strictEqual(pushed.directoriesAdded, 0)
      const pushChanges = yield* changesSince(before)
      assert.strictEqual(pushChanges.length, 1)
      assert.strictEqual(pushChanges[0]!.payload.fileDetailDirectories.length, 1)
      const history = (yield* fileDetailsUnder("pub/epel-inc/9/Everything/x86_64/repodata")).map((d) => d.timestamp)
      assert.deepStrictEqual(history, [t0 + 1000, t0 + 300])

      // Rewritten in place: the directory's ctime stays, the file's size and mtime do not.
      fs.writeFileSync(tree.path("9/Everything/x86_64/repodata/repomd.xml"), `${newer}\n<!-- again -->\n`)
      const inPlace = yield* scanner.scan(category.id)
      assert.strictEqual(inPlace.directoriesRead, 1)
      assert.strictEqual(inPlace.fileDetailsAdded, 1)

      // Scanning again finds the same content: nothing is added twice.
      const again = yield* scanner.scan(category.id)
      assert.strictEqual(again.fileDetailsAdded, 0)
      assert.strictEqual((yield* fileDetailsUnder("pub/epel-inc/9/Everything/x86_64/repodata")).length, 3)

      // A new directory is read; its parent's ctime changed, the rest is still skipped.
      tree.repo("9/Everything/ppc64le", [t0 + 2000])
      const grown = yield* scanner.scan(category.id)
      assert.strictEqual(grown.directoriesAdded, 2)
      assert.strictEqual(grown.directoriesRead, 3)
      assert.strictEqual(grown.repositoriesAdded, 1)
      assert.deepStrictEqual(
        (yield* repositoriesOf(category.id)).find((r) => r.name === "pub/epel-inc/9/Everything/ppc64le")?.prefix,
        "epel-9"
      )
    })
  )

  it.effect("old file details age out: the newest stays, the second newest while the newest is young", () =>
    Effect.gen(function* () {
      const tree = new MasterTree(path.join(makeTempDir(), "linux"))
      const now = Math.floor(Date.now() / 1000)
      const category = yield* createCategory({ name: "Aging", topdir: "pub/aging", masterPath: tree.root })
      const scanner = yield* MasterScanner
      const repomd = "updates/40/Everything/x86_64/repodata/repomd.xml"
      /** A push of metadata made `days` ago; returns the ages in days of the file details left. */
      const push = (days: number) =>
        Effect.gen(function* () {
          if (fs.existsSync(tree.path(repomd))) tree.replace(repomd, repomdXml([now - days * DAY]))
          else tree.file(repomd, repomdXml([now - days * DAY]))
          const summary = yield* scanner.scan(category.id)
          const rows = yield* fileDetailsUnder("pub/aging/updates/40/Everything/x86_64/repodata")
          return { aged: summary.fileDetailsAged, left: rows.map((row) => (now - row.timestamp) / DAY) }
        })
      // The current file is never removed, however old.
      assert.deepStrictEqual(yield* push(10), { aged: 0, left: [10] })
      // The newest is 6 days old: the second newest is treated like the rest, and it is older than 4 days.
      assert.deepStrictEqual(yield* push(6), { aged: 1, left: [6] })
      // The newest is younger than 3 days: the second newest stays, however old.
      assert.deepStrictEqual(yield* push(2), { aged: 0, left: [2, 6] })
      // A third one older than 4 days goes; one younger than 4 days stays.
      assert.deepStrictEqual(yield* push(1), { aged: 1, left: [1, 2] })
      assert.deepStrictEqual(yield* push(0.5), { aged: 0, left: [0.5, 1, 2] })
    })
  )
})

layer(scanTestLayer(), { excludeTestServices: true })("master scan of bad trees", (it) => {
  it.effect("a master path that is missing or not a directory fails that category, writing nothing", () =>
    Effect.gen(function* () {
      const scanner = yield* MasterScanner
      const missing = path.join(makeTempDir(), "nowhere")
      const category = yield* createCategory({ name: "Missing", topdir: "pub/missing", masterPath: missing })
      const summary = yield* scanner.scan(category.id)
      assert.strictEqual(summary.outcome, "failed")
      assert.deepStrictEqual(summary.problems, [{ path: missing, problem: "master path does not exist" }])
      assert.deepStrictEqual(yield* directoriesOf(category.id), [])
      assert.deepStrictEqual((yield* scanner.status(reader, category.id)).last, summary)

      const file = path.join(makeTempDir(), "a-file")
      fs.writeFileSync(file, "not a tree")
      const other = yield* createCategory({ name: "A file", topdir: "pub/file", masterPath: file })
      const onFile = yield* scanner.scan(other.id)
      assert.strictEqual(onFile.outcome, "failed")
      assert.deepStrictEqual(onFile.problems, [{ path: file, problem: "master path is not a directory" }])
    })
  )

  it.effect("an unknown category, or one without a master path, is refused", () =>
    Effect.gen(function* () {
      const scanner = yield* MasterScanner
      const notFound = yield* Effect.flip(scanner.scan(999_999))
      assert.strictEqual(notFound._tag, "NotFound")
      const category = yield* createCategory({ name: "No master", topdir: "pub/nomaster", masterPath: null })
      const refused = yield* Effect.flip(scanner.scan(category.id))
      assert.strictEqual(refused._tag, "Unprocessable")
      assert.match(refused.detail ?? "", /has no master path/)
    })
  )

  it.effect(
    "symbolic link loops, links out of the tree, broken links, bad repomd.xml and checksum lines are named and skipped",
    () =>
      Effect.gen(function* () {
        const tree = new MasterTree(path.join(makeTempDir(), "bad"))
        const good = tree.repo("9/Everything/x86_64", [1_700_000_000])
        tree.file("9/Everything/aarch64/repodata/repomd.xml", "<repomd><data><timestamp>1</timestamp></data>")
        tree.file("9/Everything/s390x/repodata/repomd.xml", "<repomd><revision>1</revision></repomd>", mtime)
        tree.symlink("9/loop", "..")
        tree.symlink("9/outside", "/etc")
        tree.symlink("9/Everything/ppc64le/repodata/repomd.xml", "/etc/hostname")
        tree.symlink("9/broken", "does-not-exist")
        tree.symlink("latest", "9")
        tree.file("9/iso/disk.iso", "disk")
        tree.file(
          "9/iso/SHA256SUM",
          `${hashesOf("disk").sha256}  disk.iso\nthis is not a checksum\n${"ab".repeat(10)}  short.iso\n`
        )
        const category = yield* createCategory({ name: "Bad", topdir: "pub/bad", masterPath: tree.root })
        const summary = yield* (yield* MasterScanner).scan(category.id)

        assert.strictEqual(summary.outcome, "completed")
        const problems = new Map(summary.problems.map((p) => [p.path.slice(tree.root.length + 1), p.problem]))
        assert.match(problems.get("9/loop") ?? "", /loop/)
        assert.match(problems.get("latest/loop") ?? "", /loop/)
        assert.match(problems.get("9/outside") ?? "", /out of the master tree/)
        assert.match(problems.get("9/Everything/ppc64le/repodata/repomd.xml") ?? "", /out of the master tree/)
        assert.match(problems.get("9/broken") ?? "", /broken symbolic link/)
        assert.match(problems.get("9/Everything/aarch64/repodata/repomd.xml") ?? "", /not a valid repomd\.xml/)
        assert.match(problems.get("9/iso/SHA256SUM") ?? "", /line 2, 3/)
        assert.strictEqual(summary.problemCount, summary.problems.length)

        // Everything else went on: the good repository, the link inside the tree, the good checksum line.
        const names = (yield* directoriesOf(category.id)).map((d) => d.name)
        assert.ok(names.includes("pub/bad/latest/Everything/x86_64/repodata"))
        assert.ok(!names.some((name) => name.includes("loop") || name.includes("outside") || name.includes("broken")))
        const details = yield* fileDetailsUnder("pub/bad/9/")
        assert.deepStrictEqual(
          details.map((d) => [d.directory, d.filename, d.sha256]),
          [
            [
              "pub/bad/9/Everything/s390x/repodata",
              "repomd.xml",
              hashesOf("<repomd><revision>1</revision></repomd>").sha256
            ],
            ["pub/bad/9/Everything/x86_64/repodata", "repomd.xml", hashesOf(good).sha256],
            ["pub/bad/9/iso", "disk.iso", hashesOf("disk").sha256]
          ]
        )
        // No <data><timestamp>: the file's modification time.
        assert.strictEqual(details[0]!.timestamp, mtime)
      })
  )

  it.effect("vanished directories are kept unless deleting is asked for, then removed with their repositories", () =>
    Effect.gen(function* () {
      const tree = new MasterTree(path.join(makeTempDir(), "gone"))
      tree.repo("9/Everything/x86_64", [1_700_000_000])
      tree.repo("8/Everything/x86_64", [1_700_000_000])
      const category = yield* createCategory({ name: "Gone", topdir: "pub/gone", masterPath: tree.root })
      // No rule knows this category: the arch comes from known arch names in the path.
      yield* (yield* Content).arches.create(yield* globalAdmin, { name: "x86_64" })
      const scanner = yield* MasterScanner
      yield* scanner.scan(category.id)
      assert.strictEqual((yield* repositoriesOf(category.id)).length, 2)

      tree.remove("8")
      const kept = yield* scanner.scan(category.id)
      assert.strictEqual(kept.directoriesVanished, 4)
      assert.strictEqual(kept.directoriesRemoved, 0)
      assert.ok((yield* directoriesOf(category.id)).some((d) => d.name === "pub/gone/8"))

      const before = yield* lastChange
      const removed = yield* scanner.scan(category.id, { deleteDirectories: true })
      assert.strictEqual(removed.directoriesRemoved, 4)
      assert.strictEqual(removed.directoriesVanished, 0)
      assert.ok(!(yield* directoriesOf(category.id)).some((d) => d.name.startsWith("pub/gone/8")))
      assert.deepStrictEqual(
        (yield* repositoriesOf(category.id)).map((r) => r.name),
        ["pub/gone/9/Everything/x86_64"]
      )
      assert.strictEqual((yield* changesSince(before))[0]!.payload.directoriesRemoved.length, 4)
    })
  )
})

layer(scanTestLayer(), { excludeTestServices: true })("master scans running together", (it) => {
  it.effect("two scans of one category at once write each directory once", () =>
    Effect.gen(function* () {
      const tree = new MasterTree(path.join(makeTempDir(), "twice"))
      buildEpel(tree)
      const category = yield* createCategory({ name: "Fedora EPEL", topdir: "pub/twice", masterPath: tree.root })
      const scanner = yield* MasterScanner
      const [first, second] = yield* Effect.all([scanner.scan(category.id), scanner.scan(category.id)], {
        concurrency: 2
      })
      assert.strictEqual(first!.directoriesAdded + second!.directoriesAdded, 23)
      assert.strictEqual(first!.repositoriesAdded + second!.repositoriesAdded, 5)
      assert.strictEqual(first!.fileDetailsAdded + second!.fileDetailsAdded, 6)
      assert.strictEqual((yield* directoriesOf(category.id)).length, 23)
    })
  )

  it.effect("a scan that changes something wakes the nodes that listen for changes", () =>
    Effect.gen(function* () {
      const pg = yield* PgClient.PgClient
      const notifications = yield* pg.listen(CHANGES_CHANNEL)
      const tree = new MasterTree(path.join(makeTempDir(), "notify"))
      tree.repo("9/Everything/x86_64", [1_700_000_000])
      const category = yield* createCategory({ name: "Notify", topdir: "pub/notify", masterPath: tree.root })
      yield* (yield* MasterScanner).scan(category.id)
      const changes = yield* changesSince(0)
      // Every change notifies (the category's creation too); the scan's own record is among them.
      const woken = new Set<number>()
      while (!woken.has(changes.at(-1)!.seq)) {
        woken.add(Number((yield* Queue.take(notifications).pipe(Effect.timeout("5 seconds"))).payload))
      }
      assert.strictEqual(changes.at(-1)!.payload.categoryId, category.id)
    }).pipe(Effect.scoped)
  )
})
