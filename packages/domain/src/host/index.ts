// The Host entity's protocol: the messages a host's entity takes (check-ins, crawls, status). Imports checkin.
export * from "./HostEntity.ts"
