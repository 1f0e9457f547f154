// The GeoIP country of a client (docs/redirector.md#selection: after the NetblockCountry overrides): a MaxMind DB read
// with the `maxmind` reader, looked up synchronously on the request path, and replaced in place when its file changes.
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { Clock, Context, type Duration, Effect, Layer, Schema } from "effect"
import { Reader, type Response } from "maxmind"
import { reloadWhenChanged } from "./FileWatch.ts"
import type { ClientAddress } from "./IpAddress.ts"

/** The GeoIP database cannot be used: missing, unreadable, not a MaxMind DB. */
export class GeoIpError extends Schema.TaggedError<GeoIpError>()("GeoIpError", {
  path: Schema.String,
  message: Schema.String
}) {}

/** What is loaded now. Times are UTC epoch seconds. */
export interface GeoIpDatabase {
  readonly path: string
  /** The database's own `database_type`, e.g. `GeoLite2-Country` or `country ipvAll`. */
  readonly databaseType: string
  readonly buildEpoch: number
  readonly ipVersion: 4 | 6
  readonly loadedAt: number
}

export interface GeoIpOptions {
  /** How often the file is checked for changes (default 1 second); a change reloads it. */
  readonly watchInterval?: Duration.Input
}

/** The npm data package read when no file is configured (IPv4 and IPv6, flat `country_code` records). */
export const defaultGeoIpFile = (): string =>
  createRequire(import.meta.url).resolve("@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb")

/** The fields a country lookup reads: GeoLite2/GeoIP2 Country and City records, or flat `country_code` records. */
interface CountryRecord {
  readonly country?: { readonly iso_code?: unknown }
  readonly registered_country?: { readonly iso_code?: unknown }
  readonly country_code?: unknown
}

const countryOf = (record: CountryRecord | null): string | undefined => {
  if (record === null || typeof record !== "object") return undefined
  const code = record.country?.iso_code ?? record.registered_country?.iso_code ?? record.country_code
  return typeof code === "string" && code.length === 2 ? code.toUpperCase() : undefined
}

/** Decoded records by data offset. A country database has a few hundred; a City database is capped. */
const recordCache = (max: number) => {
  let records = new Map<string | number, unknown>()
  return {
    get: (key: string | number) => records.get(key),
    set: (key: string | number, value: unknown) => {
      if (records.size >= max) records = new Map()
      records.set(key, value)
    }
  }
}

/**
 * The search tree of a MaxMind DB, walked with the address bytes the request already has (the reader would parse
 * the address text again): the record a client's address leads to, as its data-section pointer (0 = none). The
 * reader decodes each record once; its country is kept per pointer.
 */
interface SearchTree {
  readonly find: (address: ClientAddress) => number
}

const searchTree = (db: Buffer, metadata: Reader<Response>["metadata"]): SearchTree => {
  const { nodeCount, recordSize, nodeByteSize } = metadata
  const u24 = (o: number) => (db[o]! << 16) | (db[o + 1]! << 8) | db[o + 2]!
  const record =
    recordSize === 24
      ? (node: number, bit: number) => u24(node * nodeByteSize + 3 * bit)
      : recordSize === 28
        ? (node: number, bit: number) => {
            const o = node * nodeByteSize
            return bit === 0 ? ((db[o + 3]! & 0xf0) << 20) | u24(o) : ((db[o + 3]! & 0x0f) << 24) | u24(o + 4)
          }
        : recordSize === 32
          ? (node: number, bit: number) => db.readUInt32BE(node * nodeByteSize + 4 * bit)
          : undefined
  if (record === undefined) throw new Error(`its record size ${recordSize} is not 24, 28 or 32`)
  // IPv4 addresses in an IPv6 tree sit below 96 zero bits.
  let ipv4Start = 0
  if (metadata.ipVersion === 6) {
    for (let i = 0; i < 96 && ipv4Start < nodeCount; i++) ipv4Start = record(ipv4Start, 0)
  }
  return {
    find: (address) => {
      const bytes = address.bytes
      const bits = bytes.length * 8
      let node = bytes.length === 4 ? ipv4Start : 0
      for (let depth = 0; depth < bits && node < nodeCount; depth++) {
        node = record(node, (bytes[depth >> 3]! >> (7 - (depth & 7))) & 1)
      }
      return node > nodeCount ? node : 0
    }
  }
}

interface Loaded {
  readonly reader: Reader<Response>
  readonly tree: SearchTree
  /** Country per record pointer, filled as records are met. */
  readonly countries: Map<number, string | undefined>
  readonly database: GeoIpDatabase
}

/** Records whose country is kept (a Country database has a few hundred; a City database is capped here). */
const MAX_KEPT_RECORDS = 100_000

const messageOf = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const openDatabase = (path: string) =>
  Effect.gen(function* () {
    const loadedAt = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    return yield* Effect.tryPromise({
      try: async (): Promise<Loaded> => {
        const buffer = await fs.promises.readFile(path)
        if (buffer[0] === 0x1f && buffer[1] === 0x8b) throw new Error("the file is gzip-compressed; unpack it first")
        const reader = new Reader<Response>(buffer, { cache: recordCache(10_000) })
        const { metadata } = reader
        if (metadata.ipVersion !== 4 && metadata.ipVersion !== 6)
          throw new Error("its metadata has no ip_version 4 or 6")
        if (metadata.searchTreeSize + 16 > buffer.length) throw new Error("the file is shorter than its search tree")
        reader.get("1.1.1.1") // a broken tree or data section throws here rather than on the request path
        return {
          reader,
          tree: searchTree(buffer, metadata),
          countries: new Map(),
          database: {
            path,
            databaseType: String(metadata.databaseType),
            buildEpoch: Math.floor(metadata.buildEpoch.getTime() / 1000),
            ipVersion: metadata.ipVersion as 4 | 6,
            loadedAt
          }
        }
      },
      catch: (cause) =>
        new GeoIpError({ path, message: `cannot use ${path} as a GeoIP (MaxMind DB) database: ${messageOf(cause)}` })
    })
  })

const makeGeoIp = (file: string | undefined, options: GeoIpOptions) =>
  Effect.gen(function* () {
    const path =
      file ??
      (yield* Effect.try({
        try: defaultGeoIpFile,
        catch: (cause) =>
          new GeoIpError({
            path: "@ip-location-db/geo-whois-asn-country-mmdb",
            message: `the default GeoIP database is not installed: ${messageOf(cause)}`
          })
      }))
    let current = yield* openDatabase(path)
    const logLoaded = (loaded: Loaded) =>
      Effect.logInfo("GeoIP database loaded").pipe(
        Effect.annotateLogs({
          path,
          databaseType: loaded.database.databaseType,
          buildEpoch: loaded.database.buildEpoch,
          ipVersion: loaded.database.ipVersion
        })
      )
    yield* logLoaded(current)

    const reload = Effect.fn("GeoIp.reload")(function* () {
      const next = yield* openDatabase(path)
      current = next
      yield* logLoaded(next)
      return next.database
    })

    yield* reloadWhenChanged(
      [path],
      options.watchInterval ?? "1 second",
      reload().pipe(
        Effect.catchCause((cause) =>
          Effect.logWarning("GeoIP database reload failed; the previous database stays in use", cause)
        ),
        Effect.asVoid
      )
    )

    return GeoIp.of({
      country: (address) => {
        const { reader, tree, countries, database } = current
        // An IPv4-only tree has no IPv6 branch: walking it with an IPv6 address gives a wrong answer, not none.
        if (address.family === 6 && database.ipVersion === 4) return undefined
        try {
          const pointer = tree.find(address)
          if (pointer === 0) return undefined
          const known = countries.get(pointer)
          if (known !== undefined || countries.has(pointer)) return known
          const country = countryOf(reader.get(address.text) as CountryRecord | null)
          if (countries.size >= MAX_KEPT_RECORDS) countries.clear()
          countries.set(pointer, country)
          return country
        } catch {
          return undefined
        }
      },
      describe: () => current.database,
      reload
    })
  })

/** Country of a client address from a MaxMind DB; lookups are synchronous (the Redirector's hot path). */
export class GeoIp extends Context.Service<
  GeoIp,
  {
    /**
     * Upper-case ISO 3166-1 alpha-2 code; `country.iso_code`, else `registered_country.iso_code`, else `country_code`.
     */
    readonly country: (address: ClientAddress) => string | undefined
    readonly describe: () => GeoIpDatabase
    /** Reads the file again now (also done by itself when the file changes); on failure the old one stays. */
    readonly reload: () => Effect.Effect<GeoIpDatabase, GeoIpError>
  }
>()("actors/GeoIp") {
  /** The database of the npm package @ip-location-db/geo-whois-asn-country-mmdb. */
  static readonly layer: Layer.Layer<GeoIp, GeoIpError> = Layer.effect(GeoIp, makeGeoIp(undefined, {}))

  /** A MaxMind DB file (GeoLite2/GeoIP2 Country or City, or flat `country_code`); undefined = the package's. */
  static readonly layerFile = (file: string | undefined, options: GeoIpOptions = {}): Layer.Layer<GeoIp, GeoIpError> =>
    Layer.effect(GeoIp, makeGeoIp(file, options))
}
