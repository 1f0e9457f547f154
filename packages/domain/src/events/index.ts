// Host events and the query of their admin feed. Imports registry.
export * from "./HostEvent.ts"
