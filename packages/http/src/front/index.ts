// The node's one HTTP server: redirector endpoints, health and metrics answered directly, the rest handed to the
// admin API; the access log. Imports redirector, admin, and actors/redirector, actors/health,
// actors/crawler (this node's crawl figures for /metrics).
export * from "./AccessLog.ts"
export * from "./FrontServer.ts"
