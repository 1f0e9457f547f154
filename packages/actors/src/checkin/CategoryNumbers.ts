// Every category's directory numbers as check-ins need them (docs/checkin.md#decoding), kept per node and asked of
// the database again only for a category whose `directories_version` moved (migration 0009): a check-in costs one
// small query here, and a master scan that changed a category one reload of that category.
import type { CategoryId } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer, Semaphore } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { sliced } from "../db/index.ts"
import { directoryNumbersSteps, type NumberedCategory } from "../numbering/index.ts"

export class CategoryNumbers extends Context.Service<
  CategoryNumbers,
  {
    /**
     * Every category's numbers as of now; the same array as the call before while no category changed (a decoding
     * thread that has it is sent nothing new).
     */
    readonly current: Effect.Effect<ReadonlyArray<NumberedCategory>, SqlError.SqlError>
  }
>()("actors/CategoryNumbers") {
  static readonly layer = Layer.effect(
    CategoryNumbers,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // One reload at a time: check-ins arriving together after a change wait for the same one.
      const lock = yield* Semaphore.make(1)
      let kept: ReadonlyArray<NumberedCategory> = []

      /** A category's directories below its top, by path ("" is the top), as check-ins name them. */
      const load = (categoryId: CategoryId, topdir: string) =>
        Effect.flatMap(
          sql<{ readonly path: string; readonly ordinal: number }>`SELECT
              CASE WHEN d.name = ${topdir} THEN '' ELSE substr(d.name, length(${topdir}) + 2) END AS path, cd.ordinal
            FROM category_directories cd JOIN directories d ON d.id = cd.directory_id
            WHERE cd.category_id = ${categoryId} AND (d.name = ${topdir} OR starts_with(d.name, ${`${topdir}/`}))`,
          // Built in slices: it comes with the first check-in after a master scan, while requests are answered.
          (rows) =>
            sliced(
              directoryNumbersSteps(
                rows.map((row) => row.path),
                rows.map((row) => row.ordinal)
              )
            )
        )

      const current = Effect.fn("CategoryNumbers.current")(function* () {
        const categories = yield* sql<{
          readonly categoryId: CategoryId
          readonly name: string
          readonly topdir: string
          readonly version: string
        }>`SELECT c.id AS "categoryId", c.name, d.name AS topdir,
            c.directories_version::text || ':' || d.name AS version
          FROM categories c JOIN directories d ON d.id = c.topdir_id ORDER BY c.id`
        const same =
          categories.length === kept.length &&
          categories.every(
            (c, i) =>
              kept[i]!.categoryId === c.categoryId &&
              kept[i]!.version === c.version &&
              kept[i]!.key === c.name.toLowerCase()
          )
        if (same) return kept
        const byId = new Map(kept.map((each) => [each.categoryId, each]))
        const next: Array<NumberedCategory> = []
        for (const c of categories) {
          const before = byId.get(c.categoryId)
          const numbers =
            before !== undefined && before.version === c.version ? before.numbers : yield* load(c.categoryId, c.topdir)
          next.push({ categoryId: c.categoryId, key: c.name.toLowerCase(), version: c.version, numbers })
        }
        kept = next
        return kept
      })

      return CategoryNumbers.of({ current: lock.withPermits(1)(current()) })
    })
  )
}
