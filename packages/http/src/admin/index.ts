// The admin API: handlers of every group, bearer-token authentication, problem details, body limits, the OpenAPI
// document and /docs page, and the route of the XML-RPC check-in. Imports checkin and actors' services (the
// client-address rule from actors/redirector).
export * from "./AdminApi.ts"
export * from "./ProblemResponses.ts"
