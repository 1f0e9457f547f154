// The default database: embedded PostgreSQL kept under MM_DATA_DIR, and the processes of this machine it is stopped
// through. Imports nothing of ours.
export * from "./EmbeddedPostgres.ts"
export * from "./Processes.ts"
