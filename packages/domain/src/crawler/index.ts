// What the crawler's runs tell of the mirrors: propagation statistics. Imports registry.
export * from "./Propagation.ts"
