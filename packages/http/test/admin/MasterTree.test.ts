// Scanning a master tree over the API, and reading what it found: directories, repositories, file details.

import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { createCategory, makeUser, waitForScan } from "../support/Fixtures.ts"
import { expectStatus, problemText, request } from "../support/Requests.ts"
import { testNodeLayer } from "../support/TestNode.ts"

const repomd = (timestamp: number) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>${timestamp}</revision><data type="primary"><timestamp>${timestamp}</timestamp></data></repomd>\n`

/** pub/epel/9/Everything/x86_64 with repodata, as a master tree on disk. */
const masterTree = (timestamp: number) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mm-api-master-"))
  fs.chmodSync(root, 0o755)
  const repodata = path.join(root, "9/Everything/x86_64/repodata")
  fs.mkdirSync(repodata, { recursive: true })
  const xml = repomd(timestamp)
  fs.writeFileSync(path.join(repodata, "repomd.xml"), xml)
  return { root, xml }
}

layer(testNodeLayer(), { excludeTestServices: true })("master tree over the API", (it) => {
  it.effect("a global admin starts a scan; its repositories, directories and file details can be read", () =>
    Effect.gen(function* () {
      const timestamp = Math.floor(Date.now() / 1000) - 3600
      const tree = masterTree(timestamp)
      const category = yield* createCategory({ name: "Fedora EPEL", topdir: "pub/epel", masterPath: tree.root })
      const never = yield* expectStatus("GET", `/api/categories/${category.id}/scan`, 200)
      assert.deepStrictEqual(never, { categoryId: category.id, running: null, last: null })

      const started = yield* expectStatus("POST", `/api/categories/${category.id}/scan`, 202)
      assert.strictEqual(started.categoryId, category.id)
      const status = yield* waitForScan(category.id)
      assert.strictEqual(status.last.outcome, "completed")
      assert.strictEqual(status.last.category, "Fedora EPEL")
      assert.strictEqual(status.last.directoriesAdded, 5)
      assert.strictEqual(status.last.repositoriesAdded, 1)

      const repositories = yield* expectStatus("GET", "/api/repositories", 200)
      const epel = repositories.items.find((r: any) => r.prefix === "epel-9")
      assert.deepStrictEqual(
        {
          name: epel.name,
          arch: epel.arch,
          directory: epel.directory,
          categoryId: epel.categoryId,
          scanned: epel.scanned
        },
        {
          name: "pub/epel/9/Everything/x86_64",
          arch: "x86_64",
          directory: "pub/epel/9/Everything/x86_64",
          categoryId: category.id,
          scanned: true
        }
      )
      // Disabling keeps it the scan's; naming it by hand makes it the admin's; `scanned: true` hands it back.
      const patch = (body: object) => expectStatus("PATCH", `/api/repositories/${epel.id}`, 200, { body })
      assert.strictEqual((yield* patch({ disabled: true })).scanned, true)
      assert.strictEqual((yield* patch({ prefix: "epel-9-mine" })).scanned, false)
      assert.strictEqual((yield* patch({ prefix: "epel-9", disabled: false, scanned: true })).scanned, true)
      const details = yield* expectStatus("GET", `/api/repositories/${epel.id}/file-details`, 200)
      assert.strictEqual(details.length, 1)
      assert.deepStrictEqual(
        { ...details[0], id: undefined, directoryId: undefined },
        {
          id: undefined,
          directoryId: undefined,
          filename: "repomd.xml",
          timestamp,
          size: Buffer.byteLength(tree.xml),
          md5: createHash("md5").update(tree.xml).digest("hex"),
          sha1: createHash("sha1").update(tree.xml).digest("hex"),
          sha256: createHash("sha256").update(tree.xml).digest("hex"),
          sha512: createHash("sha512").update(tree.xml).digest("hex")
        }
      )

      const under = yield* expectStatus(
        "GET",
        `/api/directories?categoryId=${category.id}&under=pub/epel/9/Everything`,
        200
      )
      assert.deepStrictEqual(
        under.items.map((d: any) => d.name),
        ["pub/epel/9/Everything", "pub/epel/9/Everything/x86_64", "pub/epel/9/Everything/x86_64/repodata"]
      )
      assert.strictEqual(under.total, 3)
      const repodata = under.items[2]
      assert.deepStrictEqual(repodata.files, [
        {
          name: "repomd.xml",
          size: Buffer.byteLength(tree.xml),
          timestamp: Math.floor(
            fs.statSync(path.join(tree.root, "9/Everything/x86_64/repodata/repomd.xml")).mtimeMs / 1000
          )
        }
      ])
      assert.deepStrictEqual(yield* expectStatus("GET", `/api/directories/${repodata.id}`, 200), repodata)
      const byDirectory = yield* expectStatus("GET", `/api/directories/${repodata.id}/file-details`, 200)
      assert.deepStrictEqual(byDirectory, details)
    })
  )

  it.effect(
    "an emergency expire keeps only the newest repomd.xml of a repository, or of every repository of a version",
    () =>
      Effect.gen(function* () {
        const now = Math.floor(Date.now() / 1000)
        const tree = masterTree(now - 7200)
        const category = yield* createCategory({ topdir: "pub/expire", masterPath: tree.root })
        // No prefix rule knows this category: the repository takes its arch from the path.
        yield* request("POST", "/api/arches", { body: { name: "x86_64" } }) // 201, or 409 when it exists
        yield* expectStatus("POST", `/api/categories/${category.id}/scan`, 202)
        yield* waitForScan(category.id)
        const newer = repomd(now - 60)
        fs.writeFileSync(path.join(tree.root, "9/Everything/x86_64/repodata/repomd.xml.new"), newer)
        fs.renameSync(
          path.join(tree.root, "9/Everything/x86_64/repodata/repomd.xml.new"),
          path.join(tree.root, "9/Everything/x86_64/repodata/repomd.xml")
        )
        const first = (yield* expectStatus("GET", `/api/categories/${category.id}/scan`, 200)).last.startedAt
        yield* expectStatus("POST", `/api/categories/${category.id}/scan`, 202)
        for (let i = 0; i < 200; i++) {
          const status = yield* expectStatus("GET", `/api/categories/${category.id}/scan`, 200)
          if (status.running === null && status.last.startedAt !== first) break
          yield* Effect.sleep("50 millis")
        }
        const repositories = yield* expectStatus("GET", "/api/repositories?pageSize=1000", 200)
        const repository = repositories.items.find((r: any) => r.name === "pub/expire/9/Everything/x86_64")
        const before = yield* expectStatus("GET", `/api/repositories/${repository.id}/file-details`, 200)
        assert.deepStrictEqual(
          before.map((d: any) => d.timestamp),
          [now - 60, now - 7200]
        )

        const user = yield* makeUser()
        const forbidden = yield* request("POST", `/api/repositories/${repository.id}/expire`, { token: user.token })
        assert.strictEqual(forbidden.status, 403)
        assert.deepStrictEqual(yield* expectStatus("POST", `/api/repositories/${repository.id}/expire`, 200), {
          fileDetailsRemoved: 1
        })
        const after = yield* expectStatus("GET", `/api/repositories/${repository.id}/file-details`, 200)
        assert.deepStrictEqual(after, [before[0]])
        assert.deepStrictEqual(yield* expectStatus("POST", `/api/versions/${repository.versionId}/expire`, 200), {
          fileDetailsRemoved: 0
        })
        assert.strictEqual((yield* request("POST", "/api/versions/999999/expire")).status, 404)
      })
  )

  it.effect("only global admins scan; unknown categories and categories without a master path are refused", () =>
    Effect.gen(function* () {
      const user = yield* makeUser()
      const category = yield* createCategory({ masterPath: masterTree(1).root })
      const forbidden = yield* request("POST", `/api/categories/${category.id}/scan`, { token: user.token })
      assert.strictEqual(forbidden.status, 403)
      // Reading is for everyone signed in.
      yield* expectStatus("GET", `/api/categories/${category.id}/scan`, 200, { token: user.token })
      yield* expectStatus("GET", "/api/directories", 200, { token: user.token })

      assert.strictEqual((yield* request("POST", "/api/categories/999999/scan")).status, 404)
      assert.strictEqual((yield* request("GET", "/api/repositories/999999/file-details")).status, 404)
      assert.strictEqual((yield* request("GET", "/api/directories/999999/file-details")).status, 404)
      const bare = yield* createCategory()
      const refused = yield* request("POST", `/api/categories/${bare.id}/scan`)
      assert.strictEqual(refused.status, 422)
      assert.match(problemText(refused.body), /no master path/)
      const badQuery = yield* request("GET", "/api/directories?categoryId=abc")
      assert.strictEqual(badQuery.status, 400)
    })
  )
})
