// `mirrormanager scan-master`: master trees scanned now, with progress and a summary. Imports node,
// actors/masterscan, actors/db.
export * from "./ScanMasterCommand.ts"
