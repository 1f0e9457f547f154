// The Redirector's decision of a request: what it answers and why, keyed for kept answers before any selection runs,
// and each Redirector deciding from its own index (two in one process share nothing).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { GeoIp } from "../../src/ipdata/GeoIp.ts"
import { NetworkData } from "../../src/ipdata/NetworkData.ts"
import type { Decision } from "../../src/redirector/Decision.ts"
import type { IndexSource } from "../../src/redirector/IndexSource.ts"
import { defaultRedirectorSettings, Redirector } from "../../src/redirector/Redirector.ts"
import { seededRandom } from "../../src/redirector/Selection.ts"
import { indexHost } from "../../src/testing/index.ts"

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mm-decision-"))
const asnFile = path.join(dataDir, "asn.txt")
fs.writeFileSync(asnFile, "192.0.2.0/24 64500\n")
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

const D = "pub/epel/9/x86_64"

const host = (id: number, country: string, netblocks: ReadonlyArray<string> = []) =>
  indexHost(id, `h${id}`, country, [`https://h${id}.example.org/epel`], { netblocks, dirs: [2, 3] })

const rows = (prefix: string): IndexSource => ({
  hosts: [host(1, "DE"), host(2, "US"), host(3, "SE", ["10.9.0.0/16"])],
  categories: [{ id: 1, name: "Fedora EPEL", topdir: "pub/epel" }],
  directories: [
    { id: 1, name: "pub/epel", categories: [{ categoryId: 1, ordinal: 1 }], fileDetails: [] },
    { id: 2, name: D, categories: [{ categoryId: 1, ordinal: 2 }], fileDetails: [] },
    {
      id: 3,
      name: `${D}/repodata`,
      categories: [{ categoryId: 1, ordinal: 3 }],
      fileDetails: [
        {
          filename: "repomd.xml",
          timestamp: 1_700_000_000,
          size: 42,
          md5: null,
          sha1: null,
          sha256: "ab".repeat(32),
          sha512: null
        }
      ]
    }
  ],
  repositories: [{ prefix, arch: "x86_64", directoryId: 2, disabled: false }],
  redirects: [],
  overrides: { netblockCountries: [], continentRedirects: [] }
})

const redirectorLayer = Redirector.layer(defaultRedirectorSettings, { random: () => seededRandom([1, 2, 3, 4]) }).pipe(
  Layer.provide([GeoIp.layer, NetworkData.layer({ asnFile, watchInterval: "1 hour" })])
)

/** Another Redirector of its own, as a second node in the same process would have. */
const another = Effect.service(Redirector).pipe(Effect.provide(Layer.fresh(redirectorLayer)))

const request = (path: string, query: string, peer = "192.0.2.10") => ({ path, query, peer, forwardedFor: undefined })

const selecting = (decision: Decision) => {
  assert.strictEqual(decision.kind, "selecting")
  return decision as Extract<Decision, { kind: "selecting" }>
}

layer(redirectorLayer, { excludeTestServices: true })("the Redirector's decision", (it) => {
  it.effect("without an index: starting, with what the access log says of the request", () =>
    Effect.gen(function* () {
      const redirector = yield* another
      const decision = redirector.decide(request("/metalink", "repo=epel-9&arch=x86_64&countme=1"))
      assert.deepStrictEqual(decision, {
        kind: "starting",
        endpoint: "metalink",
        access: { repo: "epel-9", arch: "x86_64", path: undefined, countme: "1", client: undefined, country: undefined }
      })
    })
  )

  it.effect("an answer with mirrors: its form and key come before the shuffle, which selects from the index", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      redirector.replaceIndex(rows("epel-9"), { origin: "database", builtAt: 1_730_000_000_000 })
      const list = selecting(redirector.decide(request("/mirrorlist", "repo=epel-9&arch=x86_64&country=de,zz")))
      assert.deepStrictEqual(list.form, {
        kind: "mirrorlist",
        subject: "repo = epel-9 arch = x86_64 ",
        protocols: undefined,
        databaseTime: undefined,
        notes: ["country = ZZ ignored: not a country code"],
        subpath: "9/x86_64",
        tail: "/"
      })
      assert.isDefined(list.key)
      const { selection, empty } = list.select(seededRandom([1, 2, 3, 4]))
      assert.deepStrictEqual(
        selection.hosts.map((h) => h.host.name),
        ["h1"]
      )
      assert.isUndefined(empty)

      // Clients of one class share the key; a client inside a mirror's netblock has a class of its own.
      const key = (peer: string) =>
        selecting(redirector.decide(request("/mirrorlist", "repo=epel-9&arch=x86_64", peer))).key
      assert.deepStrictEqual(key("192.0.2.10")!.client, key("192.0.2.11")!.client)
      assert.notStrictEqual(key("192.0.2.10")!.client, key("10.9.1.1")!.client)
      assert.strictEqual(key("10.9.1.1")!.request, key("192.0.2.10")!.request)

      const redirect = selecting(redirector.decide(request(`/download/${D}/repodata/repomd.xml`, "")))
      assert.deepStrictEqual(redirect.form, {
        kind: "redirect",
        path: "/9/x86_64/repodata/repomd.xml",
        sha256: "ab".repeat(32)
      })
    })
  )

  it.effect("a request that cannot be answered with mirrors: refused, with its status and reason", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      redirector.replaceIndex(rows("epel-9"), { origin: "database", builtAt: 1_730_000_000_000 })
      const decision = redirector.decide(request("/mirrorlist", "repo=nowhere&arch=x86_64"))
      assert.strictEqual(decision.kind, "refused")
      if (decision.kind !== "refused") return
      assert.strictEqual(decision.status, 404)
      assert.isTrue(decision.message.startsWith("# repo = nowhere arch = x86_64 error: invalid repo or arch\n"))
      assert.strictEqual(decision.access.client, "192.0.2.10")
    })
  )

  it.effect("two Redirectors in one process decide from their own index, whatever the other has worked out", () =>
    Effect.gen(function* () {
      const first = yield* Redirector
      const second = yield* another
      first.replaceIndex(rows("epel-9"), { origin: "database", builtAt: 1_730_000_000_000 })
      second.replaceIndex(rows("epel-10"), { origin: "database", builtAt: 1_730_000_000_000 })
      for (let i = 0; i < 3; i++) {
        assert.strictEqual(first.decide(request("/mirrorlist", "repo=epel-9&arch=x86_64")).kind, "selecting")
        assert.strictEqual(second.decide(request("/mirrorlist", "repo=epel-9&arch=x86_64")).kind, "refused")
        assert.strictEqual(second.decide(request("/mirrorlist", "repo=epel-10&arch=x86_64")).kind, "selecting")
        assert.strictEqual(first.decide(request("/mirrorlist", "repo=epel-10&arch=x86_64")).kind, "refused")
      }
    })
  )
})
