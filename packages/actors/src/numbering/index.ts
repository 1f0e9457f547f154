// A category's directories by path, as their numbers: built from the registry once per version of the category's
// directories, shared with the threads that read check-ins, which report the directories as bits. Imports db.
export * from "./CategoryNumbers.ts"
export * from "./DirectoryNumbers.ts"
