// Authorization rules (SPEC 2.4): global admins may do anything, site admins only their own sites and hosts.
import type { Principal } from "@mirrormanager/domain/Account"
import { Forbidden } from "@mirrormanager/domain/Errors"
import type { SiteId } from "@mirrormanager/domain/Ids"
import { Effect } from "effect"

export const requireAdmin = (principal: Principal, action: string) =>
  principal.admin ? Effect.void : Effect.fail(new Forbidden({ detail: `only global admins may ${action}` }))

export const requireSiteAdmin = (principal: Principal, siteId: SiteId) =>
  principal.admin || principal.siteIds.has(siteId)
    ? Effect.void
    : Effect.fail(new Forbidden({ detail: `you are not an admin of site ${siteId}` }))

/**
 * Rejects admin-only fields set by a non-admin. A field that repeats its current (or default) value is accepted,
 * so that a client may send back the object it read.
 */
export const guardAdminFields = <I extends object>(
  principal: Principal,
  input: I,
  current: { readonly [K in keyof I]?: unknown },
  fields: ReadonlyArray<keyof I & string>
) => {
  if (principal.admin) return Effect.void
  const record = input as Record<string, unknown>
  const existing = current as Record<string, unknown>
  const denied = fields.filter((f) => record[f] !== undefined && record[f] !== existing[f])
  return denied.length === 0
    ? Effect.void
    : Effect.fail(new Forbidden({ detail: `only global admins may set ${denied.join(", ")}` }))
}
