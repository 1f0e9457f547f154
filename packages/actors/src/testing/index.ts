// For tests, benchmarks and test-support only (no production code imports this door: check-imports refuses it):
// fresh databases dropped after their tests, the single cluster runner of a test, a lock held by another session.
// Imports db.
export * from "./FreshDatabase.ts"
export * from "./HeldLock.ts"
export * from "./SingleRunner.ts"
