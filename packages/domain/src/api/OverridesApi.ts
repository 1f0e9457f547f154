// Global override tables (writes: global admins).
import { HttpApiGroup, OpenApi } from "effect/http-api"
import * as O from "../registry/index.ts"
import { CountryContinentRedirectId, EmbargoedCountryId, NetblockCountryId, partial } from "../registry/index.ts"
import { Authentication } from "./Authentication.ts"
import { crudEndpoints } from "./Crud.ts"

export class OverridesApi extends HttpApiGroup.make("overrides")
  .add(
    ...crudEndpoints("NetblockCountry", "/api/netblock-countries", {
      id: NetblockCountryId,
      item: O.NetblockCountry,
      create: O.CreateNetblockCountry,
      update: partial(O.CreateNetblockCountry)
    })
  )
  .add(
    ...crudEndpoints("CountryContinentRedirect", "/api/country-continent-redirects", {
      id: CountryContinentRedirectId,
      item: O.CountryContinentRedirect,
      create: O.CreateCountryContinentRedirect,
      update: partial(O.CreateCountryContinentRedirect)
    })
  )
  .add(
    ...crudEndpoints("EmbargoedCountry", "/api/embargoed-countries", {
      id: EmbargoedCountryId,
      item: O.EmbargoedCountry,
      create: O.CreateEmbargoedCountry,
      update: partial(O.CreateEmbargoedCountry)
    })
  )
  .middleware(Authentication)
  .annotateMerge(OpenApi.annotations({ title: "Overrides", description: "Global override tables" })) {}
