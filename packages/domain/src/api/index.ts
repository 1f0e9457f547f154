// The admin HttpApi contract (groups, endpoints, errors, OpenAPI), the health answers and the OpenAPI paths of the
// front endpoints. Imports registry, masterscan, host, events, crawler, health.
export * from "./Api.ts"
export * from "./Authentication.ts"
export * from "./EventsApi.ts"
export * from "./FrontEndpoints.ts"
export * from "./HealthApi.ts"
export * from "./PropagationApi.ts"
