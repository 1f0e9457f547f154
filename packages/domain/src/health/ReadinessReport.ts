// How ready a node is to answer, as its readiness endpoint reports it.
import { Schema } from "effect"

/** Its status and, per check (the index, the database), what that check found. */
export const ReadinessReport = Schema.Struct({
  status: Schema.Literals(["ready", "degraded", "starting"]),
  checks: Schema.Record(Schema.String, Schema.String)
}).annotate({ identifier: "Readiness" })
export type ReadinessReport = typeof ReadinessReport.Type
