// The Redirector's in-memory lookup index (docs/redirector.md#the-index): everything a mirrorlist, metalink or redirect
// needs, built from the registry's rows, changed in place by host, directory, repository and override reloads, never
// read from the database on the request path. What a host category is up to date on is its bitset over the category's
// directory numbers; per-directory carrier views are computed from them on first use (a bounded number is kept) and
// dropped when a change touches them (mended in place when a private host's bits change). A repository's directory (one with a `repodata/` directory below it) is carried only by hosts
// that also carry that `repodata/`: a yum client given a plain list cannot verify `repomd.xml`.
import { type ContinentCode, continentOf, type MirrorUrlScheme } from "@mirrormanager/domain/registry"
import { Effect } from "effect"
import { hasBit, sliced } from "../db/index.ts"
import { type ClientAddress, PrefixTrie, parseNetblockBytes } from "../ipdata/index.ts"
import { sameHost } from "./IndexDifferences.ts"
import type {
  CategorySource,
  DirectoryCategory,
  DirectorySource,
  FileDetailSource,
  HostCategorySource,
  HostSource,
  IndexSource,
  OverridesSource,
  RedirectSource,
  RepositorySource
} from "./IndexSource.ts"

/** One bit per scheme, for a cheap "has a URL of these schemes" test. */
export const SCHEME_BITS: Record<MirrorUrlScheme, number> = { https: 1, http: 2, ftp: 4, rsync: 8 }

export interface IndexDirectory {
  readonly id: number
  readonly name: string
  /** The serving category: of the linked ones, the one with the longest topdir that contains the directory. */
  readonly categoryId: number | undefined
  /** The directory's number in its serving category (where its hosts' up-to-date bits are). */
  readonly ordinal: number | undefined
  /** The name minus the category's topdir and the `/` ("" = the topdir itself). */
  readonly subpath: string
  /** The subpath as it goes into a URL: each segment percent-encoded (see `encodePath`). */
  readonly urlSubpath: string
  /** Per file name, newest first. */
  readonly files: ReadonlyMap<string, ReadonlyArray<FileDetailSource>>
  /**
   * The row's category links when they are not just the serving one (`categoryId`, `ordinal`); kept for the snapshot.
   * Most directories have only that one: no array of their own (150,000 fewer at Fedora's size).
   */
  readonly links: ReadonlyArray<DirectoryCategory> | undefined
  /** The row's file details (most have none: one shared empty array). */
  readonly fileDetails: ReadonlyArray<FileDetailSource>
}

export interface IndexHost extends HostSource {
  /** clamp(bandwidth, 1, 10000) */
  readonly weight: number
  readonly allowed: ReadonlySet<string> | undefined
  readonly byCategory: ReadonlyMap<number, HostCategorySource>
  /** Per category id: the schemes of the usable URLs, as SCHEME_BITS. */
  readonly schemes: ReadonlyMap<number, number>
  /** Scratch of a selection in progress (see Selection.ts): the pass that last saw the host. */
  mark: number
}

/**
 * A set of host ids as a bitset: a few hundred bytes where a Set of 500 numbers is about 20 KB. In a plain array of
 * 16-bit words (small integers, on V8's own heap): a typed array of that size has a buffer of its own, slow to make
 * and to collect, and a view is made for every directory a change touches.
 */
export class HostIds {
  private readonly words: ReadonlyArray<number>
  readonly size: number
  private constructor(words: ReadonlyArray<number>, size: number) {
    this.words = words
    this.size = size
  }

  static of(hosts: ReadonlyArray<{ readonly id: number }>): HostIds {
    let max = -1
    for (const host of hosts) if (host.id > max) max = host.id
    const words = new Array<number>(max < 0 ? 0 : (max >>> 4) + 1).fill(0)
    for (const host of hosts) words[host.id >>> 4]! |= 1 << (host.id & 15)
    return new HostIds(words, hosts.length)
  }

  has(id: number): boolean {
    const word = id >>> 4
    return word < this.words.length && (this.words[word]! & (1 << (id & 15))) !== 0
  }

  /** The same set with `id` in (`present`) or out. */
  with(id: number, present: boolean): HostIds {
    if (this.has(id) === present) return this
    const words = this.words.slice()
    while (words.length <= id >>> 4) words.push(0)
    words[id >>> 4] = present ? words[id >>> 4]! | (1 << (id & 15)) : words[id >>> 4]! & ~(1 << (id & 15))
    return new HostIds(words, this.size + (present ? 1 : -1))
  }
}

const NO_HOST_IDS = HostIds.of([])

interface CategoryHost {
  readonly host: IndexHost
  readonly hc: HostCategorySource
}

/** The hosts that carry one directory (docs/redirector.md#what-a-host-counts-for). */
export interface CarrierView {
  readonly all: ReadonlyArray<IndexHost>
  /** The ids of `all` (a bitset over host ids: a view is kept per directory, tens of thousands of them). */
  readonly allIds: HostIds
  readonly public: ReadonlyArray<IndexHost>
  readonly byCountry: ReadonlyMap<string, ReadonlyArray<IndexHost>>
  /** Countries with public carriers, in code order. */
  readonly countries: ReadonlyArray<string>
  /**
   * Whether a carrier serves clients by their ASN (its own with asnClients, or a peer ASN); which ones serve a given
   * ASN the index says (`MirrorIndex.servingAsn`), not every view: a view is kept per directory.
   */
  readonly servesAsns: boolean
  /** Hosts on R&E networks (internet2), in id order. */
  readonly research: ReadonlyArray<IndexHost>
  /** Whether a carrier has an allowed-countries list (then the client's own country shapes every geo group). */
  readonly restricted: boolean
}

export interface IndexCounts {
  readonly hosts: number
  readonly directories: number
  readonly repositories: number
  readonly netblocks: number
  readonly fileDetails: number
}

/** The last component of a repository's metadata directory. */
const REPODATA = "/repodata"

/**
 * Carrier views kept at most: each is a few arrays of host references, worked out again in microseconds, so that the
 * directories asked (tens of thousands at Fedora's size, any path a client makes up) never grow memory without bound.
 */
export const MAX_CARRIER_VIEWS = 50_000

const NO_FILES: ReadonlyMap<string, ReadonlyArray<FileDetailSource>> = new Map()
const NO_LINKS: ReadonlyArray<DirectoryCategory> = []
const NO_DETAILS: ReadonlyArray<FileDetailSource> = []

/** A directory's row again, as the index was given it (for the snapshot, and a rebuild's comparison). */
const directorySource = (directory: IndexDirectory): DirectorySource => ({
  id: directory.id,
  name: directory.name,
  categories: directory.links ?? [{ categoryId: directory.categoryId!, ordinal: directory.ordinal! }],
  fileDetails: directory.fileDetails
})

const EMPTY_SOURCE: IndexSource = {
  hosts: [],
  categories: [],
  directories: [],
  repositories: [],
  redirects: [],
  overrides: { netblockCountries: [], continentRedirects: [] }
}

/** A view of no carriers; a new one per directory, since what is kept for a view hangs on its identity. */
const emptyView = (): CarrierView => ({
  all: [],
  allIds: NO_HOST_IDS,
  public: [],
  byCountry: new Map(),
  countries: [],
  servesAsns: false,
  research: [],
  restricted: false
})

/**
 * A path as it goes into a URL (a Location or Link header, a list of mirrors): each `/`-separated segment
 * percent-encoded, so that no `#`, `?`, `%`, space or non-ASCII character of a name can end the path or change
 * its meaning; `+ : @ = $ &` (harmless in a path and common in package names) stay as they are.
 */
export const encodePath = (path: string): string => {
  if (SAFE_PATH.test(path)) return path
  return path
    .split("/")
    .map((segment) => encodeURIComponent(segment).replace(KEPT_ESCAPES, (code) => KEPT[code]!))
    .join("/")
}
const SAFE_PATH = /^[A-Za-z0-9\-._~!*'()+:@=$&/]*$/
const KEPT: Record<string, string> = { "%2B": "+", "%3A": ":", "%40": "@", "%3D": "=", "%24": "$", "%26": "&" }
const KEPT_ESCAPES = /%(?:2B|3A|40|3D|24|26)/g

/** Why no host carries a directory (the carrier view is empty), in plain words. */
export type NoCarrierReason =
  /** The directory belongs to no category. */
  | { readonly kind: "no-category" }
  /** No active host has the directory's category. */
  | { readonly kind: "no-host"; readonly category: string }
  /** Hosts have the category, but none has a usable URL. */
  | { readonly kind: "no-url"; readonly category: string; readonly hosts: number }
  /** Hosts are up to date on the repository's directory, but not on its `repodata/`. */
  | { readonly kind: "repodata"; readonly category: string; readonly hosts: number }
  /** Hosts have the category, but none is up to date on the directory. */
  | { readonly kind: "stale"; readonly category: string; readonly hosts: number }

const indexHost = (source: HostSource): IndexHost => ({
  ...source,
  weight: Math.min(10_000, Math.max(1, source.bandwidth)),
  allowed: source.countriesAllowed.length > 0 ? new Set(source.countriesAllowed) : undefined,
  byCategory: new Map(source.categories.map((hc) => [hc.categoryId, hc])),
  schemes: new Map(
    source.categories.map((hc) => [hc.categoryId, hc.urls.reduce((bits, url) => bits | SCHEME_BITS[url.scheme], 0)])
  ),
  mark: 0
})

export class MirrorIndex {
  /** When the rows it was made of were read (or, after a rebuild that changed it in place, those it was compared to). */
  private built: number
  private readonly hosts = new Map<number, IndexHost>()
  private readonly categories = new Map<number, CategorySource>()
  private readonly directoriesById = new Map<number, IndexDirectory>()
  private readonly directoriesByName = new Map<string, IndexDirectory>()
  private repositories = new Map<string, RepositorySource>()
  private repositoryList: ReadonlyArray<RepositorySource> = []
  private redirects = new Map<string, string>()
  private redirectList: ReadonlyArray<RedirectSource> = []
  private overrides: OverridesSource = { netblockCountries: [], continentRedirects: [] }
  private readonly hostNetblocks = new PrefixTrie<number>()
  private netblockCountries = new PrefixTrie<string>()
  private continentRedirects = new Map<string, ContinentCode>()
  /** Category id → its hosts and their host category, in host id order; worked out again after a host changes. */
  private categoryHosts: Map<number, ReadonlyArray<CategoryHost>> | undefined
  /** Client ASN → the hosts serving its clients, in id order; worked out again after a host changes. */
  private asnHosts: Map<number, ReadonlyArray<IndexHost>> | undefined
  private readonly views = new Map<number, CarrierView>()
  /** Why nobody carries a directory, per directory, while no host or directory changes (`reasonVersion`). */
  private readonly noCarrierReasons = new Map<number, NoCarrierReason>()
  /** `reasonVersion` when `noCarrierReasons` were worked out. */
  private reasonsAt = -1
  /** Counts changes to hosts and directories (see `reasonVersion`). */
  private hostsAndDirectoriesVersion = 0
  private fileDetailCount = 0
  /**
   * Counts changes to what a request names (directories, their files, repositories and redirects), so that what
   * was worked out from a request's path and query can be kept until one of them changes.
   */
  private contentVersion = 0

  get version(): number {
    return this.contentVersion
  }

  /**
   * Counts changes to hosts and directories: what a directory's no-carrier reason depends on besides its carrier
   * view (a host gaining the category without being up to date on the directory leaves the view as it is). What
   * is kept of an empty answer is good while this stays the same. Categories change only with a new index (a
   * full build).
   */
  get reasonVersion(): number {
    return this.hostsAndDirectoriesVersion
  }

  constructor(source: IndexSource, builtAt: number) {
    this.built = builtAt
    const building = this.steps(source)
    while (!building.next().done) {
      // all at once
    }
  }

  /**
   * An index of `source` made a slice at a time, the event loop free between slices (requests are answered from the
   * index being replaced meanwhile): at Fedora's size a build is a few hundred milliseconds of work, which in one
   * piece would stall every request and the cluster's shard-lock refreshes.
   */
  static build(source: IndexSource, builtAt: number): Effect.Effect<MirrorIndex> {
    return Effect.suspend(() => {
      const index = new MirrorIndex(EMPTY_SOURCE, builtAt)
      return Effect.as(sliced(index.steps(source)), index)
    })
  }

  /** The index was found current at `builtAt` (a rebuild found what differed and applied it as changes). */
  rebuiltAt(builtAt: number): void {
    this.built = builtAt
  }

  get builtAt(): number {
    return this.built
  }

  /** The build, in steps of a few hundred rows each. */
  private *steps(source: IndexSource): Generator<void, void> {
    for (const category of source.categories) this.categories.set(category.id, category)
    let n = 0
    for (const directory of source.directories) {
      this.putDirectory(directory)
      if (++n % 256 === 0) yield
    }
    this.setRepositories(source.repositories, source.redirects)
    yield
    this.setOverrides(source.overrides)
    for (const host of source.hosts) {
      this.putHost(host)
      if (++n % 16 === 0) yield
    }
  }

  /** The rows this index holds, for the snapshot and the rebuild's comparison. */
  toSource(): IndexSource {
    const steps = this.sourceSteps()
    for (;;) {
      const step = steps.next()
      if (step.done) return step.value
    }
  }

  /**
   * toSource as steps, a step every 1,024 directories (for `sliced`: at Fedora's size the rows are 150,000 directories
   * made afresh). Changes applied between steps may show in the rows or not, each row whole.
   */
  *sourceSteps(): Generator<void, IndexSource> {
    const hosts = [...this.hosts.values()].map(
      ({ weight: _w, allowed: _a, byCategory: _b, schemes: _s, mark: _m, ...source }) => source
    )
    const directories: Array<DirectorySource> = []
    for (const directory of this.directoriesById.values()) {
      directories.push(directorySource(directory))
      if ((directories.length & 1023) === 0) yield
    }
    return {
      hosts,
      categories: [...this.categories.values()],
      directories,
      repositories: this.repositoryList,
      redirects: this.redirectList,
      overrides: this.overrides
    }
  }

  counts(): IndexCounts {
    return {
      hosts: this.hosts.size,
      directories: this.directoriesById.size,
      repositories: this.repositoryList.length,
      netblocks: this.hostNetblocks.size,
      fileDetails: this.fileDetailCount
    }
  }

  // ---- Reads (the request path) ----

  directoryByName(name: string): IndexDirectory | undefined {
    return this.directoriesByName.get(name)
  }

  directory(id: number): IndexDirectory | undefined {
    return this.directoriesById.get(id)
  }

  repository(prefix: string, arch: string): RepositorySource | undefined {
    return this.repositories.get(`${prefix}\u0000${arch}`)
  }

  /** Every addressable repository, sorted by prefix, then arch. */
  allRepositories(): ReadonlyArray<RepositorySource> {
    return this.repositoryList
  }

  redirect(prefix: string): string | undefined {
    return this.redirects.get(prefix)
  }

  host(id: number): IndexHost | undefined {
    return this.hosts.get(id)
  }

  /** Hosts with a netblock containing the address, most specific netblock first. */
  netblockMatches(
    address: ClientAddress
  ): ReadonlyArray<{ readonly prefixLength: number; readonly values: ReadonlyArray<number> }> {
    return this.hostNetblocks.matches(address)
  }

  /** The longest NetblockCountry override containing the address. */
  countryOverride(address: ClientAddress): string | undefined {
    return this.netblockCountries.matches(address)[0]?.values[0]
  }

  continentOf(country: string): ContinentCode | undefined {
    return this.continentRedirects.get(country) ?? continentOf(country)
  }

  carriers(directory: IndexDirectory): CarrierView {
    const cached = this.views.get(directory.id)
    if (cached !== undefined) return cached
    const view = this.computeView(directory)
    if (this.views.size >= MAX_CARRIER_VIEWS) {
      // The oldest kept view goes (Map keeps insertion order).
      const oldest = this.views.keys().next().value
      if (oldest !== undefined) this.views.delete(oldest)
    }
    this.views.set(directory.id, view)
    return view
  }

  /** How many carrier views are kept. */
  viewCount(): number {
    return this.views.size
  }

  /**
   * The carriers of `view` that serve clients of `asn` (their own ASN with asnClients, or a peer ASN), in id order.
   */
  servingAsn(view: CarrierView, asn: number): ReadonlyArray<IndexHost> {
    if (this.asnHosts === undefined) {
      const byAsn = new Map<number, Array<IndexHost>>()
      const serve = (asn: number, host: IndexHost) => {
        const list = byAsn.get(asn)
        if (list === undefined) byAsn.set(asn, [host])
        else if (list[list.length - 1] !== host) list.push(host)
      }
      for (const host of [...this.hosts.values()].sort((a, b) => a.id - b.id)) {
        if (host.asnClients && host.asn !== null) serve(host.asn, host)
        for (const peer of host.peerAsns) serve(peer, host)
      }
      this.asnHosts = byAsn
    }
    const serving = this.asnHosts.get(asn)
    if (serving === undefined) return []
    return serving.filter((host) => view.allIds.has(host.id))
  }

  /** The active hosts with the category and their host category, in host id order. */
  private hostsOf(categoryId: number): ReadonlyArray<CategoryHost> {
    if (this.categoryHosts === undefined) {
      const byCategory = new Map<number, Array<CategoryHost>>()
      for (const host of [...this.hosts.values()].sort((a, b) => a.id - b.id)) {
        for (const hc of host.categories) {
          const list = byCategory.get(hc.categoryId)
          if (list === undefined) byCategory.set(hc.categoryId, [{ host, hc }])
          else list.push({ host, hc })
        }
      }
      this.categoryHosts = byCategory
    }
    return this.categoryHosts.get(categoryId) ?? []
  }

  private computeView(directory: IndexDirectory): CarrierView {
    const categoryId = directory.categoryId
    const ordinal = directory.ordinal
    if (categoryId === undefined || ordinal === undefined) return emptyView()
    const all: Array<IndexHost> = []
    // A repository's directory: only hosts whose repodata/ is up to date too.
    const repodata = this.repodataOf(directory)
    const freshRepodata = repodata === undefined ? undefined : this.carriers(repodata).allIds
    for (const { host, hc } of this.hostsOf(categoryId)) {
      if (hc.urls.length === 0) continue
      if (!hc.alwaysUp2date && !hasBit(hc.upToDate, ordinal)) continue
      if (freshRepodata?.has(host.id) === false) continue
      all.push(host)
    }
    const publicHosts = all.filter((h) => !h.private)
    const byCountry = new Map<string, Array<IndexHost>>()
    for (const host of publicHosts) {
      const list = byCountry.get(host.country)
      if (list === undefined) byCountry.set(host.country, [host])
      else list.push(host)
    }
    const countries = [...byCountry.keys()].sort()
    return { all, public: publicHosts, byCountry, countries, ...listsOf(all) }
  }

  /**
   * After a host's up-to-date bits changed: each kept view whose carriers it joins or leaves (its own directory's bit
   * or its `repodata/`'s changed) is mended when the host is private, dropped otherwise. One pass over the kept views
   * (a few thousand), not over the changed bits (a first check-in changes tens of thousands).
   *
   * A private host changes a view's carriers, not its public lists, so what is kept for the view stays: a private
   * host is in the answers of clients in its netblocks, of the ASN it serves or (serving R&E clients) of its
   * country's R&E networks only, and their class names the carriers that matched (see Decision.ts).
   */
  private followBits(host: IndexHost): void {
    for (const [directoryId, view] of this.views) {
      const directory = this.directoriesById.get(directoryId)
      if (directory?.categoryId === undefined || !host.byCategory.has(directory.categoryId)) continue
      const carries = this.carries(host, directory)
      if (carries === view.allIds.has(host.id)) continue
      if (host.private) mendView(view, host, carries)
      else this.views.delete(directoryId)
    }
  }

  /** Whether the host carries the directory, as `computeView` decides it. */
  private carries(host: IndexHost, directory: IndexDirectory): boolean {
    if (directory.categoryId === undefined || directory.ordinal === undefined) return false
    const hc = host.byCategory.get(directory.categoryId)
    if (hc === undefined || hc.urls.length === 0) return false
    if (!hc.alwaysUp2date && !hasBit(hc.upToDate, directory.ordinal)) return false
    const repodata = this.repodataOf(directory)
    return repodata === undefined || this.carries(host, repodata)
  }

  /** The `repodata/` directory below a repository's directory, if it is one (never for a `repodata/` itself). */
  private repodataOf(directory: IndexDirectory): IndexDirectory | undefined {
    if (directory.name.endsWith(REPODATA)) return undefined
    return this.directoriesByName.get(`${directory.name}${REPODATA}`)
  }

  /**
   * Why no host carries the directory (its carrier view is empty); worked out again after any change to hosts or
   * directories (a host gaining the category, a directory linked to a category or given a `repodata/`). Only
   * empty answers ask, and they are kept.
   */
  noCarrierReason(directory: IndexDirectory): NoCarrierReason {
    if (this.reasonsAt !== this.hostsAndDirectoriesVersion) {
      this.noCarrierReasons.clear()
      this.reasonsAt = this.hostsAndDirectoriesVersion
    }
    let reason = this.noCarrierReasons.get(directory.id)
    if (reason === undefined) {
      reason = this.findNoCarrierReason(directory)
      if (this.noCarrierReasons.size >= 10_000) this.noCarrierReasons.clear()
      this.noCarrierReasons.set(directory.id, reason)
    }
    return reason
  }

  private findNoCarrierReason(directory: IndexDirectory): NoCarrierReason {
    const categoryId = directory.categoryId
    if (categoryId === undefined) return { kind: "no-category" }
    const category = this.categories.get(categoryId)?.name ?? `category ${categoryId}`
    const ordinal = directory.ordinal
    let hosts = 0
    let usable = 0
    let carrying = 0
    for (const { hc } of this.hostsOf(categoryId)) {
      hosts++
      if (hc.urls.length === 0) continue
      usable++
      if (hc.alwaysUp2date || (ordinal !== undefined && hasBit(hc.upToDate, ordinal))) carrying++
    }
    if (hosts === 0) return { kind: "no-host", category }
    if (usable === 0) return { kind: "no-url", category, hosts }
    if (carrying > 0) return { kind: "repodata", category, hosts: carrying }
    return { kind: "stale", category, hosts: usable }
  }

  // ---- Changes (off the request path) ----

  /**
   * Replaces the hosts in `ids` with `rows` (an id missing from `rows` is gone or no longer active). A host whose
   * only change is what it is up to date on mends or drops the carrier views it joins or leaves (`followBits`); any
   * other change drops those of its categories.
   */
  replaceHosts(ids: ReadonlyArray<number>, rows: ReadonlyArray<HostSource>): void {
    const incoming = new Map(rows.map((row) => [row.id, row]))
    /** Categories whose every kept view goes (one pass over the views at the end, whatever the number of hosts). */
    const touched = new Set<number>()
    for (const id of new Set([...ids, ...incoming.keys()])) {
      const before = this.hosts.get(id)
      const after = incoming.get(id)
      if (before !== undefined && after !== undefined && sameHost(before, after, false)) {
        // The same host object, with its new bits: the views kept (those whose bits did not change) hold it, and a
        // selection tells hosts apart by object.
        const host = before as { -readonly [K in keyof IndexHost]: IndexHost[K] }
        host.categories = after.categories
        host.byCategory = new Map(after.categories.map((hc) => [hc.categoryId, hc]))
        this.categoryHosts = undefined
        this.asnHosts = undefined
        this.hostsAndDirectoriesVersion++
        this.followBits(host)
        continue
      }
      for (const hc of before?.categories ?? []) touched.add(hc.categoryId)
      for (const hc of after?.categories ?? []) touched.add(hc.categoryId)
      this.removeHost(id)
      if (after !== undefined) this.putHost(after)
    }
    if (touched.size > 0) this.dropViewsOfCategories(touched)
  }

  /** Replaces the directories in `ids` with `rows` (missing = deleted). */
  replaceDirectories(ids: ReadonlyArray<number>, rows: ReadonlyArray<DirectorySource>): void {
    for (const id of ids) this.removeDirectory(id)
    for (const row of rows) {
      this.removeDirectory(row.id)
      this.putDirectory(row)
    }
  }

  setRepositories(repositories: ReadonlyArray<RepositorySource>, redirects: ReadonlyArray<RedirectSource>): void {
    // Code-unit order, whatever the database's collation.
    const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
    this.repositoryList = [...repositories].sort((a, b) => byName(a.prefix, b.prefix) || byName(a.arch, b.arch))
    this.repositories = new Map(repositories.map((r) => [`${r.prefix}\u0000${r.arch}`, r]))
    this.redirectList = redirects
    this.redirects = new Map(redirects.map((r) => [r.from, r.to]))
    this.contentVersion++
  }

  setOverrides(overrides: OverridesSource): void {
    this.overrides = overrides
    const trie = new PrefixTrie<string>()
    for (const row of overrides.netblockCountries) {
      const netblock = parseNetblockBytes(row.netblock)
      if (netblock !== undefined) trie.insert(netblock, row.country)
    }
    this.netblockCountries = trie
    this.continentRedirects = new Map(
      overrides.continentRedirects.map((r) => [r.country, r.continent as ContinentCode])
    )
    // Continents shape the selection of every directory (and what is kept of it).
    this.views.clear()
  }

  /** Puts a host in (the caller drops the carrier views it changes). */
  private putHost(source: HostSource): void {
    this.hostsAndDirectoriesVersion++
    const host = indexHost(source)
    this.hosts.set(host.id, host)
    this.categoryHosts = undefined
    this.asnHosts = undefined
    for (const text of host.netblocks) {
      const netblock = parseNetblockBytes(text)
      if (netblock !== undefined) this.hostNetblocks.insert(netblock, host.id)
    }
  }

  private removeHost(id: number): void {
    const host = this.hosts.get(id)
    if (host === undefined) return
    this.hostsAndDirectoriesVersion++
    this.hosts.delete(id)
    this.categoryHosts = undefined
    this.asnHosts = undefined
    for (const text of host.netblocks) {
      const netblock = parseNetblockBytes(text)
      if (netblock !== undefined) this.hostNetblocks.remove(netblock, id)
    }
  }

  private putDirectory(source: DirectorySource): void {
    this.hostsAndDirectoriesVersion++
    let categoryId: number | undefined
    let ordinal: number | undefined
    let topdir = ""
    for (const link of source.categories) {
      const category = this.categories.get(link.categoryId)
      if (category === undefined) continue
      const contains = source.name === category.topdir || source.name.startsWith(`${category.topdir}/`)
      if (contains && (categoryId === undefined || category.topdir.length > topdir.length)) {
        categoryId = link.categoryId
        ordinal = link.ordinal
        topdir = category.topdir
      }
    }
    // Most directories have no file details: they share one empty map (150,000 maps fewer for the collector to walk
    // at Fedora's size).
    let files: ReadonlyMap<string, ReadonlyArray<FileDetailSource>> = NO_FILES
    if (source.fileDetails.length > 0) {
      const byName = new Map<string, Array<FileDetailSource>>()
      for (const detail of source.fileDetails) {
        const list = byName.get(detail.filename)
        if (list === undefined) byName.set(detail.filename, [detail])
        else list.push(detail)
      }
      for (const list of byName.values()) list.sort((a, b) => b.timestamp - a.timestamp)
      files = byName
    }
    this.fileDetailCount += source.fileDetails.length
    const subpath = categoryId === undefined || source.name === topdir ? "" : source.name.slice(topdir.length + 1)
    const onlyServing =
      source.categories.length === 1 &&
      source.categories[0]!.categoryId === categoryId &&
      source.categories[0]!.ordinal === ordinal
    const directory: IndexDirectory = {
      id: source.id,
      name: source.name,
      categoryId,
      ordinal,
      subpath,
      urlSubpath: encodePath(subpath),
      files,
      links: onlyServing ? undefined : source.categories.length === 0 ? NO_LINKS : source.categories,
      fileDetails: source.fileDetails.length === 0 ? NO_DETAILS : source.fileDetails
    }
    this.directoriesById.set(directory.id, directory)
    this.directoriesByName.set(directory.name, directory)
    this.dropView(directory.id)
    this.contentVersion++
  }

  /** Drops a directory's carrier view, and its repository directory's when it is a `repodata/`. */
  private dropView(directoryId: number): void {
    if (this.views.size === 0) return
    this.views.delete(directoryId)
    const name = this.directoriesById.get(directoryId)?.name
    if (name?.endsWith(REPODATA) !== true) return
    const repository = this.directoriesByName.get(name.slice(0, -REPODATA.length))
    if (repository !== undefined) this.views.delete(repository.id)
  }

  private removeDirectory(id: number): void {
    const directory = this.directoriesById.get(id)
    if (directory === undefined) return
    this.hostsAndDirectoriesVersion++
    this.fileDetailCount -= directory.fileDetails.length
    this.dropView(id)
    this.directoriesById.delete(id)
    if (this.directoriesByName.get(directory.name) === directory) this.directoriesByName.delete(directory.name)
    this.contentVersion++
  }

  private dropViewsOfCategories(categoryIds: ReadonlySet<number>): void {
    for (const directoryId of this.views.keys()) {
      const categoryId = this.directoriesById.get(directoryId)?.categoryId
      if (categoryId !== undefined && categoryIds.has(categoryId)) this.dropView(directoryId)
    }
  }
}

/** Whether a host serves clients by their ASN (its own, with asnClients, or a peer ASN). */
const servesAsn = (host: IndexHost): boolean => (host.asnClients && host.asn !== null) || host.peerAsns.length > 0

/** What a view says of all its carriers, public and private: worked out from `all`. */
const listsOf = (all: ReadonlyArray<IndexHost>) => ({
  allIds: HostIds.of(all),
  servesAsns: all.some(servesAsn),
  research: all.filter((h) => h.internet2),
  restricted: all.some((h) => h.allowed !== undefined)
})

/**
 * Puts a private host in (`carries`) or out of a kept view, in id order: only what `listsOf` works out changes (a
 * private host is in none of the public lists), and only as far as this host changes it. A check-in changes the bits
 * of tens of thousands of directories, so this runs for most kept views at once: working each list out afresh from
 * hundreds of carriers held the event loop for tens of milliseconds.
 */
const mendView = (view: CarrierView, host: IndexHost, carries: boolean): void => {
  // `all` is in id order: where the host is, or goes.
  let low = 0
  let high = view.all.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (view.all[middle]!.id < host.id) low = middle + 1
    else high = middle
  }
  const present = view.all[low] === host
  if (present === carries) return
  const all = carries ? view.all.toSpliced(low, 0, host) : view.all.toSpliced(low, 1)
  Object.assign(view, {
    all,
    allIds: view.allIds.with(host.id, carries),
    servesAsns: servesAsn(host) ? (carries ? true : all.some(servesAsn)) : view.servesAsns,
    research: host.internet2 ? all.filter((h) => h.internet2) : view.research,
    restricted:
      host.allowed !== undefined ? (carries ? true : all.some((h) => h.allowed !== undefined)) : view.restricted
  })
}
