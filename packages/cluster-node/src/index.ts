// @mirrormanager/cluster-node: the runnable node and its `mirrormanager` command line (main.ts). Its doors:
//   db          the embedded PostgreSQL and the processes it is stopped through
//   node        configuration, wiring of one node, stopping on signals, command output
//   masterscan  `mirrormanager scan-master`
//   crawler     `mirrormanager crawl`
//   checkin     `mirrormanager report`, the check-in client of mirror hosts
//   demo        `npm run demo`
// Import a door (`@mirrormanager/cluster-node/node`), never a file below it. This root door exports nothing.
// The folders, the import rules and the data flows through them: docs/architecture.md.
export {}
