// `mirrormanager report`: the check-in client of mirror hosts, a drop-in for upstream's report_mirror. Imports node.
export * from "./ReportCommand.ts"
