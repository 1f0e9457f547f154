// Mirror selection (docs/redirector.md#selection): which hosts a client gets for a directory, in which order, and the
// header tokens that explain it. Pure and synchronous: the index, the client facts and a random source in, hosts out.
import type { MirrorUrlScheme } from "@mirrormanager/domain/registry"
import type { ClientAddress } from "../ipdata/index.ts"
import type { HostUrlSource } from "./IndexSource.ts"
import { type CarrierView, type IndexDirectory, type IndexHost, type MirrorIndex, SCHEME_BITS } from "./MirrorIndex.ts"

/** Uniform numbers in (0, 1). Production seeds one per request from a secure source; tests fix the seed. */
export interface RandomSource {
  readonly next: () => number
}

/** sfc32, a small fast generator with a 128-bit state; never returns 0. */
export const seededRandom = (seed: ArrayLike<number>): RandomSource => {
  let a = seed[0]! | 0
  let b = seed[1]! | 0
  let c = seed[2]! | 0
  let d = seed[3]! | 0
  const step = () => {
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return t >>> 0
  }
  for (let i = 0; i < 12; i++) step()
  return { next: () => (step() + 0.5) / 4294967296 }
}

export interface SelectionOptions {
  /** Global fill below this many hosts (docs/operations.md#configuration `selection.minimum`). */
  readonly minimum: number
  /** Whether an R&E prefix list is configured and contains the client (step 4). */
  readonly researchNetwork: boolean
  /** The client's ASN from the prefix→ASN table. */
  readonly clientAsn: number | undefined
  /** The client's country: NetblockCountry override, else GeoIP; undefined = unknown. */
  readonly clientCountry: string | undefined
}

export interface SelectionRequest {
  readonly directory: IndexDirectory
  readonly client: ClientAddress | undefined
  /** Requested countries, upper-case, deduplicated, `GLOBAL` for all; empty = none. */
  readonly countries: ReadonlyArray<string>
  readonly netblockMatching: boolean
  /** `protocol=`, normalised; undefined = not given. */
  readonly protocols: ReadonlyArray<MirrorUrlScheme> | undefined
}

export interface SelectedHost {
  readonly host: IndexHost
  /** The host's usable URLs for the directory's category that pass the protocol filter, https first. */
  readonly urls: ReadonlyArray<HostUrlSource>
}

/** What a selection's header says of how its hosts were found. */
export interface SelectionHeader {
  readonly netblock: boolean
  readonly asn: number | undefined
  readonly researchNetwork: boolean
  /** Country groups that contributed hosts, in output order. */
  readonly countries: ReadonlyArray<string>
  /** `global` was requested or the global fill was appended. */
  readonly global: boolean
  /** Why no host was selected ("protocol": hosts were found but the protocol filter removed them, step 13); undefined
   * when some were. */
  readonly empty: EmptyReason | undefined
}

/**
 * Why a selection is empty: nobody carries the directory (see MirrorIndex.noCarrierReason), only private hosts do
 * and the client is in none of their networks, the protocol filter removed every carrier, or every carrier serves
 * only clients of countries other than the client's, or (with a minimum of 0, no global fill) nothing matched the
 * client's networks, countries or continent.
 */
export type EmptyReason = "no-carrier" | "private-only" | "protocol" | "countries-allowed" | "no-match"

export interface Selection extends SelectionHeader {
  readonly hosts: ReadonlyArray<SelectedHost>
}

const shuffle = <A>(items: Array<A>, random: RandomSource): Array<A> => {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1))
    const t = items[i]!
    items[i] = items[j]!
    items[j] = t
  }
  return items
}

/** Hosts a packed weighted shuffle sorts at once: their index goes in the low bits of the sort key. */
const PACKED_HOSTS = 4096
/** Precision of a packed sort key: 40 bits of u^(1/w) above the 12 bits of the index (exact in a double). */
const KEY_SCALE = 2 ** 40

/**
 * The sort keys of a packed shuffle, kept between selections (a selection runs to its end before another starts):
 * a typed array of this size has a buffer of its own, slow to make and to collect, and every fresh answer shuffles.
 */
let packedScratch = new Float64Array(PACKED_HOSTS)

/**
 * Weighted shuffle (Efraimidis-Spirakis): each host draws u^(1/w) and the largest go first. The draws, to 40 bits,
 * carry the host's index in their low bits, so that a native numeric sort of a Float64Array orders them (no
 * comparator calls); a tie in 40 bits (about one in 10^12) goes to the lower index. The order as indexes into `hosts`.
 */
const weightedOrder = (hosts: ReadonlyArray<IndexHost>, random: RandomSource): Array<number> => {
  const n = hosts.length
  if (n < 2) return n === 1 ? [0] : []
  if (n > PACKED_HOSTS) {
    const keys = new Float64Array(n)
    const order = new Array<number>(n)
    for (let i = 0; i < n; i++) {
      keys[i] = Math.log(random.next()) / hosts[i]!.weight
      order[i] = i
    }
    return order.sort((x, y) => keys[y]! - keys[x]!)
  }
  if (packedScratch.length < n) packedScratch = new Float64Array(Math.max(n, 2 * packedScratch.length))
  const packed = packedScratch.subarray(0, n)
  for (let i = 0; i < n; i++) {
    // A draw rounds to 1 at most (a heavy host): it still sorts first.
    const draw = Math.min(KEY_SCALE - 1, Math.floor(Math.exp(Math.log(random.next()) / hosts[i]!.weight) * KEY_SCALE))
    packed[i] = (KEY_SCALE - 1 - draw) * PACKED_HOSTS + i
  }
  packed.sort()
  const order = new Array<number>(n)
  for (let i = 0; i < n; i++) order[i] = packed[i]! % PACKED_HOSTS
  return order
}

const familyRank = (host: IndexHost, family: 4 | 6 | undefined): number => {
  if (family === undefined) return 1
  const support = family === 6 ? host.ipv6 : host.ipv4
  return support === "yes" ? 0 : support === "unknown" ? 1 : 2
}

/** Stable partition of an order (indexes into `hosts`) by the client's family: known to serve it, unknown, known not to. */
const byFamily = (hosts: ReadonlyArray<IndexHost>, order: Array<number>, family: 4 | 6 | undefined): Array<number> => {
  if (family === undefined || order.length < 2) return order
  let mixed = false
  const first = familyRank(hosts[order[0]!]!, family)
  for (let i = 1; i < order.length && !mixed; i++) mixed = familyRank(hosts[order[i]!]!, family) !== first
  if (!mixed) return order
  const ranked: Array<Array<number>> = [[], [], []]
  for (const at of order) ranked[familyRank(hosts[at]!, family)]!.push(at)
  return ranked[0]!.concat(ranked[1]!, ranked[2]!)
}

const NO_URLS: ReadonlyArray<HostUrlSource> = []

/**
 * A host category's URLs that pass a protocol filter: the list itself when all do, else the filtered list, made once
 * per list and filter (the filters are the few lists requests resolve to, kept with them) and let go with the list.
 */
const filtered = new WeakMap<
  ReadonlyArray<HostUrlSource>,
  { readonly protocols: ReadonlyArray<MirrorUrlScheme>; readonly urls: ReadonlyArray<HostUrlSource> }
>()
const allowedUrls = (
  urls: ReadonlyArray<HostUrlSource>,
  protocols: ReadonlyArray<MirrorUrlScheme>
): ReadonlyArray<HostUrlSource> => {
  const known = filtered.get(urls)
  if (known !== undefined && known.protocols === protocols) return known.urls
  const allowed = urls.every((url) => protocols.includes(url.scheme))
    ? urls
    : urls.filter((url) => protocols.includes(url.scheme))
  filtered.set(urls, { protocols, urls: allowed })
  return allowed
}

/** Marks hosts as seen in one pass of one selection (instead of a Set per pass): a new number per pass. */
let round = 0

/** One group of a selection: its hosts (admitted) and how they are ordered on each request. */
export interface PlannedGroup {
  readonly hosts: ReadonlyArray<IndexHost>
  /**
   * Each host's usable URLs for the directory's category that pass the protocol filter, https first (as `hosts`):
   * worked out once with the plan, not for each answer drawn from it.
   */
  readonly urls: ReadonlyArray<ReadonlyArray<HostUrlSource>>
  /** Bandwidth-weighted shuffle (geo groups), or uniform. */
  readonly weighted: boolean
  /** The netblock group: where each prefix-length tier ends (most specific first); tiers are shuffled apart. */
  readonly tiers: ReadonlyArray<number> | undefined
}

/**
 * The deterministic part of a selection (steps 1-10): which groups, with which hosts, and the header tokens. The
 * same client class asks the same plan; only the order (steps 11-12) is drawn anew for each answer.
 */
export interface SelectionPlan extends SelectionHeader {
  readonly groups: ReadonlyArray<PlannedGroup>
  readonly family: 4 | 6 | undefined
}

/** Step 4's candidates: the carriers on R&E networks in the client's country (private ones if they serve R&E clients). */
export const researchCarriers = (view: CarrierView, country: string): ReadonlyArray<IndexHost> =>
  view.research.filter((h) => h.country === country && (!h.private || h.internet2Clients))

export const planSelection = (
  index: MirrorIndex,
  request: SelectionRequest,
  options: SelectionOptions
): SelectionPlan => {
  const { directory, client, countries: requested } = request
  const categoryId = directory.categoryId
  const view = index.carriers(directory)
  const family = client?.family
  const cc = options.clientCountry
  const protocols = request.protocols

  // Steps 8 and 9 as one admission test per host and group kind.
  const allowedHere = (host: IndexHost) => host.allowed === undefined || (cc !== undefined && host.allowed.has(cc))
  let droppedByProtocol = 0
  let droppedByCountry = 0
  let wanted = 0
  for (const scheme of protocols ?? []) wanted |= SCHEME_BITS[scheme]
  const admit = (hosts: ReadonlyArray<IndexHost>, geo: boolean): Array<IndexHost> => {
    const out: Array<IndexHost> = []
    for (const host of hosts) {
      if (geo && !allowedHere(host)) {
        droppedByCountry++
        continue
      }
      if (protocols !== undefined && ((host.schemes.get(categoryId!) ?? 0) & wanted) === 0) {
        droppedByProtocol++
        continue
      }
      out.push(host)
    }
    return out
  }

  const groups: Array<PlannedGroup> = []
  const urlsOf = (host: IndexHost): ReadonlyArray<HostUrlSource> => {
    const urls = categoryId === undefined ? undefined : host.byCategory.get(categoryId)?.urls
    if (urls === undefined) return NO_URLS
    return protocols === undefined ? urls : allowedUrls(urls, protocols)
  }
  const planned = (
    hosts: ReadonlyArray<IndexHost>,
    weighted: boolean,
    tiers: ReadonlyArray<number> | undefined
  ): PlannedGroup => ({ hosts, urls: hosts.map(urlsOf), weighted, tiers })
  const countryTokens: Array<string> = []
  let netblock = false
  let asn: number | undefined
  let researchNetwork = false
  let global = false
  let exact = false
  const networkMatching = requested.length === 0 && request.netblockMatching && client !== undefined

  if (networkMatching) {
    // Step 2: most specific netblock first, equal lengths shuffled.
    const matched = new Set<number>()
    const netblockGroup: Array<IndexHost> = []
    const tiers: Array<number> = []
    for (const level of index.netblockMatches(client)) {
      const tier: Array<IndexHost> = []
      for (const id of level.values) {
        if (!view.allIds.has(id) || matched.has(id)) continue
        matched.add(id)
        tier.push(index.host(id)!)
      }
      const admitted = admit(tier, false)
      if (admitted.length === 0) continue
      netblockGroup.push(...admitted)
      tiers.push(netblockGroup.length)
    }
    if (netblockGroup.length > 0) {
      netblock = true
      groups.push(planned(netblockGroup, false, tiers))
    }
    // Step 3: the client's ASN, as the host's own (when it serves its ASN's clients) or a peer ASN.
    const casn = options.clientAsn
    if (casn !== undefined) {
      const asnGroup = admit(index.servingAsn(view, casn), false)
      if (asnGroup.length > 0) {
        asn = casn
        groups.push(planned(asnGroup, false, undefined))
      }
    }
    // Step 4: R&E hosts in the client's country.
    if (options.researchNetwork && cc !== undefined) {
      const reGroup = admit(researchCarriers(view, cc), true)
      if (reGroup.length > 0) {
        researchNetwork = true
        groups.push(planned(reGroup, false, undefined))
      }
    }
  }

  const addGeoGroup = (hosts: ReadonlyArray<IndexHost>, token: string | undefined): boolean => {
    const admitted = admit(hosts, true)
    if (admitted.length === 0) return false
    groups.push(planned(admitted, true, undefined))
    if (token === undefined) global = true
    else countryTokens.push(token)
    return true
  }

  // Step 5: requested countries, else the other countries of their continents.
  if (requested.length > 0) {
    let found = false
    for (const code of requested) {
      if (code === "GLOBAL") found = addGeoGroup(view.public, undefined) || found
      else found = addGeoGroup(view.byCountry.get(code) ?? [], code) || found
    }
    if (!found) {
      // Each continent country once, even when several requested codes share the continent.
      const added = new Set<string>()
      for (const code of requested) {
        if (code === "GLOBAL") continue
        const continent = index.continentOf(code)
        if (continent === undefined) continue
        for (const other of view.countries) {
          if (other !== code && !added.has(other) && index.continentOf(other) === continent) {
            added.add(other)
            found = addGeoGroup(view.byCountry.get(other)!, other) || found
          }
        }
      }
    }
    exact = found
  }

  if (!exact) {
    // Step 6: the client's country; step 7: the rest of its continent, as one group.
    if (cc !== undefined) addGeoGroup(view.byCountry.get(cc) ?? [], cc)
    const continent = cc === undefined ? undefined : index.continentOf(cc)
    if (continent !== undefined) {
      const neighbours: Array<IndexHost> = []
      const tokens: Array<string> = []
      for (const other of view.countries) {
        if (other === cc || index.continentOf(other) !== continent) continue
        const admitted = admit(view.byCountry.get(other)!, true)
        if (admitted.length === 0) continue
        tokens.push(other)
        neighbours.push(...admitted)
      }
      if (neighbours.length > 0) {
        groups.push(planned(neighbours, true, undefined))
        countryTokens.push(...tokens)
      }
    }
    // Step 10: global fill, counting distinct hosts not known to lack the client's family.
    const counting = ++round
    let counted = 0
    for (const group of groups) {
      for (const host of group.hosts) {
        if (host.mark === counting || familyRank(host, family) === 2) continue
        host.mark = counting
        counted++
      }
    }
    if (counted < options.minimum && !global) addGeoGroup(view.public, undefined)
  }

  let empty: EmptyReason | undefined
  if (groups.length === 0) {
    if (view.all.length === 0) empty = "no-carrier"
    else if (droppedByProtocol > 0) empty = "protocol"
    else if (droppedByCountry > 0) empty = "countries-allowed"
    else if (view.public.length === 0) empty = "private-only"
    else empty = "no-match"
  }
  return {
    groups,
    family,
    netblock,
    asn,
    researchNetwork,
    countries: countryTokens,
    global,
    empty
  }
}

/** A group's order for one answer, as indexes into its hosts: netblock tiers shuffled apart, else weighted or uniform. */
const groupOrder = (group: PlannedGroup, random: RandomSource): Array<number> => {
  if (group.tiers !== undefined) {
    const order: Array<number> = []
    let from = 0
    for (const end of group.tiers) {
      const tier: Array<number> = []
      for (let i = from; i < end; i++) tier.push(i)
      for (const at of shuffle(tier, random)) order.push(at)
      from = end
    }
    return order
  }
  if (group.weighted) return weightedOrder(group.hosts, random)
  const order = new Array<number>(group.hosts.length)
  for (let i = 0; i < order.length; i++) order[i] = i
  return shuffle(order, random)
}

/** Steps 11-12: each group in its order (drawn from `random`), partitioned by family, concatenated, deduplicated. */
export const orderSelection = (plan: SelectionPlan, random: RandomSource): Selection => {
  const seen = ++round
  const hosts: Array<SelectedHost> = []
  for (const group of plan.groups) {
    for (const at of byFamily(group.hosts, groupOrder(group, random), plan.family)) {
      const host = group.hosts[at]!
      if (host.mark === seen) continue
      host.mark = seen
      hosts.push({ host, urls: group.urls[at]! })
    }
  }
  return {
    hosts,
    netblock: plan.netblock,
    asn: plan.asn,
    researchNetwork: plan.researchNetwork,
    countries: plan.countries,
    global: plan.global,
    empty: plan.empty
  }
}

export const selectHosts = (
  index: MirrorIndex,
  request: SelectionRequest,
  options: SelectionOptions,
  random: RandomSource
): Selection => orderSelection(planSelection(index, request, options), random)
