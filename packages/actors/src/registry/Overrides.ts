// Global override tables: netblock countries, country-to-continent redirects, embargoed countries.

import type {
  CountryContinentRedirect,
  CreateCountryContinentRedirect,
  CreateNetblockCountry,
  EmbargoedCountry,
  NetblockCountry
} from "@mirrormanager/domain/registry"
import { parseNetblock, Unprocessable } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { makeTable } from "../db/index.ts"
import { type AdminCrud, adminCrud, type Patch } from "./AdminCrud.ts"

export class Overrides extends Context.Service<
  Overrides,
  {
    readonly netblockCountries: AdminCrud<NetblockCountry, CreateNetblockCountry, Patch<CreateNetblockCountry>>
    readonly countryContinentRedirects: AdminCrud<
      CountryContinentRedirect,
      CreateCountryContinentRedirect,
      Patch<CreateCountryContinentRedirect>
    >
    readonly embargoedCountries: AdminCrud<
      EmbargoedCountry,
      { readonly country: string },
      Patch<{ readonly country: string }>
    >
  }
>()("actors/Overrides") {
  static readonly layer = Layer.effect(
    Overrides,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const netblockCountries = yield* makeTable<NetblockCountry>({
        table: "netblock_countries",
        resource: "netblock country",
        select: { id: "t.id", netblock: "t.netblock", country: "t.country" },
        columns: { netblock: "netblock", country: "country" },
        unique: { netblock_countries_netblock_key: "this netblock already has a country" }
      })
      const continentRedirects = yield* makeTable<CountryContinentRedirect>({
        table: "country_continent_redirects",
        resource: "country continent redirect",
        select: { id: "t.id", country: "t.country", continent: "t.continent" },
        columns: { country: "country", continent: "continent" },
        unique: { country_continent_redirects_country_key: "this country already has a continent redirect" }
      })
      const embargoed = yield* makeTable<EmbargoedCountry>({
        table: "embargoed_countries",
        resource: "embargoed country",
        select: { id: "t.id", country: "t.country" },
        columns: { country: "country" },
        unique: { embargoed_countries_country_key: "this country is already embargoed" }
      })

      const netblockRow = <I extends { readonly netblock?: string | undefined }>(input: I) => {
        if (input.netblock === undefined) return Effect.succeed({ ...input })
        const parsed = parseNetblock(input.netblock)
        if (!parsed.ok) return Effect.fail(new Unprocessable({ detail: parsed.error }))
        if (parsed.value.kind === "dns") {
          return Effect.fail(new Unprocessable({ detail: "a netblock country needs a CIDR, not a DNS name" }))
        }
        return Effect.succeed({ ...input, netblock: parsed.value.normalized })
      }

      return Overrides.of({
        netblockCountries: adminCrud(sql, netblockCountries, {
          plural: "netblock countries",
          createRow: netblockRow,
          updateRow: (_id, input) => netblockRow(input)
        }),
        countryContinentRedirects: adminCrud(sql, continentRedirects, { plural: "country continent redirects" }),
        embargoedCountries: adminCrud(sql, embargoed, { plural: "embargoed countries" })
      })
    })
  )
}
