// A host as the redirector's index rows hold it, for test indexes: one category (id 1), its URLs in scheme order,
// always up to date unless `dirs` names the directories it is up to date on.
import type { MirrorUrlScheme } from "@mirrormanager/domain/registry"
import type { HostSource } from "../redirector/index.ts"

const SCHEME_RANK: Record<MirrorUrlScheme, number> = { https: 0, http: 1, ftp: 2, rsync: 3 }

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
        urls: urls
          .map((url) => ({ url, scheme: url.slice(0, url.indexOf(":")) as MirrorUrlScheme }))
          .sort((a, b) => SCHEME_RANK[a.scheme] - SCHEME_RANK[b.scheme]),
        directoryIds: dirs ?? []
      }
    ]
  }
}
