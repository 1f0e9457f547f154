// The readiness report of a node. Imports nothing of domain.
export * from "./ReadinessReport.ts"
