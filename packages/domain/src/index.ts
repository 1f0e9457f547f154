// @mirrormanager/domain: the wire contracts of the mirror manager, no implementation. Its doors:
//   registry    the registry's data model, ids, field validation, API problems
//   checkin     the report_mirror check-in as the server reads it
//   masterscan  what a master-tree scan found and changed
//   host        the Host entity's protocol
//   events      host events and their feed's query
//   crawler     what crawl runs tell of the mirrors (propagation statistics)
//   health      the readiness report of a node
//   publiclist  the public mirror list, its catalog and a host's status (pages' JSON, status API)
//   api         the admin HttpApi contract and the OpenAPI paths of the front endpoints
// Import a door (`@mirrormanager/domain/registry`), never a file below it. This root door exports nothing.
// The folders, the import rules and the data flows through them: docs/architecture.md.
export {}
