import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { defaultAsnFiles, NetworkData } from "../../src/ipdata/NetworkData.ts"
import { address, eventually, tempDir } from "../support/IpTest.ts"

/** The first row of a package CSV: `start,end,asn,...`. */
const firstRow = (file: string) => {
  const [start, end, asn] = fs.readFileSync(file, "utf8").slice(0, 500).split("\n")[0]!.split(",")
  return { start: start!, end: end!, asn: Number(asn) }
}

layer(NetworkData.layer(), { excludeTestServices: true, timeout: "60 seconds" })(
  "NetworkData with the @ip-location-db/asn CSVs",
  (it) => {
    it.effect("answers the ASN of the first IPv4 and IPv6 rows of the package", () =>
      Effect.gen(function* () {
        const network = yield* NetworkData
        const [v4File, v6File] = defaultAsnFiles()
        const v4 = firstRow(v4File!)
        const v6 = firstRow(v6File!)
        assert.strictEqual(network.asn(address(v4.start)), v4.asn)
        assert.strictEqual(network.asn(address(v4.end)), v4.asn)
        assert.strictEqual(network.asn(address(v6.start)), v6.asn)
        assert.strictEqual(network.asn(address(v6.end)), v6.asn)
        assert.strictEqual(network.asn(address("10.0.0.1")), undefined, "private space has no ASN")
        assert.isFalse(network.isResearchNetwork(address(v4.start)), "no R&E list configured")
        const { asn, researchNetworks } = network.describe()
        assert.strictEqual(asn.format, "ranges")
        assert.deepStrictEqual(asn.files, [v4File, v6File])
        assert.isAbove(asn.entries, 400_000)
        assert.isAbove(asn.ranges.v6, 50_000)
        assert.strictEqual(researchNetworks, undefined)
      })
    )
  }
)

describe("NetworkData with operator files", () => {
  it.live("reads a prefix→ASN file and an R&E list, and reloads each when it changes", () => {
    const dir = tempDir("network")
    const asnFile = path.join(dir, "global_netblocks.txt")
    const researchFile = path.join(dir, "i2_netblocks.txt")
    fs.writeFileSync(
      asnFile,
      [
        "# prefix asn",
        "134.108.0.0/16 553",
        "134.108.64.0/18 64500",
        "0.0.0.0/0 3356",
        "2001:638::/32 680",
        "192.0.2.0/24 0",
        "not a line",
        ""
      ].join("\n")
    )
    fs.writeFileSync(researchFile, "128.59.0.0/16 14\n2001:468::/32 11537\n")
    return Effect.gen(function* () {
      const network = yield* NetworkData
      assert.strictEqual(network.asn(address("134.108.1.1")), 553)
      assert.strictEqual(network.asn(address("134.108.65.1")), 64500)
      assert.strictEqual(network.asn(address("::ffff:134.108.65.1")), 64500)
      assert.strictEqual(network.asn(address("2001:638:700::1")), 680)
      assert.strictEqual(network.asn(address("8.8.8.8")), undefined, "/0 is ignored")
      assert.strictEqual(network.asn(address("192.0.2.1")), undefined, "AS 0 is no ASN")
      assert.isTrue(network.isResearchNetwork(address("128.59.1.1")))
      assert.isTrue(network.isResearchNetwork(address("2001:468:1::1")))
      assert.isFalse(network.isResearchNetwork(address("134.108.1.1")))
      const described = network.describe()
      assert.deepInclude(described.asn, { files: [asnFile], format: "prefixes", entries: 4, problems: 1 })
      assert.deepInclude(described.researchNetworks, { files: [researchFile], entries: 2, problems: 0 })

      fs.writeFileSync(asnFile, "134.108.0.0/16 64496\n")
      assert.isTrue(yield* eventually(() => network.asn(address("134.108.65.1")) === 64496))
      assert.strictEqual(network.asn(address("2001:638:700::1")), undefined)
      assert.isTrue(network.isResearchNetwork(address("128.59.1.1")), "the R&E list is untouched")

      fs.writeFileSync(researchFile, "# moved\n134.108.0.0/16 553\n")
      assert.isTrue(yield* eventually(() => network.isResearchNetwork(address("134.108.1.1"))))
      assert.isFalse(network.isResearchNetwork(address("128.59.1.1")))

      // A file with no usable line is a failed reload: the previous table stays.
      fs.writeFileSync(asnFile, "garbage\nmore garbage\n")
      yield* Effect.sleep("600 millis")
      assert.strictEqual(network.asn(address("134.108.65.1")), 64496)
    }).pipe(
      Effect.provide(NetworkData.layer({ asnFile, researchNetworksFile: researchFile, watchInterval: "100 millis" })),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true })))
    )
  })

  it.live("reads CSV files given by the operator (IPv4 and IPv6 files together)", () => {
    const dir = tempDir("network")
    const v4 = path.join(dir, "asn-ipv4.csv")
    const v6 = path.join(dir, "asn-ipv6-num.csv")
    fs.writeFileSync(v4, '1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."\n')
    fs.writeFileSync(v6, "42540766411282592856903984951653826560,42540766490510755371168322545197776895,64501,Doc\n")
    return Effect.gen(function* () {
      const network = yield* NetworkData
      assert.strictEqual(network.asn(address("1.0.0.1")), 13335)
      assert.strictEqual(network.asn(address("2001:db8::1")), 64501)
      assert.strictEqual(network.asn(address("2001:db9::1")), undefined)
    }).pipe(
      Effect.provide(NetworkData.layer({ asnFile: [v4, v6] })),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true })))
    )
  })

  it.live("fails clearly at start on a missing file or one without a usable line", () =>
    Effect.gen(function* () {
      const dir = tempDir("network")
      const build = (layer: Layer.Layer<NetworkData, unknown>) => Effect.exit(Effect.scoped(Layer.build(layer)))
      const failure = (exit: Exit.Exit<unknown, unknown>) => (Exit.isFailure(exit) ? String(exit.cause) : "no failure")

      const missing = path.join(dir, "missing.txt")
      assert.match(
        failure(yield* build(NetworkData.layer({ asnFile: missing }))),
        /cannot read ASN data from .*missing\.txt: ENOENT/
      )
      const bad = path.join(dir, "bad.txt")
      fs.writeFileSync(bad, "10.0.0.0/8\n")
      assert.match(
        failure(yield* build(NetworkData.layer({ asnFile: bad }))),
        /bad\.txt holds no usable ASN data \(1 unusable lines; .*bad\.txt:1: expected/
      )
      const asnFile = path.join(dir, "asn.txt")
      fs.writeFileSync(asnFile, "10.0.0.0/8 64500\n")
      assert.match(
        failure(yield* build(NetworkData.layer({ asnFile, researchNetworksFile: missing }))),
        /cannot read R&E networks from .*missing\.txt/
      )
      fs.rmSync(dir, { recursive: true })
    })
  )
})
