// @mirrormanager/http: the HTTP side of a node. Its doors, lowest first:
//   redirector  the redirector's answers as bytes: requests parsed, mirrorlist and metalink written, answer cache
//   checkin     the XML-RPC check-in of report_mirror
//   pages       the public pages: mirror list, host status, propagation, statistics, map (HTML and JSON)
//   admin       the admin API: handlers, authentication, problem details, OpenAPI and /docs
//   front       the node's one HTTP server, metrics and access log
// Import a door (`@mirrormanager/http/front`), never a file below it. This root door exports nothing.
// The folders, the import rules and the data flows through them: docs/architecture.md.
export {}
