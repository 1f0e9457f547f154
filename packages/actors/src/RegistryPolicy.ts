// Operator policy for what site admins may register (SPEC 1.5: urls.allowedSchemes, netblock.maxSize*).
import type { MirrorUrlScheme } from "@mirrormanager/domain/MirrorUrl"
import { defaultNetblockLimits, type NetblockLimits } from "@mirrormanager/domain/Netblock"
import { Context } from "effect"

export interface RegistryPolicyShape {
  readonly netblockLimits: NetblockLimits
  /** URL schemes a site admin may add; global admins may add any known scheme. */
  readonly siteAdminUrlSchemes: ReadonlyArray<MirrorUrlScheme>
}

export const RegistryPolicy = Context.Reference<RegistryPolicyShape>("actors/RegistryPolicy", {
  defaultValue: () => ({ netblockLimits: defaultNetblockLimits, siteAdminUrlSchemes: ["https", "http", "rsync"] })
})
