// The registry database: connection pool and migrations, generic table access, the change log that wakes every
// node's redirector. Imports only domain.
export * from "./ChangeLog.ts"
export * from "./Database.ts"
export * from "./Migrations.ts"
export * from "./Slices.ts"
export * from "./Table.ts"
export * from "./UpToDateBits.ts"
