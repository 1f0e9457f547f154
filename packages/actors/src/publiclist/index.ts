// What the public pages show of the mirrors, read from the registry database: the public mirror list by product,
// version and arch, a host's status, and the public mirrors per country for the map.
export * from "./HostStatuses.ts"
export * from "./PublicMirrors.ts"
