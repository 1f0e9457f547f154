// What one scan of a category's master tree found and changed, and the repository rules file. Imports registry.
export * from "./MasterScan.ts"
