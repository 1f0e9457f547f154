import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { Reader, type Response } from "maxmind"
import { GeoIp } from "../../src/ipdata/GeoIp.ts"
import { pseudoRandom } from "../../src/testing/index.ts"
import { address, eventually, tempDir } from "../support/IpTest.ts"
import { geoLite2Country, writeMmdb } from "../support/MmdbWriter.ts"

layer(GeoIp.layer, { excludeTestServices: true })("GeoIp with the @ip-location-db package", (it) => {
  it.effect("answers the countries of known addresses", () =>
    Effect.gen(function* () {
      const geoIp = yield* GeoIp
      assert.strictEqual(geoIp.country(address("89.160.20.113")), "SE")
      assert.strictEqual(geoIp.country(address("1.1.1.1")), "AU")
      assert.strictEqual(geoIp.country(address("2001:4860:4860::8888")), "US")
      assert.strictEqual(geoIp.country(address("::ffff:89.160.20.113")), "SE")
      assert.strictEqual(geoIp.country(address("10.0.0.1")), undefined)
      const database = geoIp.describe()
      assert.match(database.path, /geo-whois-asn-country-mmdb\/geo-whois-asn-country\.mmdb$/)
      assert.strictEqual(database.databaseType, "country ipvAll")
      assert.strictEqual(database.ipVersion, 6)
      assert.isAbove(database.buildEpoch, 1_700_000_000)
    })
  )
})

describe("GeoIp with databases built by the test", () => {
  it.live("reads GeoLite2 records: country.iso_code, else registered_country.iso_code", () => {
    const dir = tempDir("geoip")
    const file = path.join(dir, "GeoLite2-Country.mmdb")
    fs.writeFileSync(
      file,
      writeMmdb(
        [
          { network: "89.160.0.0/16", record: geoLite2Country("SE", "EU") },
          { network: "89.160.20.0/24", record: geoLite2Country("NO", "EU") },
          { network: "2001:db8::/32", record: geoLite2Country("DE", "EU") },
          // Satellite or anonymous networks have no country, only the registered one.
          { network: "198.51.100.0/24", record: { registered_country: { iso_code: "NL" }, traits: { x: true } } },
          { network: "203.0.113.0/24", record: { continent: { code: "OC" } } }
        ],
        { ipVersion: 6, recordSize: 24, databaseType: "GeoLite2-Country", buildEpoch: 1_718_000_000 }
      )
    )
    return Effect.gen(function* () {
      const geoIp = yield* GeoIp
      assert.strictEqual(geoIp.country(address("89.160.20.113")), "NO")
      assert.strictEqual(geoIp.country(address("89.160.21.1")), "SE")
      assert.strictEqual(geoIp.country(address("2001:db8:1::1")), "DE")
      assert.strictEqual(geoIp.country(address("198.51.100.7")), "NL")
      assert.strictEqual(geoIp.country(address("203.0.113.1")), undefined)
      assert.strictEqual(geoIp.country(address("192.0.2.1")), undefined)
      assert.deepInclude(geoIp.describe(), {
        path: file,
        databaseType: "GeoLite2-Country",
        buildEpoch: 1_718_000_000,
        ipVersion: 6
      })
    }).pipe(
      Effect.provide(GeoIp.layerFile(file)),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true })))
    )
  })

  it.live("reads flat country_code records from an IPv4-only database (28-bit records)", () => {
    const dir = tempDir("geoip")
    const file = path.join(dir, "flat.mmdb")
    fs.writeFileSync(
      file,
      writeMmdb(
        [
          { network: "192.0.2.0/24", record: { country_code: "jp" } },
          { network: "192.0.2.128/25", record: { country_code: "KR" } },
          { network: "198.51.100.0/24", record: { country_code: "Germany" } }
        ],
        { ipVersion: 4, recordSize: 28, databaseType: "flat-country" }
      )
    )
    return Effect.gen(function* () {
      const geoIp = yield* GeoIp
      assert.strictEqual(geoIp.country(address("192.0.2.1")), "JP", "upper-cased")
      assert.strictEqual(geoIp.country(address("192.0.2.200")), "KR")
      assert.strictEqual(geoIp.country(address("198.51.100.1")), undefined, "not an ISO code")
      // The reader would walk an IPv4 tree with IPv6 bits and answer something: it must answer nothing.
      assert.strictEqual(geoIp.country(address("c000:0200::1")), undefined)
      assert.strictEqual(geoIp.describe().ipVersion, 4)
    }).pipe(
      Effect.provide(GeoIp.layerFile(file)),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true })))
    )
  })

  it.live("reloads when the file changes, and keeps the old database when the new one is broken", () => {
    const dir = tempDir("geoip")
    const file = path.join(dir, "country.mmdb")
    const database = (country: string) =>
      writeMmdb([{ network: "192.0.2.0/24", record: geoLite2Country(country, "EU") }], {
        ipVersion: 6,
        recordSize: 24,
        databaseType: "GeoLite2-Country"
      })
    fs.writeFileSync(file, database("SE"))
    const client = address("192.0.2.10")
    return Effect.gen(function* () {
      const geoIp = yield* GeoIp
      assert.strictEqual(geoIp.country(client), "SE")

      fs.writeFileSync(file, database("FI"))
      assert.isTrue(yield* eventually(() => geoIp.country(client) === "FI"), "the new database is used")

      // Not a MaxMind DB: the reload fails and the last good database stays.
      fs.writeFileSync(file, "this is not a MaxMind database")
      yield* Effect.sleep("600 millis")
      assert.strictEqual(geoIp.country(client), "FI")
      fs.rmSync(file)
      yield* Effect.sleep("300 millis")
      assert.strictEqual(geoIp.country(client), "FI")

      // Replaced by rename, as a download script would.
      fs.writeFileSync(`${file}.tmp`, database("EE"))
      fs.renameSync(`${file}.tmp`, file)
      assert.isTrue(yield* eventually(() => geoIp.country(client) === "EE"), "the file that came back is used")

      fs.writeFileSync(file, database("LV"))
      const reloaded = yield* geoIp.reload()
      assert.strictEqual(reloaded.path, file)
      assert.strictEqual(geoIp.country(client), "LV")
    }).pipe(
      Effect.provide(GeoIp.layerFile(file, { watchInterval: "100 millis" })),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true })))
    )
  })

  it.live("fails clearly at start on a missing, corrupt or compressed file", () =>
    Effect.gen(function* () {
      const dir = tempDir("geoip")
      const build = (file: string) => Effect.exit(Effect.scoped(Layer.build(GeoIp.layerFile(file))))
      const failure = (exit: Exit.Exit<unknown, { readonly message: string }>) =>
        Exit.isFailure(exit) ? String(exit.cause) : "no failure"

      const missing = path.join(dir, "missing.mmdb")
      assert.match(
        failure(yield* build(missing)),
        /cannot use .*missing\.mmdb as a GeoIP \(MaxMind DB\) database: ENOENT/
      )

      const corrupt = path.join(dir, "corrupt.mmdb")
      fs.writeFileSync(corrupt, Buffer.alloc(4096, 7))
      assert.match(failure(yield* build(corrupt)), /corrupt\.mmdb as a GeoIP \(MaxMind DB\) database/)

      const truncated = path.join(dir, "truncated.mmdb")
      const whole = writeMmdb([{ network: "192.0.2.0/24", record: { country_code: "SE" } }], {
        ipVersion: 6,
        recordSize: 24,
        databaseType: "x"
      })
      fs.writeFileSync(truncated, whole.subarray(0, 200))
      assert.match(failure(yield* build(truncated)), /truncated\.mmdb as a GeoIP/)

      const gzipped = path.join(dir, "country.mmdb.gz")
      fs.writeFileSync(gzipped, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]))
      assert.match(failure(yield* build(gzipped)), /gzip-compressed/)
      fs.rmSync(dir, { recursive: true })
    })
  )
})

// The node walks the search tree itself (with the address bytes it already has) and asks the reader only for
// records it has not met: every answer must be the reader's.
describe("GeoIp's own tree walk", () => {
  const randomAddress = (next: () => number, family: 4 | 6) =>
    family === 4
      ? Array.from({ length: 4 }, () => Math.floor(next() * 256)).join(".")
      : Array.from({ length: 8 }, (_, i) =>
          i < 2
            ? ["2001", "2a02", "2600", "2400"][i === 0 ? Math.floor(next() * 4) : 0]!
            : Math.floor(next() * 65536).toString(16)
        ).join(":")
  const agrees = (file: string, expected: (text: string) => string | undefined, families: ReadonlyArray<4 | 6>) =>
    Effect.gen(function* () {
      const geoIp = yield* GeoIp
      const next = pseudoRandom(2026)
      let answered = 0
      for (let i = 0; i < 4000; i++) {
        const text = randomAddress(next, families[i % families.length]!)
        // Twice: the second answer comes from the country kept for the record.
        for (let pass = 0; pass < 2; pass++) assert.strictEqual(geoIp.country(address(text)), expected(text), text)
        if (expected(text) !== undefined) answered++
      }
      assert.isAbove(answered, 100, "the addresses hit records")
    }).pipe(Effect.provide(GeoIp.layerFile(file)))

  it.live("agrees with the maxmind reader on the installed database", () => {
    const file = createRequire(import.meta.url).resolve(
      "@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb"
    )
    const reader = new Reader<Response>(fs.readFileSync(file))
    const expected = (text: string) => {
      const code = (reader.get(text) as { country_code?: string } | null)?.country_code
      return code === undefined ? undefined : code.toUpperCase()
    }
    return agrees(file, expected, [4, 6])
  })

  for (const recordSize of [24, 28, 32] as const) {
    for (const ipVersion of [4, 6] as const) {
      it.live(`agrees with the maxmind reader on ${recordSize}-bit records, IPv${ipVersion} tree`, () => {
        const next = pseudoRandom(recordSize * 10 + ipVersion)
        const countries = ["SE", "NO", "DE", "FR", "JP", "BR", "US", "AU"]
        const entries = Array.from({ length: 600 }, (_, i) => {
          const v6 = ipVersion === 6 && i % 3 === 0
          const prefix = v6 ? 16 + Math.floor(next() * 40) : 8 + Math.floor(next() * 20)
          return {
            network: `${randomAddress(next, v6 ? 6 : 4)}/${prefix}`,
            record: geoLite2Country(countries[i % countries.length]!, "EU")
          }
        })
        const dir = tempDir("geoip-walk")
        const file = path.join(dir, "walk.mmdb")
        fs.writeFileSync(file, writeMmdb(entries, { ipVersion, recordSize, databaseType: "GeoLite2-Country" }))
        const reader = new Reader<Response>(fs.readFileSync(file))
        const expected = (text: string) => {
          if (ipVersion === 4 && text.includes(":")) return undefined
          return (reader.get(text) as { country?: { iso_code?: string } } | null)?.country?.iso_code
        }
        return agrees(file, expected, ipVersion === 4 ? [4] : [4, 6]).pipe(
          Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true })))
        )
      })
    }
  }
})
