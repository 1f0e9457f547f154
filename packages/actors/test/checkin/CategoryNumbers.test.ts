// Every category's directory numbers, kept per node (docs/checkin.md#decoding): what the database numbers each
// directory below the category's top, the same tables while nothing changed, and a reload of only the category
// whose directories changed.
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import { CategoryNumbers } from "../../src/checkin/CategoryNumbers.ts"
import { DirectoryNumbering } from "../../src/numbering/DirectoryNumbers.ts"
import { freshDatabaseLayer } from "../../src/testing/index.ts"
import { hostCarrying } from "../support/HostRows.ts"

const TestLayer = CategoryNumbers.layer.pipe(Layer.provideMerge(freshDatabaseLayer(inject("databaseUrl"))))

layer(TestLayer)("CategoryNumbers", (it) => {
  it.effect("numbers each directory below the top; a change reloads its category only", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const numbers = yield* CategoryNumbers
      const directory = (name: string) =>
        Effect.map(
          sql<{ id: number }>`INSERT INTO directories (name) VALUES (${name}) RETURNING id`,
          (rows) => rows[0]!.id
        )
      const ordinalOf = (categoryKey: string, name: string) =>
        Effect.map(
          sql<{ ordinal: number }>`SELECT cd.ordinal FROM category_directories cd
            JOIN categories c ON c.id = cd.category_id JOIN directories d ON d.id = cd.directory_id
            WHERE lower(c.name) = ${categoryKey} AND d.name = ${name}`,
          (rows) => rows[0]!.ordinal
        )
      const alphaTop = yield* directory("pub/alpha")
      const alphaNine = yield* directory("pub/alpha/9")
      // Linked to the category, but not below its top: no check-in path names it.
      const elsewhere = yield* directory("pub/elsewhere")
      yield* hostCarrying(1, alphaTop, [alphaNine, elsewhere])
      const betaTop = yield* directory("pub/beta")
      yield* hostCarrying(2, betaTop, [])

      const first = yield* numbers.current
      assert.deepStrictEqual(
        first.map((c) => c.key),
        ["c1", "c2"]
      )
      const alpha = new DirectoryNumbering(first[0]!.numbers)
      assert.strictEqual(alpha.numberOf(""), yield* ordinalOf("c1", "pub/alpha"))
      assert.strictEqual(alpha.numberOf("9"), yield* ordinalOf("c1", "pub/alpha/9"))
      assert.strictEqual(alpha.numberOf("../elsewhere"), -1)
      assert.strictEqual(alpha.numberOf("pub/elsewhere"), -1)
      assert.strictEqual(new DirectoryNumbering(first[1]!.numbers).numberOf(""), yield* ordinalOf("c2", "pub/beta"))

      // Nothing changed: the same tables, so a decoding thread that has them is sent nothing.
      assert.strictEqual(yield* numbers.current, first)

      const [beta] = yield* sql<{ id: number }>`SELECT id FROM categories WHERE name = 'c2'`
      const betaX = yield* directory("pub/beta/x")
      yield* sql`INSERT INTO category_directories (category_id, directory_id) VALUES (${beta!.id}, ${betaX})`
      const second = yield* numbers.current
      assert.notStrictEqual(second, first)
      assert.strictEqual(second[0]!.numbers, first[0]!.numbers)
      assert.notStrictEqual(second[1]!.numbers, first[1]!.numbers)
      assert.strictEqual(new DirectoryNumbering(second[1]!.numbers).numberOf("x"), yield* ordinalOf("c2", "pub/beta/x"))
    })
  )
})
