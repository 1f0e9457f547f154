// What the public pages and the host status API tell of the mirrors: the public mirror list, its catalog, a host's status.
export * from "./PublicList.ts"
