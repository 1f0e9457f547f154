// A check-in arriving at any node: failed logins limited, the site's password verified, the host found, then
// handed to the host's entity. Imports db, registry.
export * from "./CategoryNumbers.ts"
export * from "./Checkins.ts"
