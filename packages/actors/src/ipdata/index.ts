// IP data for the redirector: addresses and netblocks as bytes, the prefix trie, range tables, the GeoIP country,
// ASN and research-network lookups, reloaded when their files change. Imports only domain.
export * from "./GeoIp.ts"
export * from "./IpAddress.ts"
export * from "./NetworkData.ts"
export * from "./PrefixTrie.ts"
