// The readiness report of a node. Imports nothing of ours.
export * from "./ReadinessReport.ts"
