// The Host entity's protocol: the messages a host's entity takes (check-ins, crawls, status), with branded ids.
// Imports checkin, registry.
export * from "./HostEntity.ts"
