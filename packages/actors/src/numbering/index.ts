// A category's directories by path, as their numbers, in shared memory: the table the threads that read check-ins
// look paths up in (built by checkin's CategoryNumbers). Imports nothing at run time (domain's types only).
export * from "./DirectoryNumbers.ts"
