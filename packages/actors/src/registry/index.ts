// The registry services that admins write through the API: accounts and tokens, sites, hosts and what they carry,
// the content model, overrides; authorization (global or site admin) is checked inside each service. Imports db.
// The authorization rules other folders apply too; the rest of Access (admin-only fields, what a delete would wipe
// out) stays inside the registry services.
export { requireAdmin, requireSiteAdmin } from "./Access.ts"
export * from "./Accounts.ts"
export type { AdminCrud } from "./AdminCrud.ts"
export * from "./Content.ts"
export * from "./Hosts.ts"
export * from "./Overrides.ts"
export * from "./RegistryPolicy.ts"
export * from "./Secrets.ts"
export * from "./Sites.ts"
