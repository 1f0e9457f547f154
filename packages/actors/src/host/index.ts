// The Host entity (one per mirror host, sharded over the cluster) and its storage: the single writer of a host's
// directory state, applying check-ins and crawl results in one transaction each; and what admins ask of a host's
// crawls (its crawl log, a crawl now), authorized as the host is. Its storage (HostStore) is written by the entity
// only. Imports db, registry, crawler, events.
export * from "./HostCrawls.ts"
export * from "./HostEntity.ts"
