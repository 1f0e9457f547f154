// One node: configuration from the environment, its database (NodeDatabase), logs (NodeLogger), part in the cluster
// (NodeCluster), redirector (NodeRedirector), master scans (NodeMasterScan) and HTTP servers (NodeHttp), composed in
// Node by its role (full, or redirector only); stopping on signals, waiting for a node to be ready, and what commands
// print. Imports db and every package below.
export * from "./CommandOutput.ts"
export * from "./Config.ts"
export * from "./FreePort.ts"
export { runNode } from "./Node.ts"
export { clusterLayer } from "./NodeCluster.ts"
export { NodeDatabaseLayer, nodeDatabaseLayer } from "./NodeDatabase.ts"
export { NodeLoggerLayer, nodeLoggerLayer } from "./NodeLogger.ts"
export { MasterScanPolicyLayer } from "./NodeMasterScan.ts"
export * from "./RuntimeFlags.ts"
export * from "./Shutdown.ts"
export * from "./WaitUntilReady.ts"
