// `mirrormanager scan-master`: master trees scanned now, with progress and a summary. Imports node.
export * from "./ScanMasterCommand.ts"
