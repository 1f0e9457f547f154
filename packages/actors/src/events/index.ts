// Host events (a host switched off, repodata gone stale, …): written with the change that caused them, read as the
// admin feed (as far as the caller may see it), delivered to a webhook. Imports only domain.
export * from "./EventDelivery.ts"
export * from "./HostEvents.ts"
