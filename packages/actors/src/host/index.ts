// The Host entity (one per mirror host, sharded over the cluster) and its storage: the single writer of a host's
// directory state, applying check-ins and crawl results in one transaction each. Imports db, crawler, events.
export * from "./HostEntity.ts"
export * from "./HostStore.ts"
