export * from "./Config.ts"
export * from "./EmbeddedPostgres.ts"
export * from "./Node.ts"
