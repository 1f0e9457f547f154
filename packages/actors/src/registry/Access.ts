// Authorization rules (docs/registry.md#who-may-do-what): global admins may do anything, site admins only their own
// sites and hosts.
import type { Principal, SiteId } from "@mirrormanager/domain/registry"
import { Forbidden } from "@mirrormanager/domain/registry"
import { Effect } from "effect"
import type { SqlClient, Statement } from "effect/sql"

export const requireAdmin = (principal: Principal, action: string) =>
  principal.admin ? Effect.void : Effect.fail(new Forbidden({ detail: `only global admins may ${action}` }))

export const requireSiteAdmin = (principal: Principal, siteId: SiteId) =>
  principal.admin || principal.siteIds.has(siteId)
    ? Effect.void
    : Effect.fail(new Forbidden({ detail: `you are not an admin of site ${siteId}` }))

/**
 * Rejects admin-only fields set by a non-admin. A field that repeats its current (or default) value is accepted,
 * so that a client may send back the object it read, and then dropped, so that it cannot overwrite a concurrent
 * change by a global admin. Returns the input to write.
 */
export const guardAdminFields = <I extends object>(
  principal: Principal,
  input: I,
  current: { readonly [K in keyof I]?: unknown },
  fields: ReadonlyArray<keyof I & string>
): Effect.Effect<I, Forbidden> => {
  if (principal.admin) return Effect.succeed(input)
  const record = input as Record<string, unknown>
  const existing = current as Record<string, unknown>
  const denied = fields.filter((f) => record[f] !== undefined && record[f] !== existing[f])
  if (denied.length > 0) {
    return Effect.fail(new Forbidden({ detail: `only global admins may set ${denied.join(", ")}` }))
  }
  const allowed = { ...record }
  for (const field of fields) delete allowed[field]
  return Effect.succeed(allowed as I)
}

/**
 * What global admins set on the hosts selected by `where` (over `hosts h`) that a delete would wipe out. A site
 * admin may not delete it away and re-create it without (docs/registry.md#who-may-do-what: those fields are the global
 * admins' to set).
 */
export const adminStateOfHosts = (sql: SqlClient.SqlClient, where: Statement.Fragment) =>
  Effect.map(
    sql<{ disabled: boolean; alwaysUp2date: boolean; privateUrl: boolean; peerAsn: boolean }>`SELECT
      EXISTS (SELECT 1 FROM hosts h WHERE ${where} AND NOT h.admin_active) AS disabled,
      EXISTS (SELECT 1 FROM host_categories hc JOIN hosts h ON h.id = hc.host_id
        WHERE ${where} AND hc.always_up2date) AS "alwaysUp2date",
      EXISTS (SELECT 1 FROM host_category_urls u JOIN host_categories hc ON hc.id = u.host_category_id
        JOIN hosts h ON h.id = hc.host_id WHERE ${where} AND u.private) AS "privateUrl",
      EXISTS (SELECT 1 FROM host_peer_asns pa JOIN hosts h ON h.id = pa.host_id WHERE ${where}) AS "peerAsn"`.pipe(
      Effect.orDie
    ),
    ([row]) =>
      [
        row?.disabled ? "a host disabled by a global admin" : undefined,
        row?.alwaysUp2date ? "an always-up-to-date host category" : undefined,
        row?.privateUrl ? "a private URL" : undefined,
        row?.peerAsn ? "peer ASNs" : undefined
      ].filter((reason): reason is string => reason !== undefined)
  )

/** Refuses a site admin's delete that would wipe out what global admins set. */
export const keepAdminState = (principal: Principal, what: string, reasons: ReadonlyArray<string>) =>
  principal.admin || reasons.length === 0
    ? Effect.void
    : Effect.fail(
        new Forbidden({
          detail: `${what} has ${reasons.join(", ")}, set by a global admin; only a global admin may delete it`
        })
      )
