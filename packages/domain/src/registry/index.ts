// The registry's data model: sites, hosts and what they carry, the content model, overrides, accounts; branded ids,
// field schemas and validation (mirror URLs, netblocks, countries) and the API problems. Imports nothing of ours.
export * from "./Account.ts"
export * from "./Content.ts"
export * from "./Countries.ts"
export * from "./Errors.ts"
export * from "./Fields.ts"
export * from "./Host.ts"
export * from "./Ids.ts"
export * from "./MirrorUrl.ts"
export * from "./Netblock.ts"
export * from "./Overrides.ts"
export * from "./Site.ts"
