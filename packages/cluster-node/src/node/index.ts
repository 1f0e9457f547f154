// One node: configuration from the environment, wiring of the cluster runner, services and HTTP server, stopping on
// signals, and what commands print. Imports db and every package below.
export * from "./CommandOutput.ts"
export * from "./Config.ts"
export * from "./FreePort.ts"
export * from "./Node.ts"
export * from "./Shutdown.ts"
