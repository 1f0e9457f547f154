// The master-tree scan: walks each category's tree (in a worker thread), applies the repository rules, writes what
// changed in one transaction per category (directories, file details, checksums), on a schedule or on demand; and
// reads of the scanned tree. Imports db, registry.
export * from "./Directories.ts"
export * from "./MasterScanner.ts"
export * from "./MasterScanPolicy.ts"
export * from "./MasterScanSchedule.ts"
export * from "./RepositoryRules.ts"
