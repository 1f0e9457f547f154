// For tests, benchmarks and test-support only (no production code imports this door: check-imports refuses it):
// fresh databases dropped after their tests, the single cluster runner of a test, a lock held by another session,
// the global admin of a test, pseudo-random numbers that are the same on every run, hosts of a test index. Imports
// db, registry and redirector.
export * from "./FreshDatabase.ts"
export * from "./GlobalAdmin.ts"
export * from "./HeldLock.ts"
export * from "./IndexHost.ts"
export * from "./PseudoRandom.ts"
export * from "./SingleRunner.ts"
