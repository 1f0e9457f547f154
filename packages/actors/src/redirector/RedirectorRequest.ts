// What a redirector request asks for: its endpoint, its query, the directory or file it names (a path, or a
// repository and arch, through the repository redirects), the countries and protocols it restricts the answer to,
// and the client it comes from (behind trusted proxies). Worked out from the path and query alone, against one index.
import { isCountryCode, type MirrorUrlScheme, MirrorUrlSchemes } from "@mirrormanager/domain/registry"
import { type ClientAddress, type Netblock, netblockContains, parseClientAddress } from "../ipdata/index.ts"
import type { IndexDirectory, MirrorIndex } from "./MirrorIndex.ts"

export type Endpoint = "mirrorlist" | "metalink" | "download"

export interface RedirectorRequest {
  /** The path without the query. */
  readonly path: string
  /** The raw query string without `?`. */
  readonly query: string
  /** The TCP peer's address. */
  readonly peer: string | undefined
  readonly forwardedFor: string | undefined
}

/** How many codes `country=` may list. */
const MAX_COUNTRIES = 32

/** Which endpoint a path is, if any: any path ending in /mirrorlist or /metalink, and /download/<path>. */
export const endpointOf = (path: string): Endpoint | undefined => {
  if (path.endsWith("/mirrorlist")) return "mirrorlist"
  if (path.endsWith("/metalink")) return "metalink"
  if (path.startsWith("/download/")) return "download"
  return undefined
}

/** Query parameters, percent-decoded; `+` stays a `+`; the first occurrence of a name wins. */
export const parseQuery = (query: string): Map<string, string> => {
  const params = new Map<string, string>()
  if (query.length === 0) return params
  for (const part of query.split("&")) {
    if (part.length === 0) continue
    const eq = part.indexOf("=")
    const name = decode(eq < 0 ? part : part.slice(0, eq))
    if (!params.has(name)) params.set(name, eq < 0 ? "" : decode(part.slice(eq + 1)))
  }
  return params
}

const decode = (text: string) => {
  if (!text.includes("%")) return text
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Trims `/`, collapses runs of `/`; undefined for `.` or `..` segments. */
export const normalisePath = (path: string): string | undefined => {
  const segments = path.split("/").filter((s) => s.length > 0)
  if (segments.some((s) => s === "." || s === "..")) return undefined
  return segments.join("/")
}

/**
 * The client: `X-Forwarded-For` walked from the right while the hops are trusted proxies
 * (docs/redirector.md#client-address).
 */
export const clientAddress = (
  peer: string | undefined,
  forwardedFor: string | undefined,
  trustedProxies: ReadonlyArray<Netblock>
): ClientAddress | undefined => {
  const direct = peer === undefined ? undefined : parseClientAddress(peer)
  const trusted = (address: ClientAddress) => trustedProxies.some((n) => netblockContains(n, address))
  if (direct === undefined || forwardedFor === undefined || trustedProxies.length === 0 || !trusted(direct)) {
    return direct
  }
  // Only trusted hops vouch for the entry to their left; an entry that is not an address (a port, "unknown") ends
  // the walk at the last hop that was one.
  let client = direct
  const hops = forwardedFor.split(",")
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseClientAddress(hops[i]!.trim())
    if (hop === undefined) return client
    client = hop
    if (!trusted(hop)) return hop
  }
  return client
}

/** A comma list, lower-cased, without empty items and duplicates, in order; undefined past `limit` items. */
const normaliseList = (value: string, limit: number): Array<string> | undefined => {
  const out = new Set<string>()
  for (const item of value.split(",", 4 * limit)) {
    const token = item.trim().toLowerCase()
    if (token.length === 0) continue
    out.add(token)
    if (out.size > limit) return undefined
  }
  return [...out]
}

const COUNTRY_CODE = /^(?:[A-Z]{2}|GLOBAL)$/

/** Control characters (and DEL) would reach header lines, URLs and XML comments: never accepted in a request. */
export const hasControl = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

/** The directory (or the file in it) a request names. */
export interface Target {
  readonly directory: IndexDirectory
  /** A file inside the directory, or undefined for the directory itself. */
  readonly file: string | undefined
  /** `repo = R arch = A ` or `path = P `, as the mirrorlist's header names it. */
  readonly subject: string
}

/** A request that cannot be answered with mirrors: its status and the message that says why. */
export interface Failure {
  readonly status: number
  readonly message: string
}

type Resolved = { readonly target: Target } | Failure

/** What a request asks for, worked out from its path and query alone (kept per path and query). */
export interface Asked {
  readonly target: Target
  readonly countries: ReadonlyArray<string>
  /** Well-formed `country=` codes that are no country (`ZZ`): ignored, as upstream does, and said so. */
  readonly unknownCountries: ReadonlyArray<string>
  readonly protocols: ReadonlyArray<MirrorUrlScheme> | undefined
  readonly netblockMatching: boolean
  readonly redirecting: boolean
  readonly time: boolean
  /** Everything of the request that shapes the answer besides the client: the answer cache's request key. */
  readonly key: string
}

/** What the access log says of a request's path and query. */
export interface LoggedFields {
  readonly repo: string | undefined
  readonly arch: string | undefined
  readonly path: string | undefined
  readonly countme: string | undefined
}

export interface Resolution extends LoggedFields {
  /** `ip=`: the address, null when it does not parse, undefined when absent. */
  readonly ip: ClientAddress | null | undefined
  readonly outcome: Asked | Failure
}

export const loggedFields = (endpoint: Endpoint, path: string, params: Map<string, string>): LoggedFields => ({
  repo: params.get("repo"),
  arch: params.get("arch"),
  path: endpoint === "download" ? path.slice("/download/".length) : params.get("path"),
  countme: params.get("countme")
})

/** A request's path and query against an index: what it asks for, or why it cannot be answered. */
export const resolveRequest = (index: MirrorIndex, endpoint: Endpoint, path: string, query: string): Resolution => {
  const params = parseQuery(query)
  const ipParam = params.get("ip")
  const resolution = {
    ...loggedFields(endpoint, path, params),
    ip: ipParam === undefined ? undefined : (parseClientAddress(ipParam) ?? null)
  }
  const resolved = resolveTarget(index, endpoint, params, path)
  if ("status" in resolved) return { ...resolution, outcome: resolved }
  const target = resolved.target
  const fail = (status: number, message: string): Resolution => ({ ...resolution, outcome: { status, message } })
  const countries = normaliseList(params.get("country") ?? params.get("cc") ?? "", MAX_COUNTRIES)?.map((c) =>
    c.toUpperCase()
  )
  if (countries === undefined) return fail(400, `# at most ${MAX_COUNTRIES} countries may be requested\n`)
  if (countries.some((c) => !COUNTRY_CODE.test(c))) {
    return fail(400, "# country= takes two-letter country codes or global\n")
  }
  const known = countries.filter((c) => c === "GLOBAL" || isCountryCode(c))
  const unknownCountries = countries.filter((c) => c !== "GLOBAL" && !isCountryCode(c))
  const protocolParam = params.get("protocol")
  const protocols = protocolParam === undefined ? undefined : normaliseList(protocolParam, MirrorUrlSchemes.length)
  if (
    protocols !== undefined &&
    (protocols.length === 0 || protocols.some((p) => !(MirrorUrlSchemes as ReadonlyArray<string>).includes(p)))
  ) {
    return fail(400, `# protocol= takes a list of ${MirrorUrlSchemes.join(", ")}\n`)
  }
  const netblockParam = params.get("netblock")
  const redirecting = endpoint === "download" || (endpoint === "mirrorlist" && params.has("redirect"))
  const netblockMatching = netblockParam === undefined || netblockParam === "1"
  const time = params.has("time")
  const key = `${endpoint}|${target.subject}|${target.file ?? ""}|${known.join(",")}|${unknownCountries.join(",")}|${protocols === undefined ? "*" : protocols.join(",")}|${netblockMatching ? 1 : 0}|${time ? 1 : 0}|${redirecting ? 1 : 0}`
  return {
    ...resolution,
    outcome: {
      target,
      countries: known,
      unknownCountries,
      protocols: protocols as ReadonlyArray<MirrorUrlScheme> | undefined,
      netblockMatching,
      redirecting,
      time,
      key
    }
  }
}

const resolveTarget = (
  index: MirrorIndex,
  endpoint: Endpoint,
  params: Map<string, string>,
  requestPath: string
): Resolved => {
  const metalink = endpoint === "metalink"
  const rawPath = endpoint === "download" ? decode(requestPath.slice("/download/".length)) : params.get("path")
  if (rawPath !== undefined && (endpoint === "download" || rawPath.length > 0)) {
    if (hasControl(rawPath)) return { status: 404, message: "# path = (with control characters) error: invalid path\n" }
    const path = normalisePath(rawPath)
    const invalid = { status: 404, message: `# path = ${path ?? rawPath} error: invalid path\n` }
    if (path === undefined || path.length === 0) return invalid
    const subject = `path = ${path} `
    const directory = index.directoryByName(path)
    if (directory !== undefined) {
      if (!metalink) return { target: { directory, file: undefined, subject } }
      const repodata = index.directoryByName(`${path}/repodata`)
      if (repodata?.files.has("repomd.xml")) {
        return { target: { directory: repodata, file: "repomd.xml", subject } }
      }
      return { status: 404, message: `# ${path}/repodata/repomd.xml not found or has not metalink\n` }
    }
    const slash = path.lastIndexOf("/")
    const parent = slash < 0 ? undefined : index.directoryByName(path.slice(0, slash))
    if (parent === undefined) return invalid
    const file = path.slice(slash + 1)
    if (metalink && !parent.files.has(file)) {
      return { status: 404, message: `# ${path} not found or has not metalink\n` }
    }
    return { target: { directory: parent, file, subject } }
  }
  const repoParam = params.get("repo")
  const archParam = params.get("arch")
  if (repoParam === undefined || archParam === undefined || repoParam === "" || archParam === "") {
    return { status: 400, message: "# either path=, or repo= and arch= must be specified\n" }
  }
  if (hasControl(repoParam) || hasControl(archParam)) {
    return { status: 400, message: "# repo= and arch= must not contain control characters\n" }
  }
  const repo = index.redirect(repoParam) ?? repoParam
  const arch = repo.includes("source") ? "source" : archParam
  const subject = `repo = ${repo} arch = ${arch} `
  const repository = index.repository(repo, arch)
  if (repository === undefined) {
    const available = index
      .allRepositories()
      .map((r) => `# repo=${r.prefix}&arch=${r.arch}\n`)
      .join("")
    return {
      status: 404,
      message: `# ${subject}error: invalid repo or arch\n# following repositories are available:\n${available}`
    }
  }
  if (repository.disabled) return { status: 200, message: `# ${subject}error: repo disabled\n` }
  const directory = index.directory(repository.directoryId)
  if (directory === undefined) {
    return { status: 500, message: "internal error: repository directory missing from index" }
  }
  if (!metalink) return { target: { directory, file: undefined, subject } }
  const repodata = index.directoryByName(`${directory.name}/repodata`)
  if (repodata === undefined || !repodata.files.has("repomd.xml")) {
    return { status: 404, message: `# ${directory.name}/repodata/repomd.xml not found or has not metalink\n` }
  }
  return { target: { directory: repodata, file: "repomd.xml", subject } }
}
