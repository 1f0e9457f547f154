// The payload of a report_mirror check-in (docs/checkin.md#payload, docs/checkin.md#limits): URL-safe base64 of
// bz2-compressed JSON, read with every size an outsider controls bounded (decompression stops at its limit) and checked
// into a CheckinReport. JSON only: nothing in it is ever evaluated.
import type { CheckinCategory, CheckinReport } from "@mirrormanager/domain/checkin"
import { Redacted } from "effect"
import Bunzip from "seek-bzip"

export interface CheckinPayloadLimits {
  /** Bytes of JSON the bz2 stream may decompress to; decompression stops past it. */
  readonly decompressedBytes: number
  /** Directory keys in all the categories' dirtrees together. */
  readonly directories: number
  /** Bytes of one directory path. */
  readonly pathBytes: number
  /** Nesting of JSON objects and arrays. */
  readonly depth: number
}

export const CHECKIN_PAYLOAD_LIMITS: CheckinPayloadLimits = {
  decompressedBytes: 16 * 1024 * 1024,
  directories: 250_000,
  pathBytes: 4096,
  depth: 8
}

export type CheckinPayload =
  | { readonly _tag: "Report"; readonly report: CheckinReport }
  /** Why the payload was refused (for the log; the client is told CheckinReplies.invalidConfig). */
  | { readonly _tag: "Invalid"; readonly reason: string }

const invalid = (reason: string): CheckinPayload => ({ _tag: "Invalid", reason })

/** Sections of the client's config file that are not categories. */
const FIXED_SECTIONS = new Set(["version", "global", "site", "host", "stats"])

/** `user_active` values that mean on (docs/checkin.md#server-rules), lower-cased. */
const ACTIVE = new Set(["true", "1", "t", "y", "yes"])

class TooLarge extends Error {}

/** bz2 to bytes, stopping once the output passes `limit`. */
const bunzip = (compressed: Buffer, limit: number): Buffer | "too large" | string => {
  let output = Buffer.allocUnsafe(Math.min(limit, Math.max(64 * 1024, compressed.length * 8)))
  let length = 0
  const sink = {
    writeByte: (byte: number) => {
      if (length === output.length) {
        if (length >= limit) throw new TooLarge()
        const grown = Buffer.allocUnsafe(Math.min(limit, output.length * 2))
        output.copy(grown, 0, 0, length)
        output = grown
      }
      output[length++] = byte
    },
    flush: () => {}
  }
  try {
    Bunzip.decode(compressed, sink, true)
  } catch (error) {
    if (error instanceof TooLarge) return "too large"
    return error instanceof Error ? error.message : String(error)
  }
  return output.subarray(0, length)
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The deepest nesting of objects and arrays, counted without recursion, stopping past `limit`. */
const deeperThan = (value: unknown, limit: number): boolean => {
  const stack: Array<{ readonly value: unknown; readonly depth: number }> = [{ value, depth: 0 }]
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!
    if (typeof current !== "object" || current === null) continue
    if (depth + 1 > limit) return true
    for (const child of Object.values(current)) stack.push({ value: child, depth: depth + 1 })
  }
  return false
}

const text = (section: Record<string, unknown>, key: string): string | undefined => {
  const value = section[key]
  return typeof value === "string" ? value : undefined
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** A `..` segment (tested rather than split: a split makes a string per segment of each of 100,000s of paths). */
const PARENT_SEGMENT = /(?:^|\/)\.\.(?:\/|$)/

/** Reads a check-in payload (the one string parameter of `checkin`). */
export const readCheckinPayload = (
  payload: string,
  limits: CheckinPayloadLimits = CHECKIN_PAYLOAD_LIMITS
): CheckinPayload => {
  // URL-safe base64 as the client sends it; the standard alphabet, missing padding and line breaks are accepted.
  const base64 = payload.replace(/[\t\n\r ]/g, "")
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(base64) || base64.length % 4 === 1) {
    return invalid("the payload is not base64")
  }
  const compressed = Buffer.from(base64.replace(/-/g, "+").replace(/_/g, "/"), "base64")
  if (compressed.length < 4 || compressed.toString("latin1", 0, 3) !== "BZh") {
    return invalid("the payload is not bz2-compressed")
  }
  const json = bunzip(compressed, limits.decompressedBytes)
  if (json === "too large") return invalid(`the payload decompresses to more than ${limits.decompressedBytes} bytes`)
  if (typeof json === "string") return invalid(`the payload is not valid bz2: ${json}`)

  let document: unknown
  try {
    document = JSON.parse(utf8.decode(json))
  } catch (error) {
    return invalid(`the payload is not UTF-8 JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (deeperThan(document, limits.depth)) return invalid(`the payload nests deeper than ${limits.depth}`)
  if (!isObject(document)) return invalid("the payload is not a JSON object")
  if (document.version !== 0) return invalid("version is not 0")
  const { global, site, host } = document
  if (!isObject(global) || !isObject(site) || !isObject(host)) return invalid("global, site or host is missing")
  if (text(global, "enabled") !== "1") return invalid("global.enabled is not 1")
  const siteName = text(site, "name")
  const sitePassword = text(site, "password")
  const hostName = text(host, "name")
  if (!siteName || !sitePassword || !hostName) return invalid("site.name, site.password or host.name is empty")
  const userActive = text(host, "user_active")
  if (host.user_active !== undefined && userActive === undefined) return invalid("host.user_active is not a string")

  const categories: Array<CheckinCategory> = []
  let directories = 0
  for (const [key, section] of Object.entries(document)) {
    if (FIXED_SECTIONS.has(key)) continue
    if (!isObject(section) || !isObject(section.dirtree)) return invalid(`category ${key} has no dirtree object`)
    const enabled = section.enabled
    if (enabled !== undefined && typeof enabled !== "string") return invalid(`category ${key}: enabled is not a string`)
    const paths = new Set<string>()
    for (const raw of Object.keys(section.dirtree)) {
      if (++directories > limits.directories) return invalid(`more than ${limits.directories} directories`)
      const path = raw.replace(/^\/+|\/+$/g, "")
      if (Buffer.byteLength(path, "utf8") > limits.pathBytes) {
        return invalid(`category ${key}: a path is longer than ${limits.pathBytes} bytes`)
      }
      if (path.includes("\u0000") || PARENT_SEGMENT.test(path)) {
        return invalid(`category ${key}: path "${path.slice(0, 80)}" has a NUL or a .. segment`)
      }
      paths.add(path)
    }
    categories.push({ key, enabled: enabled === undefined || enabled === "1", directories: [...paths] })
  }

  const report: CheckinReport = {
    siteName,
    sitePassword: Redacted.make(sitePassword),
    hostName,
    userActive: userActive === undefined ? undefined : ACTIVE.has(userActive.toLowerCase()),
    categories
  }
  return { _tag: "Report", report }
}
