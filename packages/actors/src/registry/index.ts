// The registry services that admins write through the API: accounts and tokens, sites, hosts and what they carry,
// the content model, overrides; authorization (global or site admin) is checked inside each service. Imports db.
export * from "./Access.ts"
export * from "./Accounts.ts"
export * from "./AdminCrud.ts"
export * from "./Content.ts"
export * from "./Hosts.ts"
export * from "./Overrides.ts"
export * from "./RegistryPolicy.ts"
export * from "./Secrets.ts"
export * from "./Sites.ts"
