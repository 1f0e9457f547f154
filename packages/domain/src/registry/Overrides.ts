// Global override tables kept by global admins: netblock countries, continent redirects, embargoed countries.
import { Schema } from "effect"
import { Continent, CountryCode, NetblockText } from "./Fields.ts"
import { CountryContinentRedirectId, EmbargoedCountryId, NetblockCountryId } from "./Ids.ts"

export const NetblockCountry = Schema.Struct({
  id: NetblockCountryId,
  netblock: Schema.String,
  country: CountryCode
}).annotate({ identifier: "NetblockCountry" })
export type NetblockCountry = typeof NetblockCountry.Type
export const CreateNetblockCountry = Schema.Struct({ netblock: NetblockText, country: CountryCode }).annotate({
  identifier: "CreateNetblockCountry"
})
export type CreateNetblockCountry = typeof CreateNetblockCountry.Type

export const CountryContinentRedirect = Schema.Struct({
  id: CountryContinentRedirectId,
  country: CountryCode,
  continent: Continent
}).annotate({ identifier: "CountryContinentRedirect" })
export type CountryContinentRedirect = typeof CountryContinentRedirect.Type
export const CreateCountryContinentRedirect = Schema.Struct({ country: CountryCode, continent: Continent }).annotate({
  identifier: "CreateCountryContinentRedirect"
})
export type CreateCountryContinentRedirect = typeof CreateCountryContinentRedirect.Type

export const EmbargoedCountry = Schema.Struct({ id: EmbargoedCountryId, country: CountryCode }).annotate({
  identifier: "EmbargoedCountry"
})
export type EmbargoedCountry = typeof EmbargoedCountry.Type
export const CreateEmbargoedCountry = Schema.Struct({ country: CountryCode }).annotate({
  identifier: "CreateEmbargoedCountry"
})
