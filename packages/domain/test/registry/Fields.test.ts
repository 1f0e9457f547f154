import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { Continents, Countries, continentOf, isCountryCode } from "../../src/registry/Countries.ts"
import { Bandwidth, CountryCode, DirectoryPath, Name } from "../../src/registry/Fields.ts"

const decode = <S extends Schema.Top>(schema: S, input: unknown) =>
  Schema.decodeUnknownEffect(schema as any)(input).pipe(Effect.exit)

describe("field schemas", () => {
  it.effect("country codes are upper-cased and checked against ISO 3166", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* decode(CountryCode, "de"), Exit.succeed("DE"))
      assert.isTrue(Exit.isFailure(yield* decode(CountryCode, "ZZ")))
      assert.isTrue(Exit.isFailure(yield* decode(CountryCode, "DEU")))
    })
  )

  it.effect("directory paths lose leading, trailing and doubled slashes; dot segments are refused", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* decode(DirectoryPath, "/pub//epel/9/"), Exit.succeed("pub/epel/9"))
      assert.isTrue(Exit.isFailure(yield* decode(DirectoryPath, "pub/../etc")))
      assert.isTrue(Exit.isFailure(yield* decode(DirectoryPath, "/")))
    })
  )

  it.effect("names and bandwidth have bounds", () =>
    Effect.gen(function* () {
      assert.isTrue(Exit.isFailure(yield* decode(Name, "")))
      assert.isTrue(Exit.isFailure(yield* decode(Name, " padded")))
      assert.isTrue(Exit.isFailure(yield* decode(Name, "tab\there")))
      assert.isTrue(Exit.isFailure(yield* decode(Bandwidth, 0)))
      assert.deepStrictEqual(yield* decode(Bandwidth, 10_000), Exit.succeed(10_000))
    })
  )
})

describe("country table", () => {
  it("has every ISO 3166-1 alpha-2 code plus XK, each on a known continent", () => {
    assert.strictEqual(Countries.length, 250)
    assert.strictEqual(new Set(Countries.map((c) => c.code)).size, 250)
    for (const country of Countries) assert.include(Continents, country.continent)
    assert.isTrue(isCountryCode("XK"))
  })

  it("places countries as GeoLite2 does", () => {
    assert.strictEqual(continentOf("DE"), "EU")
    assert.strictEqual(continentOf("RU"), "EU")
    assert.strictEqual(continentOf("TR"), "AS")
    assert.strictEqual(continentOf("EG"), "AF")
    assert.strictEqual(continentOf("PA"), "NA")
    assert.strictEqual(continentOf("AQ"), "AN")
    assert.strictEqual(continentOf("ZZ"), undefined)
  })
})
