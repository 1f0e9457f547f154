// Handlers of the global override tables.
import { Overrides } from "@mirrormanager/actors/registry"
import { Api } from "@mirrormanager/domain/api"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { crudHandlers } from "./CrudHandlers.ts"

export const OverridesHandlers = HttpApiBuilder.group(
  Api,
  "overrides",
  Effect.fn(function* (handlers) {
    const overrides = yield* Overrides
    const netblockCountries = crudHandlers(overrides.netblockCountries)
    const continentRedirects = crudHandlers(overrides.countryContinentRedirects)
    const embargoed = crudHandlers(overrides.embargoedCountries)
    return handlers
      .handle("listNetblockCountry", netblockCountries.list)
      .handle("createNetblockCountry", netblockCountries.create)
      .handle("getNetblockCountry", netblockCountries.get)
      .handle("updateNetblockCountry", netblockCountries.update)
      .handle("deleteNetblockCountry", netblockCountries.remove)
      .handle("listCountryContinentRedirect", continentRedirects.list)
      .handle("createCountryContinentRedirect", continentRedirects.create)
      .handle("getCountryContinentRedirect", continentRedirects.get)
      .handle("updateCountryContinentRedirect", continentRedirects.update)
      .handle("deleteCountryContinentRedirect", continentRedirects.remove)
      .handle("listEmbargoedCountry", embargoed.list)
      .handle("createEmbargoedCountry", embargoed.create)
      .handle("getEmbargoedCountry", embargoed.get)
      .handle("updateEmbargoedCountry", embargoed.update)
      .handle("deleteEmbargoedCountry", embargoed.remove)
  })
)
