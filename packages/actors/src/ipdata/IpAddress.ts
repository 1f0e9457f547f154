// Client addresses and netblocks as bytes, the form the Redirector's lookups walk (docs/redirector.md#client-address:
// IPv4-mapped IPv6 is IPv4 before any lookup). Also the fast text scanners the bulk loaders of prefix and range files
// use.
import { parseNetblock as parseNetblockText } from "@mirrormanager/domain/registry"
import ipaddr from "ipaddr.js"

export type AddressFamily = 4 | 6

/** A client's address: 4 or 16 bytes in network order; `text` is the normalised form (RFC 5952 for IPv6). */
export interface ClientAddress {
  readonly family: AddressFamily
  readonly bytes: Uint8Array
  readonly text: string
}

/** A network: its address with the host bits cleared, and its prefix length; `text` is `address/length`. */
export interface Netblock {
  readonly family: AddressFamily
  readonly bytes: Uint8Array
  readonly prefixLength: number
  readonly text: string
}

const addressOf = (address: ipaddr.IPv4 | ipaddr.IPv6): ClientAddress =>
  address instanceof ipaddr.IPv4
    ? { family: 4, bytes: Uint8Array.from(address.toByteArray()), text: address.toString() }
    : { family: 6, bytes: Uint8Array.from(address.toByteArray()), text: address.toString() }

const scratch = new Uint32Array(4)

/** Four 32-bit words as RFC 5952 text: lower case, no leading zeros, the longest run of 2+ zero groups as `::`. */
const formatIPv6 = (words: Uint32Array): string => {
  const groups: Array<number> = []
  for (let w = 0; w < 4; w++) groups.push(words[w]! >>> 16, words[w]! & 0xffff)
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = (list: Array<number>) => list.map((g) => g.toString(16)).join(":")
  if (bestStart < 0) return hex(groups)
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`
}

/**
 * Parses a client address: dotted-quad IPv4 (no leading zeros, no short forms) or IPv6, with or without brackets;
 * zones (`fe80::1%eth0`) are refused. `::ffff:a.b.c.d` comes back as the IPv4 address a.b.c.d.
 * (ipaddr.js also reads the deprecated IPv4-compatible `::a.b.c.d` as mapped, so that becomes IPv4 too.)
 */
export const parseClientAddress = (input: string): ClientAddress | undefined => {
  // The common case first, without ipaddr.js: a dotted quad as the socket or `ip=` gives it.
  const word = scanIPv4(input, 0, input.length)
  if (word >= 0) {
    return {
      family: 4,
      bytes: Uint8Array.of(word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff),
      text: input
    }
  }
  let text = input.trim()
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1)
  // IPv6 without ipaddr.js either (its IPv4 check throws and catches for every IPv6 address).
  if (text.includes(":") && !text.includes("%") && scanIPv6(text, 0, text.length, scratch, 0)) {
    const [w0, w1, w2, w3] = scratch as unknown as [number, number, number, number]
    if (w0 === 0 && w1 === 0 && w2 === 0xffff) {
      return {
        family: 4,
        bytes: Uint8Array.of(w3 >>> 24, (w3 >>> 16) & 0xff, (w3 >>> 8) & 0xff, w3 & 0xff),
        text: `${w3 >>> 24}.${(w3 >>> 16) & 0xff}.${(w3 >>> 8) & 0xff}.${w3 & 0xff}`
      }
    }
    if (!(w0 === 0 && w1 === 0 && w2 === 0 && text.includes("."))) {
      const bytes = new Uint8Array(16)
      for (let w = 0; w < 4; w++) {
        const word = scratch[w]!
        bytes[4 * w] = word >>> 24
        bytes[4 * w + 1] = (word >>> 16) & 0xff
        bytes[4 * w + 2] = (word >>> 8) & 0xff
        bytes[4 * w + 3] = word & 0xff
      }
      return { family: 6, bytes, text: formatIPv6(scratch) }
    }
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return addressOf(ipaddr.IPv4.parse(text))
  if (text.includes("%") || !ipaddr.IPv6.isValid(text)) return undefined
  const address = ipaddr.IPv6.parse(text)
  return addressOf(address.isIPv4MappedAddress() ? address.toIPv4Address() : address)
}

/**
 * Parses a netblock as the registry stores it (`10.1.0.0/16`, `2001:db8::/32`, a bare address as /32 or /128, an
 * IPv4 dotted mask) with the domain's rules: host bits cleared, IPv4-mapped IPv6 as IPv4. The error says why not.
 */
export const parseNetblockOrError = (input: string): Netblock | string => {
  const parsed = parseNetblockText(input)
  if (!parsed.ok) return parsed.error
  if (parsed.value.kind !== "cidr") return `"${input}" is a DNS name, not an IP network`
  const [address, prefixLength] = ipaddr.parseCIDR(parsed.value.normalized)
  const { family, bytes } = addressOf(address)
  return { family, bytes, prefixLength, text: parsed.value.normalized }
}

export const parseNetblockBytes = (input: string): Netblock | undefined => {
  const result = parseNetblockOrError(input)
  return typeof result === "string" ? undefined : result
}

/** Whether `address` lies inside `netblock` (same family, first `prefixLength` bits equal). */
export const netblockContains = (netblock: Netblock, address: ClientAddress): boolean => {
  if (netblock.family !== address.family) return false
  const whole = netblock.prefixLength >> 3
  for (let i = 0; i < whole; i++) if (netblock.bytes[i] !== address.bytes[i]) return false
  const rest = netblock.prefixLength & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return ((netblock.bytes[whole]! ^ address.bytes[whole]!) & mask) === 0
}

/** Formats 4 or 16 bytes as an address (RFC 5952 for IPv6). */
export const formatAddress = (bytes: Uint8Array): string => ipaddr.fromByteArray(Array.from(bytes)).toString()

// ---- Fast scanners for bulk files (hundreds of thousands of lines): no allocation per address. ----

const isDigit = (c: number) => c >= 48 && c <= 57

const hexValue = (c: number): number => {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

/** Reads a dotted-quad IPv4 address from `text[start, end)` as an unsigned 32-bit number, or -1. */
export const scanIPv4 = (text: string, start: number, end: number): number => {
  let value = 0
  let parts = 0
  let i = start
  while (i < end) {
    const first = i
    let octet = 0
    while (i < end && isDigit(text.charCodeAt(i))) {
      octet = octet * 10 + (text.charCodeAt(i) - 48)
      i++
    }
    const digits = i - first
    if (digits === 0 || digits > 3 || octet > 255 || (digits > 1 && text.charCodeAt(first) === 48)) return -1
    value = value * 256 + octet
    parts++
    if (i === end) break
    if (text.charCodeAt(i) !== 46 || parts === 4) return -1
    i++
    if (i === end) return -1
  }
  return parts === 4 ? value : -1
}

const groups = new Int32Array(8)

/**
 * Reads an IPv6 address from `text[start, end)` into `out[offset..offset+3]` as four unsigned 32-bit words
 * (most significant first); false when it is not an IPv6 address. Accepts `::`, upper or lower case, and a dotted
 * IPv4 tail (taken as written: `::1.2.3.4` is ::102:304). No zones.
 */
export const scanIPv6 = (text: string, start: number, end: number, out: Uint32Array, offset: number): boolean => {
  let count = 0
  let gap = -1
  let i = start
  if (end - start < 2) return false
  if (text.charCodeAt(i) === 58) {
    if (text.charCodeAt(i + 1) !== 58) return false
    gap = 0
    i += 2
  }
  while (i < end) {
    const first = i
    let group = 0
    while (i < end && i - first < 5) {
      const h = hexValue(text.charCodeAt(i))
      if (h < 0) break
      group = group * 16 + h
      i++
    }
    const digits = i - first
    if (digits === 0 || digits > 4) return false
    if (i < end && text.charCodeAt(i) === 46) {
      if (count > 6) return false
      const v4 = scanIPv4(text, first, end)
      if (v4 < 0) return false
      groups[count++] = v4 >>> 16
      groups[count++] = v4 & 0xffff
      i = end
      break
    }
    if (count === 8) return false
    groups[count++] = group
    if (i === end) break
    if (text.charCodeAt(i) !== 58) return false
    i++
    if (i < end && text.charCodeAt(i) === 58) {
      if (gap >= 0) return false
      gap = count
      i++
    } else if (i === end) {
      return false
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return false
  const zeros = 8 - count
  for (let w = 0; w < 4; w++) {
    let word = 0
    for (let g = 2 * w; g < 2 * w + 2; g++) {
      const value = gap < 0 || g < gap ? groups[g]! : g < gap + zeros ? 0 : groups[g - zeros]!
      word = word * 65536 + value
    }
    out[offset + w] = word
  }
  return true
}

/** Reads a decimal number of at most 128 bits from `text[start, end)` into four 32-bit words; false if not one. */
export const scanDecimal128 = (text: string, start: number, end: number, out: Uint32Array, offset: number): boolean => {
  if (start === end || end - start > 39 || (end - start > 1 && text.charCodeAt(start) === 48)) return false
  out[offset] = out[offset + 1] = out[offset + 2] = out[offset + 3] = 0
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (!isDigit(c)) return false
    let carry = c - 48
    for (let w = offset + 3; w >= offset; w--) {
      const product = out[w]! * 10 + carry
      out[w] = product % 4294967296
      carry = Math.floor(product / 4294967296)
    }
    if (carry !== 0) return false
  }
  return true
}

/** The 4 bytes of an IPv4 address as one unsigned 32-bit number. */
export const ipv4Word = (bytes: Uint8Array): number =>
  ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0

/** The 16 bytes of an IPv6 address as four unsigned 32-bit words, written to `out`. */
export const ipv6Words = (bytes: Uint8Array, out: Uint32Array): Uint32Array => {
  for (let w = 0; w < 4; w++) {
    const b = 4 * w
    out[w] = ((bytes[b]! << 24) | (bytes[b + 1]! << 16) | (bytes[b + 2]! << 8) | bytes[b + 3]!) >>> 0
  }
  return out
}
