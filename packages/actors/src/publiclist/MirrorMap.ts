// The public mirrors per country, for the map page (docs/pages.md#the-map). Public: the host and its site are not
// private and are active (admin and user), and the host is up to date on something (an always-up-to-date category,
// or at least one up-to-date directory in its bitset, as selection and the mirror list read it). Embargoed countries are left out (SPEC §9.5).
import { countryName } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

export interface CountryMirrors {
  /** ISO 3166-1 alpha-2. */
  readonly code: string
  /** Its short English name (the code when the table does not know it). */
  readonly name: string
  readonly mirrors: number
}

export interface MirrorsByCountry {
  /** Countries with at least one public mirror, most mirrors first, then by name. */
  readonly countries: ReadonlyArray<CountryMirrors>
  /** The public mirrors of those countries. */
  readonly total: number
  /** Embargoed countries that have public mirrors: left out of `countries` and `total`. */
  readonly embargoedSkipped: number
}

export class MirrorMap extends Context.Service<
  MirrorMap,
  {
    /** The public mirrors of each country that has any, embargoed countries left out. */
    readonly countries: () => Effect.Effect<MirrorsByCountry, SqlError.SqlError>
  }
>()("actors/MirrorMap") {
  static readonly layer = Layer.effect(
    MirrorMap,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      return MirrorMap.of({
        countries: Effect.fn("MirrorMap.countries")(function* () {
          const rows = yield* sql<{ readonly country: string; readonly mirrors: number; readonly embargoed: boolean }>`
            SELECT h.country, count(*)::int AS mirrors,
                   EXISTS (SELECT 1 FROM embargoed_countries e WHERE e.country = h.country) AS embargoed
            FROM hosts h JOIN sites s ON s.id = h.site_id
            WHERE NOT h.private AND h.admin_active AND h.user_active
              AND NOT s.private AND s.admin_active AND s.user_active
              AND EXISTS (
                SELECT 1 FROM host_categories hc
                WHERE hc.host_id = h.id AND (
                  hc.always_up2date
                  OR EXISTS (SELECT 1 FROM host_category_up2date b
                             WHERE b.host_category_id = hc.id AND bit_count(b.bits) > 0)))
            GROUP BY h.country`
          const countries = rows
            .filter((row) => !row.embargoed)
            .map((row) => {
              const code = row.country.trim()
              return { code, name: countryName(code) ?? code, mirrors: row.mirrors }
            })
            .sort((a, b) => b.mirrors - a.mirrors || a.name.localeCompare(b.name, "en"))
          return {
            countries,
            total: countries.reduce((sum, country) => sum + country.mirrors, 0),
            embargoedSkipped: rows.filter((row) => row.embargoed).length
          }
        })
      })
    })
  )
}
