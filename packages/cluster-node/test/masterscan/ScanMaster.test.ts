// `mirrormanager scan-master` as an operator runs it: progress, a summary, and an exit status that says what happened.

import * as fs from "node:fs"
import * as path from "node:path"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Accounts, Content } from "@mirrormanager/actors/registry"
import { globalAdminWithToken } from "@mirrormanager/actors/testing"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { newDatabase } from "../support/Databases.ts"
import { runCommand, tempDir } from "../support/Process.ts"

const withDatabase = <A>(url: string, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown, Content | Accounts>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      return yield* f(yield* SqlClient.SqlClient)
    }).pipe(
      Effect.provide(
        Layer.mergeAll(Content.layer, Accounts.layer).pipe(
          Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }))
        )
      ),
      Effect.orDie
    )
  )

const ADMIN_TOKEN = "mm_scan-master-test-admin"

/** A product and a category with a master path, made by a global admin through the Content service. */
const createCategory = (
  url: string,
  c: { readonly product: string; readonly name: string; readonly topdir: string; readonly master: string }
) =>
  withDatabase(url, () =>
    Effect.gen(function* () {
      const content = yield* Content
      const admin = yield* globalAdminWithToken(ADMIN_TOKEN)
      const product = yield* content.products.create(admin, { name: c.product })
      yield* content.categories.create(admin, {
        name: c.name,
        productId: product.id,
        topdir: c.topdir,
        masterPath: c.master
      })
    })
  )

const repomd = (timestamp: number) =>
  `<repomd><data type="primary"><timestamp>${timestamp}</timestamp></data></repomd>\n`

describe("scan-master", () => {
  it("scans, shows progress and a summary, and exits 2 when something was skipped, 1 when it cannot scan", async () => {
    const databaseUrl = await newDatabase()
    const dir = tempDir()
    const env = { DATABASE_URL: databaseUrl, MM_DATA_DIR: dir }

    const empty = await runCommand(["scan-master"], env)
    assert.strictEqual(empty.code, 0, empty.stderr)
    assert.include(empty.stderr, "no category has a master path yet")

    const master = path.join(dir, "master")
    fs.mkdirSync(path.join(master, "9/Everything/x86_64/repodata"), { recursive: true })
    fs.writeFileSync(path.join(master, "9/Everything/x86_64/repodata/repomd.xml"), repomd(1_700_000_000))
    await createCategory(databaseUrl, { product: "EPEL", name: "Fedora EPEL", topdir: "pub/epel", master })

    const scanned = await runCommand(["scan-master"], env)
    assert.strictEqual(scanned.code, 0, scanned.stderr)
    assert.include(scanned.stdout, "Fedora EPEL: completed in")
    assert.include(scanned.stdout, "directories: 5 seen, 5 read, 5 added, 0 updated, 0 removed")
    assert.include(scanned.stdout, "repositories: 1 added, 0 updated")
    assert.include(scanned.stdout, "file details: 1 added, 0 aged out; 1 files hashed")
    assert.match(scanned.stderr, /Fedora EPEL: walking, \d+ directories seen/)
    const prefixes = await withDatabase(databaseUrl, (sql) => sql<{ prefix: string }>`SELECT prefix FROM repositories`)
    assert.deepStrictEqual(
      prefixes.map((r) => r.prefix),
      ["epel-9"]
    )

    const broken = path.join(master, "9/Everything/aarch64/repodata/repomd.xml")
    fs.mkdirSync(path.dirname(broken), { recursive: true })
    fs.writeFileSync(broken, "<repomd><data>")
    const skipped = await runCommand(["scan-master", "--category", "fedora epel"], env)
    assert.strictEqual(skipped.code, 2, skipped.stderr)
    assert.include(skipped.stderr, `${broken}: is not a valid repomd.xml`)
    assert.include(skipped.stdout, "skipped: 1")

    const unknown = await runCommand(["scan-master", "--category", "Nope"], env)
    assert.strictEqual(unknown.code, 1)
    assert.include(unknown.stderr, 'no category is named "Nope" (categories: "Fedora EPEL")')

    const gone = await runCommand(["scan-master"], { ...env, DATABASE_URL: "postgres://nobody:x@127.0.0.1:1/none" })
    assert.strictEqual(gone.code, 1)
    assert.include(gone.stderr, "scan-master: cannot use the database")
  })

  it("uses the operator's repository rules file, and refuses a broken one", async () => {
    const databaseUrl = await newDatabase()
    const dir = tempDir()
    const master = path.join(dir, "master")
    fs.mkdirSync(path.join(master, "linux/releases/42/x86_64/repodata"), { recursive: true })
    fs.writeFileSync(path.join(master, "linux/releases/42/x86_64/repodata/repomd.xml"), repomd(1_700_000_000))
    const rules = path.join(dir, "rules.json")
    fs.writeFileSync(
      rules,
      JSON.stringify({
        rules: [
          {
            category: "Example Linux",
            pattern: "^linux/releases/(?<version>\\d+)/(?<arch>[^/]+)$",
            prefix: "example-{version}"
          }
        ]
      })
    )
    const env = { DATABASE_URL: databaseUrl, MM_DATA_DIR: dir, MM_REPOSITORY_RULES: rules }
    assert.strictEqual((await runCommand(["scan-master"], env)).code, 0)
    await createCategory(databaseUrl, { product: "Example", name: "Example Linux", topdir: "pub/example", master })
    const scanned = await runCommand(["scan-master"], env)
    assert.strictEqual(scanned.code, 0, scanned.stderr)
    const rows = await withDatabase(
      databaseUrl,
      (sql) => sql<{ prefix: string; arch: string }>`SELECT r.prefix, a.name AS arch FROM repositories r
        JOIN arches a ON a.id = r.arch_id`
    )
    assert.deepStrictEqual(rows, [{ prefix: "example-42", arch: "x86_64" }])

    fs.writeFileSync(rules, JSON.stringify({ rules: [{ pattern: "(unclosed", prefix: "x" }] }))
    const refused = await runCommand(["scan-master"], env)
    assert.strictEqual(refused.code, 1)
    assert.include(refused.stderr, `repository rules ${rules}: rule 1: "(unclosed" is not a regular expression`)
  })
})
