// The node's one HTTP server: redirector endpoints, health and metrics answered directly, the rest handed to the
// admin API; the access log. Imports redirector, admin.
export * from "./AccessLog.ts"
export * from "./FrontServer.ts"
