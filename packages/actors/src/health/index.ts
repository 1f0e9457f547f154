// Whether the node can serve: the registry database answers and the redirector's index is loaded. Imports db,
// redirector.
export * from "./Readiness.ts"
