// What one scan of a category's master tree found and changed, the repository rules file, and the filter of a
// listing of the scanned directories. Imports registry.
export * from "./MasterScan.ts"
