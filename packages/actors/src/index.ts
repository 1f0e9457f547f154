// @mirrormanager/actors: what a node does, over PostgreSQL and in memory. Its doors, lowest first (a folder imports
// only folders above it in this list):
//   db          registry database, migrations, table access, the change log
//   ipdata      addresses, prefix trie, range tables, GeoIP, ASN and R&E lookups
//   registry    registry services with authorization (accounts, sites, hosts, content, overrides)
//   masterscan  the master-tree scan and reads of the scanned tree
//   redirector  the in-memory index and mirror selection of one node
//   health      readiness of the node
//   events      host events: feed and webhook delivery
//   crawler     crawling hosts, crawl runs and schedule, propagation statistics
//   host        the Host entity and its storage
//   checkin     a check-in arriving at any node
//   publiclist  what the public pages show of the mirrors (mirror list, host status, map)
//   statistics  access statistics: the node's counts of requests, added to the database every minute
//   testing     for tests, benchmarks and test-support only: fresh databases, a single runner, a held lock
// This root door composes the database services of a node (registry, scanned tree, host events, propagation).
// The folders, the import rules and the data flows through them: docs/architecture.md.
export * from "./Registry.ts"
