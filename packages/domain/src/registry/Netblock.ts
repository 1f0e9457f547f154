// Parsing and normalising of client networks (CIDR v4/v6, bare address, dotted mask, DNS name).
import ipaddr from "ipaddr.js"

export type ParsedNetblock =
  | { readonly kind: "cidr"; readonly family: "ipv4" | "ipv6"; readonly prefix: number; readonly normalized: string }
  | { readonly kind: "dns"; readonly normalized: string }

export type NetblockResult =
  | { readonly ok: true; readonly value: ParsedNetblock }
  | {
      readonly ok: false
      readonly error: string
    }

const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/i

const fail = (error: string): NetblockResult => ({ ok: false, error })

const parseAddress = (text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined => {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text)
  if (!text.includes("%") && ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text)
  return undefined
}

/** Parses a netblock as a site admin types it; host bits are cleared, IPv4-mapped IPv6 becomes IPv4. */
export const parseNetblock = (input: string): NetblockResult => {
  const text = input.trim()
  if (text.length === 0) return fail("netblock is empty")
  const slash = text.indexOf("/")
  const addressText = slash < 0 ? text : text.slice(0, slash)
  let address = parseAddress(addressText)
  if (address === undefined) {
    if (slash < 0 && DNS_NAME.test(text)) return { ok: true, value: { kind: "dns", normalized: text.toLowerCase() } }
    return fail(`"${input}" is neither an IPv4/IPv6 network in CIDR notation nor a DNS name`)
  }
  const maxPrefix = address.kind() === "ipv4" ? 32 : 128
  let prefix = maxPrefix
  if (slash >= 0) {
    const maskText = text.slice(slash + 1)
    if (/^\d{1,3}$/.test(maskText)) {
      prefix = Number(maskText)
    } else if (address.kind() === "ipv4" && ipaddr.IPv4.isValidFourPartDecimal(maskText)) {
      const fromMask = ipaddr.IPv4.parse(maskText).prefixLengthFromSubnetMask()
      if (fromMask === null) return fail(`"${maskText}" is not a contiguous subnet mask`)
      prefix = fromMask
    } else {
      return fail(`"${maskText}" is not a prefix length`)
    }
    if (prefix > maxPrefix) return fail(`prefix length /${prefix} is larger than ${maxPrefix}`)
  }
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() && prefix >= 96) {
    address = address.toIPv4Address()
    prefix -= 96
  }
  const network =
    address instanceof ipaddr.IPv4
      ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${prefix}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefix}`)
  return {
    ok: true,
    value: { kind: "cidr", family: address.kind(), prefix, normalized: `${network.toString()}/${prefix}` }
  }
}

/**
 * The largest networks a site admin may claim: /16 for IPv4, /32 for IPv6 (docs/registry.md#who-may-do-what,
 * netblock.maxSize*).
 */
export interface NetblockLimits {
  readonly maxSizeV4: number
  readonly maxSizeV6: number
}

export const defaultNetblockLimits: NetblockLimits = { maxSizeV4: 16, maxSizeV6: 32 }

export const isWithinLimits = (netblock: ParsedNetblock, limits: NetblockLimits): boolean =>
  netblock.kind === "dns" || netblock.prefix >= (netblock.family === "ipv4" ? limits.maxSizeV4 : limits.maxSizeV6)
