// A host as the redirector's index rows hold it, for test indexes: one category (id 1), its URLs in scheme order,
// always up to date unless `dirs` names the directories it is up to date on (test indexes number each directory by
// its id).
import type { MirrorUrlScheme } from "@mirrormanager/domain/registry"
import { bitsOf } from "../db/index.ts"
import { type HostSource, inSchemeOrder, type OverridesSource } from "../redirector/index.ts"

export const indexHost = (
  id: number,
  name: string,
  country: string,
  urls: ReadonlyArray<string>,
  extra: Partial<HostSource> & { readonly dirs?: ReadonlyArray<number> } = {}
): HostSource => {
  const { dirs, ...rest } = extra
  return {
    id,
    siteId: id,
    name,
    country,
    bandwidth: 100,
    private: false,
    asn: null,
    asnClients: true,
    internet2: false,
    internet2Clients: false,
    ipv4: "unknown",
    ipv6: "unknown",
    peerAsns: [],
    countriesAllowed: [],
    netblocks: [],
    ...rest,
    categories: [
      {
        id: id * 10,
        categoryId: 1,
        alwaysUp2date: dirs === undefined,
        urls: inSchemeOrder(urls.map((url) => ({ url, scheme: url.slice(0, url.indexOf(":")) as MirrorUrlScheme }))),
        upToDate: bitsOf(dirs ?? [])
      }
    ]
  }
}

/** Country overrides of a test index: 198.51.100.0/24 split between Germany (the lower half) and Finland. */
export const TWO_COUNTRY_OVERRIDES: OverridesSource = {
  netblockCountries: [
    { netblock: "198.51.100.0/25", country: "DE" },
    { netblock: "198.51.100.128/25", country: "FI" }
  ],
  continentRedirects: []
}
