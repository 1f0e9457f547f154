// Field schemas shared by the registry models: names, country codes, netblocks, URLs, bandwidth, ASNs, paths.
import { Schema, SchemaGetter, Struct } from "effect"
import { Continents, isCountryCode } from "./Countries.ts"
import { parseMirrorUrl } from "./MirrorUrl.ts"
import { parseNetblock } from "./Netblock.ts"

const normalized = (f: (s: string) => string) =>
  Schema.decode<typeof Schema.String>({ decode: SchemaGetter.transform(f), encode: SchemaGetter.transform(f) })

const noNul = Schema.makeFilter((s: string) => !s.includes("\u0000") || "must not contain NUL characters")
const noControl = Schema.isPattern(/^[^\p{Cc}]*$/u, { message: "must not contain control characters" })

/** A display or login name: 1..255 printable characters, no surrounding whitespace. */
export const Name = Schema.String.check(
  Schema.isTrimmed({ message: "must not start or end with whitespace" }),
  Schema.isMinLength(1, { message: "must not be empty" }),
  Schema.isMaxLength(255, { message: "must be at most 255 characters" }),
  Schema.isPattern(/^[^\p{Cc}]*$/u, { message: "must not contain control characters" })
)

/** Free text (comments): at most 4096 characters, line breaks allowed. */
export const Text = Schema.String.check(noNul, Schema.isMaxLength(4096, { message: "must be at most 4096 characters" }))

/** A short label (token names, netblock names, domains): at most 255 characters on one line. */
export const Label = Schema.String.check(
  noControl,
  Schema.isMaxLength(255, { message: "must be at most 255 characters" })
)

/** A local filesystem path, e.g. a category's master tree. */
export const LocalPath = Schema.String.check(
  noControl,
  Schema.isMinLength(1, { message: "must not be empty" }),
  Schema.isMaxLength(4096, { message: "must be at most 4096 characters" })
)

/** A signed 32-bit integer, as stored by the database. */
export const Int32 = Schema.Int.check(
  Schema.isBetween({ minimum: -2_147_483_648, maximum: 2_147_483_647 }, { message: "must fit in 32 bits" })
)

/** ISO 3166-1 alpha-2, accepted in any case, stored upper-case. */
export const CountryCode = Schema.String.pipe(normalized((s) => s.trim().toUpperCase()))
  .check(Schema.makeFilter((cc: string) => isCountryCode(cc) || `"${cc}" is not an ISO 3166-1 alpha-2 country code`))
  .annotate({ identifier: "CountryCode", description: "ISO 3166-1 alpha-2 country code" })

export const Continent = Schema.Literals(Continents).annotate({ identifier: "Continent" })

/** A CIDR (IPv4 or IPv6), a bare address, a.b.c.d/255.255.255.0 or a DNS name. */
export const NetblockText = Schema.String.check(
  Schema.makeFilter((s: string) => {
    const parsed = parseNetblock(s)
    return parsed.ok || parsed.error
  })
).annotate({ identifier: "Netblock", description: "CIDR, bare IPv4/IPv6 address, dotted mask or DNS name" })

/** A mirror base URL: http, https, ftp or rsync; no credentials, query or fragment. */
export const MirrorUrlText = Schema.String.check(
  Schema.makeFilter((s: string) => {
    const parsed = parseMirrorUrl(s)
    return parsed.ok || parsed.error
  })
).annotate({ identifier: "MirrorUrl" })

/** Plain http(s) URL, e.g. a site's organisation page. */
export const WebUrl = Schema.String.check(
  Schema.isMaxLength(2048),
  Schema.makeFilter((s: string) => {
    try {
      const url = new URL(s)
      return url.protocol === "http:" || url.protocol === "https:" || "must be an http or https URL"
    } catch {
      return `"${s}" is not an absolute URL`
    }
  })
)

/** Bandwidth in Mbit/s. */
export const Bandwidth = Schema.Int.check(
  Schema.isBetween({ minimum: 1, maximum: 1_000_000 }, { message: "must be between 1 and 1000000 Mbit/s" })
)

/** A 32-bit autonomous system number. */
export const Asn = Schema.Int.check(
  Schema.isBetween({ minimum: 1, maximum: 4_294_967_295 }, { message: "must be an AS number between 1 and 4294967295" })
)

export const MaxConnections = Schema.Int.check(
  Schema.isBetween({ minimum: 0, maximum: 1_000_000 }, { message: "must be between 0 and 1000000" })
)

export const Latitude = Schema.Finite.check(Schema.isBetween({ minimum: -90, maximum: 90 }))
export const Longitude = Schema.Finite.check(Schema.isBetween({ minimum: -180, maximum: 180 }))

/** A path relative to the top of the master tree, stored without leading or trailing "/". */
export const DirectoryPath = Schema.String.pipe(
  normalized((s) =>
    s
      .trim()
      .replace(/\/+/g, "/")
      .replace(/^\/|\/$/g, "")
  )
)
  .check(
    noControl,
    Schema.isMinLength(1, { message: "path must not be empty" }),
    Schema.makeFilter(
      (s: string) => new TextEncoder().encode(s).length <= 1024 || "path must be at most 1024 bytes in UTF-8"
    ),
    Schema.makeFilter(
      (s: string) =>
        s.split("/").every((seg) => seg !== "." && seg !== "..") || "path must not contain . or .. segments"
    )
  )
  .annotate({ identifier: "DirectoryPath" })

/** A repo= prefix (epel-9, updates-released-f39) or an arch name (x86_64). */
export const Token = Schema.String.check(
  Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/, {
    message: "must be 1..128 letters, digits, '.', '_', '+' or '-', starting with a letter or digit"
  })
)

/** A site's check-in password as supplied (stored hashed). */
export const Password = Schema.String.check(
  Schema.isMinLength(8, { message: "must be at least 8 characters" }),
  Schema.isMaxLength(1024, { message: "must be at most 1024 characters" })
)

/** UTC epoch seconds. */
export const EpochSeconds = Schema.Int

export const PageQuery = {
  page: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))),
  pageSize: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })))
}

export interface PageRequest {
  readonly page?: number
  readonly pageSize?: number
}

export const Page = <S extends Schema.Top>(item: S) =>
  Schema.Struct({ items: Schema.Array(item), page: Schema.Int, pageSize: Schema.Int, total: Schema.Int })

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly page: number
  readonly pageSize: number
  readonly total: number
}

/** The update input of a create input: every field optional. */
export const partial = <F extends Schema.Struct.Fields>(schema: Schema.Struct<F>) =>
  schema.mapFields(Struct.map(Schema.optionalKey))
