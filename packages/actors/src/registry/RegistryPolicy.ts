// Operator policy for what may be registered (docs/registry.md#who-may-do-what: urls.allowedSchemes, netblock.maxSize*)
// and how much.
import type { MirrorUrlScheme } from "@mirrormanager/domain/registry"
import { defaultNetblockLimits, type NetblockLimits } from "@mirrormanager/domain/registry"
import { Context } from "effect"

export interface RegistryPolicyShape {
  readonly netblockLimits: NetblockLimits
  /** URL schemes a site admin may add; global admins may add any known scheme. */
  readonly siteAdminUrlSchemes: ReadonlyArray<MirrorUrlScheme>
  /** Bounds on what one site or host may accumulate, so no account can grow the registry without end. */
  readonly maxSitesPerUser: number
  readonly maxHostsPerSite: number
  readonly maxUrlsPerHostCategory: number
  readonly maxNetblocksPerHost: number
  readonly maxPeerAsnsPerHost: number
}

export const RegistryPolicy = Context.Reference<RegistryPolicyShape>("actors/RegistryPolicy", {
  defaultValue: () => ({
    netblockLimits: defaultNetblockLimits,
    siteAdminUrlSchemes: ["https", "http", "rsync"],
    maxSitesPerUser: 100,
    maxHostsPerSite: 1000,
    maxUrlsPerHostCategory: 100,
    maxNetblocksPerHost: 10_000,
    maxPeerAsnsPerHost: 1000
  })
})
