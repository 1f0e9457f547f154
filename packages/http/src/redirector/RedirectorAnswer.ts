// What the redirector answers (SPEC 3, 5): a request's path, query and client in, status, headers and body out.
// Synchronous, no database: everything comes from the Redirector's index.
import { type ClientAddress, type Netblock, netblockContains, parseClientAddress } from "@mirrormanager/actors/ipdata"
import type { ClientFacts, Redirector } from "@mirrormanager/actors/redirector"
import {
  encodePath,
  type IndexDirectory,
  type MirrorIndex,
  orderSelection,
  planSelection,
  type Selection
} from "@mirrormanager/actors/redirector"
import { isCountryCode, type MirrorUrlScheme, MirrorUrlSchemes } from "@mirrormanager/domain/registry"
import type { AccessFields, Answer, Endpoint } from "./Answer.ts"
import { AnswerCache, answerOf, type Plans, type Rendered } from "./AnswerCache.ts"
import {
  DEFAULT_SCHEMES,
  httpDate,
  metalinkFailure,
  metalinkParts,
  mirrorlistBody,
  mirrorlistHeader
} from "./MirrorlistFormat.ts"
import { ResolvedRequests } from "./ResolvedRequests.ts"

/** How many codes `country=` may list. */
const MAX_COUNTRIES = 32

/** Schemes a redirect may go to: https and http, or https only. */
const REDIRECT_SCHEMES: ReadonlyArray<ReadonlyArray<MirrorUrlScheme>> = [["https", "http"], ["https"]]

export interface RedirectorRequest {
  /** The path without the query. */
  readonly path: string
  /** The raw query string without `?`. */
  readonly query: string
  /** The TCP peer's address. */
  readonly peer: string | undefined
  readonly forwardedFor: string | undefined
}

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

/** The client: `X-Forwarded-For` walked from the right while the hops are trusted proxies (SPEC 3.1). */
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
const hasControl = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

interface Target {
  readonly directory: IndexDirectory
  /** A file inside the directory, or undefined for the directory itself. */
  readonly file: string | undefined
  readonly subject: string
  readonly repo: string | undefined
  readonly arch: string | undefined
  readonly path: string | undefined
}

type Resolved = { readonly target: Target } | Failure

interface Failure {
  readonly status: number
  readonly message: string
}

/** What a request asks for, worked out from its path and query alone (kept per path and query). */
interface Asked {
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

interface Resolution {
  readonly repo: string | undefined
  readonly arch: string | undefined
  readonly path: string | undefined
  readonly countme: string | undefined
  /** `ip=`: the address, null when it does not parse, undefined when absent. */
  readonly ip: ClientAddress | null | undefined
  readonly outcome: Asked | Failure
}

export interface AnswerOptions {
  readonly trustedProxies: ReadonlyArray<Netblock>
  /** Where answers are kept (a node has one, bounded by its settings); without, each redirector gets its own. */
  readonly answers?: AnswerCache
}

/** The caches of redirectors that were given none. */
const ownCaches = new WeakMap<Redirector["Service"], AnswerCache>()
const cacheOf = (redirector: Redirector["Service"], options: AnswerOptions): AnswerCache => {
  if (options.answers !== undefined) return options.answers
  let cache = ownCaches.get(redirector)
  if (cache === undefined) {
    cache = new AnswerCache(redirector.settings.answerCacheBytes)
    ownCaches.set(redirector, cache)
  }
  return cache
}

/** Requests worked out, per path and query (see ResolvedRequests); those that fail are worked out every time. */
const resolvedRequests = new ResolvedRequests<Resolution>(20_000, (resolution) => !("status" in resolution.outcome))

/** What the access log says of a request's path and query. */
const loggedFields = (endpoint: Endpoint, path: string, params: Map<string, string>) => ({
  repo: params.get("repo"),
  arch: params.get("arch"),
  path: endpoint === "download" ? path.slice("/download/".length) : params.get("path"),
  countme: params.get("countme")
})

const resolve = (index: MirrorIndex, endpoint: Endpoint, path: string, query: string): Resolution => {
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

const NO_NETWORK_FACTS = { asn: false, researchNetwork: false }

/** Plans for answers that are not kept: made for each. */
const planAfresh: Plans = (make) => make()

export const answer = (
  redirector: Redirector["Service"],
  options: AnswerOptions,
  request: RedirectorRequest
): Answer => {
  const endpoint = endpointOf(request.path)!
  const settings = redirector.settings
  const now = redirector.now()
  const metalink = endpoint === "metalink"
  const index = redirector.status().index
  const resolution =
    index === undefined
      ? undefined
      : resolvedRequests.get(index, request.path, request.query, () =>
          resolve(index, endpoint, request.path, request.query)
        )
  const fields = resolution ?? loggedFields(endpoint, request.path, parseQuery(request.query))
  const log: AccessFields = {
    client: undefined,
    country: undefined,
    repo: fields.repo,
    arch: fields.arch,
    path: fields.path,
    hosts: 0,
    countme: fields.countme,
    result: "ok"
  }
  const text = (status: number, body: string, extra: Record<string, string> = {}): Answer => {
    log.result = status === 200 ? log.result : body.split("\n")[0]!.replace(/^# /, "")
    const pubdate = httpDate(now)
    return metalink
      ? {
          endpoint,
          status,
          headers: { "content-type": "application/metalink+xml", "cache-control": "private", ...extra },
          body: [
            Buffer.from(
              metalinkFailure(pubdate, settings.generator, body.replace(/^# /, "").replace(/\n$/, "")),
              "utf8"
            )
          ],
          log
        }
      : {
          endpoint,
          status,
          headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "private", ...extra },
          body: [Buffer.from(body, "utf8")],
          log
        }
  }

  if (index === undefined || resolution === undefined) return text(503, "service starting", { "retry-after": "10" })

  // The client: as `ip=` says (when allowed), else the peer or what trusted proxies say.
  let client: ClientAddress | undefined
  if (resolution.ip !== undefined && settings.allowIpOverride) {
    if (resolution.ip === null) return text(400, "Cannot parse client IP address. Aborting.")
    client = resolution.ip
  } else {
    client = clientAddress(request.peer, request.forwardedFor, options.trustedProxies)
  }
  log.client = client?.text

  // What is asked for.
  const outcome = resolution.outcome
  if ("status" in outcome) {
    log.country = redirector.clientFacts(index, client, NO_NETWORK_FACTS).country
    return text(outcome.status, outcome.message)
  }
  // The client's ASN and R&E membership matter only where a carrier serves an ASN or sits on an R&E network.
  const view = index.carriers(outcome.target.directory)
  const facts = redirector.clientFacts(index, client, {
    asn: view.byAsn.size > 0,
    researchNetwork: view.research.length > 0
  })
  log.country = facts.country
  const compute = (plans: Plans) => fresh(redirector, index, endpoint, outcome, client, facts, plans)
  if (settings.answerVariants <= 0) return answerOf(compute(planAfresh), now, log)

  // Answers are kept per directory, request and client class as a few independently shuffled variants (see
  // AnswerCache). A client inside mirrors' netblocks is classed by those netblocks: which carriers, at which
  // prefix lengths.
  let netblocks = ""
  if (outcome.countries.length === 0 && outcome.netblockMatching && client !== undefined) {
    for (const level of index.netblockMatches(client)) {
      for (const id of level.values) if (view.allIds.has(id)) netblocks += `${level.prefixLength}:${id},`
    }
  }
  const asn = facts.asn !== undefined && view.byAsn.has(facts.asn) ? facts.asn : ""
  // The client's country matters only through its own carriers, its continent, R&E hosts and allowed-country
  // lists: a client from a country without carriers gets what any client of its continent would.
  const cc = facts.country
  const place =
    cc === undefined
      ? "?"
      : view.byCountry.has(cc) || view.restricted || facts.researchNetwork
        ? cc
        : `@${index.continentOf(cc) ?? "?"}`
  const clientClass = `${place}|${asn}|${netblocks}|${facts.researchNetwork ? 1 : 0}|${client?.family ?? 0}`
  return cacheOf(redirector, options).answer(
    view,
    outcome.key,
    clientClass,
    { variants: settings.answerVariants, refresh: Math.max(1, settings.answerRefresh) },
    redirector.random(),
    now,
    log,
    index.reasonVersion,
    compute
  )
}

/** Selection and rendering of one answer for a resolved request. */
const fresh = (
  redirector: Redirector["Service"],
  index: MirrorIndex,
  endpoint: Endpoint,
  asked: Asked,
  client: ClientAddress | undefined,
  facts: ClientFacts,
  plans: Plans
): Rendered => {
  const settings = redirector.settings
  const { target, countries, protocols, netblockMatching, redirecting } = asked
  // Selection sees only the schemes the answer can list, so the global fill counts hosts that will be listed: a
  // host with only rsync URLs is no mirror for a plain list, an ftp-only host none for a redirect.
  const listable: ReadonlyArray<MirrorUrlScheme> = redirecting
    ? REDIRECT_SCHEMES[settings.httpsOnly ? 1 : 0]!.filter((s) => protocols === undefined || protocols.includes(s))
    : (protocols ?? DEFAULT_SCHEMES)
  const plan = plans(
    () =>
      planSelection(
        index,
        { directory: target.directory, client, countries, netblockMatching, protocols: listable },
        redirector.selectionOptions(facts)
      ),
    (made) => made.groups.reduce((sum, group) => sum + 8 * group.hosts.length + 64, 0)
  )
  const selection = orderSelection(plan, redirector.random())
  const hosts = selection.hosts.length
  const empty = hosts === 0 ? whyEmpty(index, target.directory, selection, listable, redirecting, facts) : undefined

  if (redirecting) return redirect(endpoint, target, selection, empty)

  if (endpoint === "metalink") {
    const file = target.file!
    const all = target.directory.files.get(file) ?? []
    const newest = all[0]!
    const window = newest.timestamp - settings.maxStaleDays * 86_400
    const details = [newest, ...all.slice(1).filter((d) => d.timestamp >= window)]
    return {
      endpoint,
      status: 200,
      headers: METALINK_HEADERS,
      body: metalinkParts(
        settings.generator,
        {
          name: file,
          details,
          subpath: target.directory.urlSubpath,
          tail: `/${encodePath(file)}`,
          emptyNote: empty
        },
        selection.hosts,
        protocols
      ),
      hosts,
      result: "ok"
    }
  }

  const notes: Array<string> = []
  if (asked.unknownCountries.length > 0) {
    notes.push(`country = ${asked.unknownCountries.join(",")} ignored: not a country code`)
  }
  if (empty !== undefined) notes.push(empty)
  const header = mirrorlistHeader(
    {
      subject: target.subject,
      protocols,
      databaseTime: asked.time ? Math.floor(index.builtAt / 1000) : undefined,
      notes
    },
    selection
  )
  const tail = target.file === undefined ? "/" : `/${encodePath(target.file)}`
  return {
    endpoint,
    status: 200,
    headers: TEXT_HEADERS,
    body: mirrorlistBody(header, selection.hosts, target.directory.urlSubpath, tail, protocols),
    hosts,
    result: "ok"
  }
}

/** Names as they go into a comment line: no control characters. */
const plain = (text: string) => (hasControl(text) ? Array.from(text, (c) => (hasControl(c) ? " " : c)).join("") : text)

const hostCount = (n: number) => (n === 1 ? "1 host" : `${n} hosts`)

/** Why an answer lists no mirror, in plain words, for a comment of the answer (SPEC 3.5: still a 200). */
const whyEmpty = (
  index: MirrorIndex,
  directory: IndexDirectory,
  selection: Selection,
  listable: ReadonlyArray<MirrorUrlScheme>,
  redirecting: boolean,
  facts: ClientFacts
): string => {
  switch (selection.empty) {
    case "protocol":
      if (listable.length === 0) {
        return "a redirect goes to an https or http URL, and protocol= allows neither"
      }
      return `no mirror offers protocol(s) ${listable.join(",")}${redirecting ? " (redirects go to https or http URLs only)" : ""}`
    case "private-only":
      return "no public mirror carries this; the private mirrors that do serve only clients in their own networks"
    case "countries-allowed":
      return `every mirror carrying this serves only clients of the countries it lists, and ${facts.country === undefined ? "this client's country is not known" : `${facts.country} is not one of them`}`
    case "no-match":
      return "no mirror matched this client's networks, countries or continent, and the worldwide list is off (selection minimum 0)"
    default: {
      const reason = index.noCarrierReason(directory)
      switch (reason.kind) {
        case "no-category":
          return "no mirror carries this: it belongs to no category"
        case "no-host":
          return `no mirror carries this yet: no active host has the category "${plain(reason.category)}"`
        case "no-url":
          return `no mirror carries this: the ${hostCount(reason.hosts)} with the category "${plain(reason.category)}" have no usable URL (each private, unreachable or with an invalid TLS certificate)`
        case "repodata":
          return `no mirror carries this repository: its repodata/ is stale or not yet verified on the ${hostCount(reason.hosts)} up to date on its directory`
        case "stale":
          return `no mirror carries this yet: none of the ${hostCount(reason.hosts)} with the category "${plain(reason.category)}" is up to date on it (stale, or not yet verified by a check-in or a crawl)`
      }
    }
  }
}

const METALINK_HEADERS = { "content-type": "application/metalink+xml", "cache-control": "private" }
const TEXT_HEADERS = { "content-type": "text/plain; charset=utf-8", "cache-control": "private" }

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
      if (!metalink) return { target: { directory, file: undefined, subject, repo: undefined, arch: undefined, path } }
      const repodata = index.directoryByName(`${path}/repodata`)
      if (repodata?.files.has("repomd.xml")) {
        return { target: { directory: repodata, file: "repomd.xml", subject, repo: undefined, arch: undefined, path } }
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
    return { target: { directory: parent, file, subject, repo: undefined, arch: undefined, path } }
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
  if (!metalink) return { target: { directory, file: undefined, subject, repo, arch, path: undefined } }
  const repodata = index.directoryByName(`${directory.name}/repodata`)
  if (repodata === undefined || !repodata.files.has("repomd.xml")) {
    return { status: 404, message: `# ${directory.name}/repodata/repomd.xml not found or has not metalink\n` }
  }
  return { target: { directory: repodata, file: "repomd.xml", subject, repo, arch, path: undefined } }
}

/** Selection already kept only the schemes a redirect may use, https first: each host's first URL is its best. */
const redirect = (endpoint: Endpoint, target: Target, selection: Selection, empty: string | undefined): Rendered => {
  // Header values: the path percent-encoded segment by segment (a file name may hold any character, `#` and `?`
  // too, which would end the path).
  const tail = target.file === undefined ? "/" : `/${encodePath(target.file)}`
  const candidates: Array<{ url: string; country: string }> = []
  const subpath = target.directory.urlSubpath
  const path = subpath === "" ? tail : `/${subpath}${tail}`
  for (const { host, urls } of selection.hosts) {
    const url = urls[0]
    if (url !== undefined) candidates.push({ url: `${url.url}${path}`, country: host.country })
  }
  const hosts = selection.hosts.length
  const cacheControl = "private, no-cache"
  if (candidates.length === 0) {
    return {
      endpoint,
      status: 404,
      headers: { "content-type": "text/plain; charset=utf-8", "cache-control": cacheControl },
      body: `no mirror available\n${empty === undefined ? "" : `# ${empty}\n`}`,
      hosts,
      result: "no mirror available"
    }
  }
  const headers: Record<string, string | ReadonlyArray<string>> = {
    location: candidates[0]!.url,
    "cache-control": cacheControl,
    link: candidates
      .slice(0, 5)
      .map((c, i) => `<${c.url}>; rel=duplicate; pri=${i + 1}; geo=${c.country.toLowerCase()}`)
  }
  const newest = target.file === undefined ? undefined : target.directory.files.get(target.file)?.[0]
  if (newest?.sha256 != null && /^[0-9a-f]{64}$/i.test(newest.sha256)) {
    const digest = Buffer.from(newest.sha256, "hex").toString("base64")
    headers.digest = `SHA-256=${digest}`
    headers["repr-digest"] = `sha-256=:${digest}:`
  }
  return { endpoint, status: 302, headers, body: "", hosts, result: "redirect" }
}
