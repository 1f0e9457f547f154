export * from "./AdminApi.ts"
