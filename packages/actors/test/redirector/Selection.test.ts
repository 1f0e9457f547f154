// Mirror selection (docs/redirector.md#selection) on a MirrorIndex built from plain rows, with seeded random sources:
// every group and rule on its own, the weighted shuffle's statistics, determinism, and the index's incremental changes.
// The client facts (country, ASN, R&E) come from the real GeoIp and NetworkData layers where the test says so.

import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { afterAll, assert, describe, it, layer } from "@effect/vitest"
import type { MirrorUrlScheme } from "@mirrormanager/domain/registry"
import { Effect, Layer } from "effect"
import { bitsOf } from "../../src/db/UpToDateBits.ts"
import { GeoIp } from "../../src/ipdata/GeoIp.ts"
import { parseClientAddress } from "../../src/ipdata/IpAddress.ts"
import { NetworkData } from "../../src/ipdata/NetworkData.ts"
import { readSnapshot, writeSnapshot } from "../../src/redirector/IndexSnapshot.ts"
import {
  type DirectorySource,
  type HostSource,
  type IndexSource,
  inSchemeOrder
} from "../../src/redirector/IndexSource.ts"
import { MirrorIndex } from "../../src/redirector/MirrorIndex.ts"
import { defaultRedirectorSettings, Redirector } from "../../src/redirector/Redirector.ts"
import { type Selection, seededRandom, selectHosts } from "../../src/redirector/Selection.ts"

// ---- The world ----

const EPEL = 1
const FEDORA = 2
const D = "pub/epel/9/Everything/x86_64"
const D_ID = 101
const D2 = "pub/epel/9/Everything/aarch64"
const D2_ID = 102

interface HostSpec extends Partial<Omit<HostSource, "categories" | "id">> {
  readonly urls?: ReadonlyArray<string>
  /** Up-to-date directories (HCDs); default: D. */
  readonly dirs?: ReadonlyArray<number>
  readonly always?: boolean
  readonly categoryId?: number
}

/** An active host carrying D over https and http unless the spec says otherwise. */
const host = (id: number, spec: HostSpec = {}): HostSource => {
  const name = spec.name ?? `h${id}`
  const urls = inSchemeOrder(
    (spec.urls ?? [`https://${name}.example.org/epel`, `http://${name}.example.org/epel`]).map((url) => ({
      url,
      scheme: url.slice(0, url.indexOf(":")) as MirrorUrlScheme
    }))
  )
  return {
    id,
    siteId: spec.siteId ?? 1,
    name,
    country: spec.country ?? "DE",
    bandwidth: spec.bandwidth ?? 100,
    private: spec.private ?? false,
    asn: spec.asn ?? null,
    asnClients: spec.asnClients ?? true,
    internet2: spec.internet2 ?? false,
    internet2Clients: spec.internet2Clients ?? false,
    ipv4: spec.ipv4 ?? "unknown",
    ipv6: spec.ipv6 ?? "unknown",
    peerAsns: spec.peerAsns ?? [],
    countriesAllowed: spec.countriesAllowed ?? [],
    netblocks: spec.netblocks ?? [],
    categories: [
      {
        id: id * 10,
        categoryId: spec.categoryId ?? EPEL,
        alwaysUp2date: spec.always ?? false,
        urls,
        upToDate: bitsOf(spec.dirs ?? [D_ID])
      }
    ]
  }
}

/** A directory numbered by its id in each of its categories (so a host's `dirs` are its up-to-date bits). */
const directory = (id: number, name: string, categoryIds: ReadonlyArray<number> = [EPEL]): DirectorySource => ({
  id,
  name,
  categories: categoryIds.map((categoryId) => ({ categoryId, ordinal: id })),
  fileDetails: []
})

const source = (hosts: ReadonlyArray<HostSource>, extra: Partial<IndexSource> = {}): IndexSource => ({
  hosts,
  categories: [
    { id: EPEL, name: "Fedora EPEL", topdir: "pub/epel" },
    { id: FEDORA, name: "Fedora Linux", topdir: "pub/fedora/linux" }
  ],
  directories: [
    directory(100, "pub/epel"),
    directory(D_ID, D),
    directory(D2_ID, D2),
    directory(200, "pub/fedora/linux/releases/40", [FEDORA])
  ],
  repositories: [{ prefix: "epel-9", arch: "x86_64", directoryId: D_ID, disabled: false }],
  redirects: [],
  overrides: { netblockCountries: [], continentRedirects: [] },
  ...extra
})

const BUILT_AT = 1_730_000_000_000
const build = (hosts: ReadonlyArray<HostSource>, extra: Partial<IndexSource> = {}) =>
  new MirrorIndex(source(hosts, extra), BUILT_AT)

interface Ask {
  readonly dir?: string | undefined
  readonly ip?: string | undefined
  readonly countries?: ReadonlyArray<string> | undefined
  readonly netblock?: boolean | undefined
  readonly protocols?: ReadonlyArray<MirrorUrlScheme> | undefined
  /** The client's country (what clientFacts would say). */
  readonly cc?: string | undefined
  readonly asn?: number | undefined
  readonly re?: boolean | undefined
  readonly minimum?: number | undefined
  readonly seed?: number | undefined
}

const select = (index: MirrorIndex, ask: Ask = {}): Selection =>
  selectHosts(
    index,
    {
      directory: index.directoryByName(ask.dir ?? D)!,
      client: ask.ip === undefined ? undefined : parseClientAddress(ask.ip),
      countries: ask.countries ?? [],
      netblockMatching: ask.netblock ?? true,
      protocols: ask.protocols
    },
    {
      minimum: ask.minimum ?? 5,
      researchNetwork: ask.re ?? false,
      clientAsn: ask.asn,
      clientCountry: ask.cc
    },
    seededRandom([ask.seed ?? 1, 0x9e3779b9, 0x243f6a88, 0x85a308d3])
  )

const names = (selection: Selection) => selection.hosts.map((h) => h.host.name)
const SEEDS = Array.from({ length: 100 }, (_, i) => i + 1)

/** Every order seen over the seeds, as joined names. */
const ordersOver = (seeds: ReadonlyArray<number>, f: (seed: number) => Selection) =>
  new Set(seeds.map((seed) => names(f(seed)).join(",")))

// ---- Pure selection rules ----

describe("the random source", () => {
  it("is deterministic per seed and stays inside (0, 1)", () => {
    const a = seededRandom([1, 2, 3, 4])
    const b = seededRandom([1, 2, 3, 4])
    const c = seededRandom([1, 2, 3, 5])
    const xs = Array.from({ length: 1000 }, () => a.next())
    assert.deepStrictEqual(
      xs,
      Array.from({ length: 1000 }, () => b.next())
    )
    assert.notDeepEqual(
      xs.slice(0, 10),
      Array.from({ length: 10 }, () => c.next())
    )
    for (const x of xs) assert.isTrue(x > 0 && x < 1)
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length
    assert.isTrue(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`)
  })
})

describe("netblock group (docs/redirector.md#selection)", () => {
  const index = build([
    host(1, { name: "a16", country: "US", netblocks: ["10.1.0.0/16"] }),
    host(2, { name: "b24", country: "US", netblocks: ["10.1.2.0/24"] }),
    host(3, { name: "c8", country: "US", netblocks: ["10.0.0.0/8"] }),
    host(4, { name: "d24", country: "US", netblocks: ["10.1.2.0/24"] }),
    host(5, { name: "other", country: "US" })
  ])

  it("puts the most specific netblock first, equal lengths shuffled", () => {
    const firsts = new Set<string>()
    for (const seed of SEEDS) {
      const selection = select(index, { ip: "10.1.2.3", minimum: 0, seed })
      const order = names(selection)
      assert.sameMembers(order.slice(0, 2), ["b24", "d24"])
      assert.deepStrictEqual(order.slice(2), ["a16", "c8"])
      assert.isTrue(selection.netblock)
      firsts.add(order[0]!)
    }
    assert.sameMembers([...firsts], ["b24", "d24"], "both /24 hosts come first for some seed")
  })

  it("only matches netblocks containing the client and is off with netblock=0 or requested countries", () => {
    assert.deepStrictEqual(names(select(index, { ip: "10.1.3.1", minimum: 0 })), ["a16", "c8"])
    const outside = select(index, { ip: "192.0.2.1", minimum: 0 })
    assert.deepStrictEqual(names(outside), [])
    assert.isFalse(outside.netblock)
    const off = select(index, { ip: "10.1.2.3", minimum: 0, netblock: false })
    assert.deepStrictEqual(names(off), [])
    assert.isFalse(off.netblock)
    const requested = select(index, { ip: "10.1.2.3", minimum: 0, countries: ["US"] })
    assert.isFalse(requested.netblock)
    assert.strictEqual(requested.hosts.length, 5)
    assert.deepStrictEqual(requested.countries, ["US"])
  })

  it("matches IPv6 netblocks", () => {
    const v6 = build([host(1, { name: "six", netblocks: ["2001:db8:1::/48"] }), host(2, { name: "other" })])
    const selection = select(v6, { ip: "2001:db8:1::42", minimum: 0 })
    assert.deepStrictEqual(names(selection), ["six"])
    assert.isTrue(selection.netblock)
  })
})

describe("private hosts", () => {
  const index = build([
    host(1, { name: "private", private: true, netblocks: ["10.1.0.0/16"], asn: 64500, country: "DE" }),
    host(2, { name: "public", country: "DE" }),
    host(3, { name: "us", country: "US" })
  ])

  it("come first through their netblock, flagged as a netblock hit", () => {
    const selection = select(index, { ip: "10.1.2.3", cc: "DE" })
    assert.deepStrictEqual(names(selection), ["private", "public", "us"])
    assert.isTrue(selection.netblock)
    assert.isTrue(selection.hosts[0]!.host.private)
  })

  it("are absent for clients outside their netblocks, from every geo group and the global fill", () => {
    for (const [ask, expected] of [
      [{ ip: "192.0.2.1", cc: "DE" }, ["public", "us"]],
      [{ ip: "192.0.2.1" }, ["public", "us"]],
      [{ ip: "10.1.2.3", cc: "DE", countries: ["DE"] }, ["public"]],
      [{ ip: "10.1.2.3", cc: "DE", countries: ["GLOBAL"] }, ["public", "us"]],
      [{ ip: "10.1.2.3", cc: "DE", netblock: false }, ["public", "us"]]
    ] satisfies ReadonlyArray<readonly [Ask, ReadonlyArray<string>]>) {
      const order = names(select(index, { ...ask, minimum: 100 }))
      assert.sameMembers(order, [...expected], JSON.stringify(ask))
    }
  })

  it("come through their ASN", () => {
    const selection = select(index, { ip: "192.0.2.1", asn: 64500, cc: "DE" })
    assert.deepStrictEqual(names(selection), ["private", "public", "us"])
    assert.strictEqual(selection.asn, 64500)
    assert.isFalse(selection.netblock)
  })
})

describe("ASN group (docs/redirector.md#selection)", () => {
  const index = build([
    host(1, { name: "own", asn: 64500, country: "US" }),
    host(2, { name: "own-not-serving", asn: 64500, asnClients: false, country: "US" }),
    host(3, { name: "peer", asn: 64999, peerAsns: [64501, 64500], country: "US" }),
    host(4, { name: "elsewhere", asn: 64501, country: "US" })
  ])

  it("holds the hosts of the client's ASN that serve its clients and those peering with it", () => {
    const orders = ordersOver(SEEDS, (seed) => select(index, { ip: "192.0.2.1", asn: 64500, minimum: 0, seed }))
    assert.sameMembers([...orders], ["own,peer", "peer,own"], "shuffled uniformly")
    assert.strictEqual(select(index, { ip: "192.0.2.1", asn: 64500, minimum: 0 }).asn, 64500)
  })

  it("is empty (and no ASN token) for an ASN nobody claims, and off with netblock=0 or requested countries", () => {
    const none = select(index, { ip: "192.0.2.1", asn: 65000, minimum: 0 })
    assert.deepStrictEqual(names(none), [])
    assert.isUndefined(none.asn)
    assert.isUndefined(select(index, { ip: "192.0.2.1", asn: 64500, minimum: 0, netblock: false }).asn)
    assert.isUndefined(select(index, { ip: "192.0.2.1", asn: 64500, minimum: 0, countries: ["US"] }).asn)
  })

  it("comes after the netblock group", () => {
    const both = build([
      host(1, { name: "asn", asn: 64500, country: "US" }),
      host(2, { name: "net", netblocks: ["192.0.2.0/24"], country: "US" })
    ])
    for (const seed of SEEDS.slice(0, 20)) {
      assert.deepStrictEqual(names(select(both, { ip: "192.0.2.1", asn: 64500, minimum: 0, seed })), ["net", "asn"])
    }
  })
})

describe("R&E group (docs/redirector.md#selection)", () => {
  const index = build([
    host(1, { name: "re-public", internet2: true, country: "DE" }),
    host(2, { name: "re-private-clients", internet2: true, private: true, internet2Clients: true, country: "DE" }),
    host(3, { name: "re-private", internet2: true, private: true, country: "DE" }),
    host(4, { name: "re-fr", internet2: true, country: "FR" }),
    host(5, { name: "re-at-only", internet2: true, country: "DE", countriesAllowed: ["AT"] }),
    host(6, { name: "plain-de", country: "DE", bandwidth: 10_000 })
  ])

  it("holds R&E hosts of the client's country, public or serving R&E clients, before the geo groups", () => {
    for (const seed of SEEDS.slice(0, 30)) {
      const selection = select(index, { ip: "198.51.100.7", cc: "DE", re: true, minimum: 0, seed })
      const order = names(selection)
      assert.sameMembers(order.slice(0, 2), ["re-public", "re-private-clients"])
      assert.deepStrictEqual(order.slice(2), ["plain-de", "re-fr"])
      assert.isTrue(selection.researchNetwork)
    }
  })

  it("is off for clients outside the R&E list, with requested countries and with netblock=0", () => {
    for (const ask of [
      { re: false },
      { re: true, countries: ["DE"] },
      { re: true, netblock: false }
    ] satisfies ReadonlyArray<Ask>) {
      const selection = select(index, { ip: "198.51.100.7", cc: "DE", minimum: 0, ...ask })
      assert.isFalse(selection.researchNetwork)
      assert.notInclude(names(selection), "re-private-clients")
      assert.notInclude(names(selection), "re-private")
    }
  })
})

describe("requested countries (docs/redirector.md#selection)", () => {
  const index = build([
    host(1, { name: "se", country: "SE" }),
    host(2, { name: "de1", country: "DE" }),
    host(3, { name: "de2", country: "DE" }),
    host(4, { name: "fr", country: "FR" }),
    host(5, { name: "us", country: "US" }),
    host(6, { name: "au", country: "AU" }),
    host(7, { name: "net", country: "US", private: true, netblocks: ["10.1.0.0/16"] })
  ])

  it("gives only the requested country's hosts: no global fill, whatever the minimum", () => {
    const selection = select(index, { countries: ["SE"], cc: "AU", ip: "10.1.2.3", minimum: 100 })
    assert.deepStrictEqual(names(selection), ["se"])
    assert.deepStrictEqual(selection.countries, ["SE"])
    assert.isFalse(selection.global)
    assert.isFalse(selection.netblock)
  })

  it("keeps the request order and takes GLOBAL as every public host", () => {
    const frde = select(index, { countries: ["FR", "DE"] })
    assert.strictEqual(names(frde)[0], "fr")
    assert.sameMembers(names(frde).slice(1), ["de1", "de2"])
    assert.deepStrictEqual(frde.countries, ["FR", "DE"])
    assert.isFalse(frde.global)

    const seGlobal = select(index, { countries: ["SE", "GLOBAL"] })
    assert.strictEqual(names(seGlobal)[0], "se")
    assert.sameMembers(names(seGlobal), ["se", "de1", "de2", "fr", "us", "au"])
    assert.deepStrictEqual(seGlobal.countries, ["SE"])
    assert.isTrue(seGlobal.global)

    const global = select(index, { countries: ["GLOBAL"], cc: "DE" })
    assert.sameMembers(names(global), ["se", "de1", "de2", "fr", "us", "au"])
    assert.deepStrictEqual(global.countries, [])
    assert.isTrue(global.global)
  })

  it("falls back to the other countries of the continent, alphabetically, still in exact mode", () => {
    for (const seed of SEEDS.slice(0, 20)) {
      const selection = select(index, { countries: ["AT"], cc: "US", minimum: 100, seed })
      const order = names(selection)
      assert.sameMembers(order.slice(0, 2), ["de1", "de2"])
      assert.deepStrictEqual(order.slice(2), ["fr", "se"])
      assert.deepStrictEqual(selection.countries, ["DE", "FR", "SE"])
      assert.isFalse(selection.global)
    }
  })

  it("lists each continent country once when several requested countries share the continent", () => {
    const selection = select(index, { countries: ["AT", "CH"], cc: "US", minimum: 100 })
    assert.deepStrictEqual(selection.countries, ["DE", "FR", "SE"])
    assert.sameMembers(names(selection), ["de1", "de2", "fr", "se"])
  })

  it("continues with the client's country and the global fill when nothing is found (netblock stays off)", () => {
    const selection = select(index, { countries: ["ZZ"], cc: "US", ip: "10.1.2.3", minimum: 5 })
    const order = names(selection)
    assert.strictEqual(order[0], "us")
    assert.sameMembers(order, ["us", "se", "de1", "de2", "fr", "au"])
    assert.notInclude(order, "net")
    assert.deepStrictEqual(selection.countries, ["US"])
    assert.isTrue(selection.global)
    assert.isFalse(selection.netblock)
  })
})

describe("client country, continent and global fill (docs/redirector.md#selection)", () => {
  const hosts = [
    host(1, { name: "se", country: "SE" }),
    // Carries the category but is not up to date on D: does not count and is not listed.
    host(2, { name: "se-stale", country: "SE", dirs: [D2_ID] }),
    host(3, { name: "us", country: "US" }),
    host(4, { name: "au", country: "AU" })
  ]

  it("gives the client's country first, then the global fill below the minimum", () => {
    const index = build(hosts)
    for (const seed of SEEDS.slice(0, 20)) {
      const selection = select(index, { ip: "89.160.20.113", cc: "SE", minimum: 2, seed })
      const order = names(selection)
      assert.strictEqual(order[0], "se")
      assert.sameMembers(order.slice(1), ["us", "au"])
      assert.deepStrictEqual(selection.countries, ["SE"])
      assert.isTrue(selection.global)
    }
  })

  it("does not fill when the minimum is reached", () => {
    const selection = select(build(hosts), { ip: "89.160.20.113", cc: "SE", minimum: 1 })
    assert.deepStrictEqual(names(selection), ["se"])
    assert.isFalse(selection.global)
  })

  it("counts only distinct carriers, and only those not known to lack the client's family", () => {
    const index = build([
      host(1, { name: "se", country: "SE", ipv6: "no" }),
      host(2, { name: "se-stale", country: "SE", dirs: [] }),
      host(3, { name: "us", country: "US", ipv6: "yes" })
    ])
    // IPv4 client: `se` counts, minimum 1 reached.
    assert.deepStrictEqual(names(select(index, { ip: "192.0.2.1", cc: "SE", minimum: 1 })), ["se"])
    // IPv6 client: `se` is known to lack IPv6 and does not count: fill.
    const v6 = select(index, { ip: "2001:db8::1", cc: "SE", minimum: 1 })
    assert.deepStrictEqual(names(v6), ["se", "us"])
    assert.isTrue(v6.global)
  })

  it("adds the rest of the continent as one group after the client's country", () => {
    const index = build([
      ...hosts,
      host(5, { name: "de", country: "DE" }),
      host(6, { name: "fr", country: "FR" }),
      host(7, { name: "il", country: "IL" })
    ])
    const orders = new Set<string>()
    for (const seed of SEEDS) {
      const selection = select(index, { ip: "89.160.20.113", cc: "SE", minimum: 5, seed })
      const order = names(selection)
      assert.strictEqual(order[0], "se")
      assert.sameMembers(order.slice(1, 3), ["de", "fr"])
      assert.sameMembers(order.slice(3), ["us", "au", "il"])
      assert.deepStrictEqual(selection.countries, ["SE", "DE", "FR"])
      assert.isTrue(selection.global)
      orders.add(order.slice(1, 3).join(","))
    }
    assert.strictEqual(orders.size, 2, "the continent group is shuffled as one")
    // A continent redirect moves IL into Europe.
    const redirected = build(index.toSource().hosts, {
      overrides: { netblockCountries: [], continentRedirects: [{ country: "IL", continent: "EU" }] }
    })
    const selection = select(redirected, { cc: "SE", minimum: 5 })
    assert.deepStrictEqual(selection.countries, ["SE", "DE", "FR", "IL"])
    assert.sameMembers(names(selection).slice(1, 4), ["de", "fr", "il"])
  })

  it("gives only the global group to a client of unknown country", () => {
    const selection = select(build(hosts), { ip: "192.0.2.1", minimum: 5 })
    assert.sameMembers(names(selection), ["se", "us", "au"])
    assert.deepStrictEqual(selection.countries, [])
    assert.isTrue(selection.global)
  })
})

describe("countries-allowed trimming (docs/redirector.md#selection)", () => {
  const index = build([
    host(1, { name: "fr-only", country: "DE", countriesAllowed: ["FR"], netblocks: ["10.1.0.0/16"], asn: 64500 }),
    host(2, { name: "de", country: "DE" }),
    host(3, { name: "fr", country: "FR" })
  ])

  it("drops the host from every geo group of a client elsewhere", () => {
    for (const ask of [
      { cc: "DE", ip: "192.0.2.1" },
      { cc: "DE", countries: ["DE"] },
      { cc: "DE", countries: ["GLOBAL"] },
      { cc: "DE", countries: ["AT"] },
      { cc: "AT" },
      { cc: undefined }
    ] satisfies ReadonlyArray<Ask>) {
      assert.notInclude(names(select(index, { ...ask, minimum: 100 })), "fr-only", JSON.stringify(ask))
    }
  })

  it("keeps it for clients in an allowed country", () => {
    const selection = select(index, { cc: "FR", ip: "192.0.2.1", minimum: 0 })
    assert.strictEqual(names(selection)[0], "fr")
    assert.sameMembers(names(selection).slice(1), ["fr-only", "de"], "the continent group")
  })

  it("does not trim the netblock and ASN groups", () => {
    // Then the client-country group (DE) and the continent group (FR).
    const net = select(index, { cc: "DE", ip: "10.1.2.3", minimum: 0 })
    assert.deepStrictEqual(names(net), ["fr-only", "de", "fr"])
    assert.isTrue(net.netblock)
    const asn = select(index, { cc: "DE", ip: "192.0.2.1", asn: 64500, minimum: 0 })
    assert.deepStrictEqual(names(asn), ["fr-only", "de", "fr"])
    assert.strictEqual(asn.asn, 64500)
  })
})

describe("protocol filter (docs/redirector.md#selection)", () => {
  const index = build([
    host(1, { name: "both", urls: ["https://both.example.org/epel", "http://both.example.org/epel"] }),
    host(2, { name: "http", urls: ["http://http.example.org/epel"] }),
    host(3, { name: "ftp", urls: ["ftp://ftp.example.org/epel"] })
  ])

  it("keeps the URLs of the requested schemes and drops hosts left with none", () => {
    const http = select(index, { cc: "DE", protocols: ["http"] })
    assert.sameMembers(names(http), ["both", "http"])
    for (const { urls } of http.hosts)
      assert.deepStrictEqual(
        urls.map((u) => u.scheme),
        ["http"]
      )
    assert.notStrictEqual(http.empty, "protocol")
    const https = select(index, { cc: "DE", protocols: ["https"] })
    assert.deepStrictEqual(names(https), ["both"])
    assert.deepStrictEqual(https.hosts[0]!.urls, [{ url: "https://both.example.org/epel", scheme: "https" }])
    assert.sameMembers(names(select(index, { cc: "DE" })), ["both", "http", "ftp"])
  })

  it("answers an empty list flagged as emptied by the protocol, never the unfiltered list", () => {
    const rsync = select(index, { cc: "DE", protocols: ["rsync"] })
    assert.deepStrictEqual(rsync.hosts, [])
    assert.strictEqual(rsync.empty, "protocol")
    const exact = select(index, { countries: ["DE"], protocols: ["rsync"] })
    assert.deepStrictEqual(exact.hosts, [])
    assert.strictEqual(exact.empty, "protocol")
  })

  it("does not blame the protocol when nothing carries the directory", () => {
    const none = select(index, { dir: D2, cc: "DE", protocols: ["rsync"] })
    assert.deepStrictEqual(none.hosts, [])
    assert.notStrictEqual(none.empty, "protocol")
    assert.strictEqual(none.empty, "no-carrier")
  })
})

describe("why a selection is empty (issue 13: empty answers say why)", () => {
  it("names the reason: no carrier, protocol, allowed countries, private only, nothing matched; none when hosts", () => {
    const index = build([
      host(1, { name: "rsync", urls: ["rsync://r.example.org/epel"] }),
      host(2, { name: "fr-only", countriesAllowed: ["FR"], dirs: [D2_ID] }),
      host(3, { name: "private", private: true, netblocks: ["10.1.0.0/16"], dirs: [100] })
    ])
    assert.strictEqual(select(index, { dir: "pub/fedora/linux/releases/40" }).empty, "no-carrier")
    // (The redirector asks for the schemes an answer can list: https, http and ftp for a plain list.)
    assert.strictEqual(select(index, { cc: "DE", protocols: ["https", "http", "ftp"] }).empty, "protocol")
    assert.strictEqual(select(index, { cc: "DE", protocols: ["rsync"] }).empty, undefined)
    assert.strictEqual(select(index, { dir: D2, cc: "DE" }).empty, "countries-allowed")
    assert.strictEqual(select(index, { dir: D2, cc: "FR" }).empty, undefined)
    assert.strictEqual(select(index, { dir: "pub/epel", cc: "DE", ip: "192.0.2.1" }).empty, "private-only")
    assert.strictEqual(select(index, { dir: "pub/epel", cc: "DE", ip: "10.1.2.3" }).empty, undefined)
    const far = build([host(1, { name: "us", country: "US" })])
    assert.strictEqual(select(far, { cc: "DE", minimum: 0 }).empty, "no-match")
  })

  it("says why nobody carries a directory: no host, no usable URL, stale, or a stale repodata/", () => {
    const repodata = directory(103, `${D}/repodata`)
    const reason = (hosts: ReadonlyArray<HostSource>, dir = D) => {
      const index = build(hosts, { directories: [directory(100, "pub/epel"), directory(D_ID, D), repodata] })
      return index.noCarrierReason(index.directoryByName(dir)!)
    }
    const fedora = host(1, { categoryId: FEDORA, always: true })
    assert.deepStrictEqual(reason([fedora]), { kind: "no-host", category: "Fedora EPEL" })
    assert.deepStrictEqual(reason([host(1, { urls: [] })]), { kind: "no-url", category: "Fedora EPEL", hosts: 1 })
    assert.deepStrictEqual(reason([host(1, { dirs: [] }), host(2, { dirs: [100] })]), {
      kind: "stale",
      category: "Fedora EPEL",
      hosts: 2
    })
    // Up to date on the repository's directory, not on its repodata/.
    assert.deepStrictEqual(reason([host(1), host(2, { dirs: [] })]), {
      kind: "repodata",
      category: "Fedora EPEL",
      hosts: 1
    })
    assert.deepStrictEqual(reason([host(1)], `${D}/repodata`), { kind: "stale", category: "Fedora EPEL", hosts: 1 })
  })

  it("works the reason out again after host changes", () => {
    const index = build([], { directories: [directory(100, "pub/epel"), directory(D_ID, D)] })
    const d = index.directoryByName(D)!
    assert.strictEqual(index.noCarrierReason(d).kind, "no-host")
    index.replaceHosts([], [host(1, { dirs: [] })])
    assert.strictEqual(index.noCarrierReason(d).kind, "stale")
  })

  it("works the reason out again after directory changes, and counts those changes", () => {
    // Not yet linked to a category: it belongs to none.
    const index = build([host(1, { dirs: [] })], { directories: [directory(100, "pub/epel"), directory(D_ID, D, [])] })
    assert.strictEqual(index.noCarrierReason(index.directoryByName(D)!).kind, "no-category")
    let version = index.reasonVersion
    // Linked to its category (a directory change, no host changes): hosts have it, none is up to date on it.
    index.replaceDirectories([D_ID], [directory(D_ID, D)])
    assert.isAbove(index.reasonVersion, version)
    assert.deepStrictEqual(index.noCarrierReason(index.directoryByName(D)!), {
      kind: "stale",
      category: "Fedora EPEL",
      hosts: 1
    })
    // Up to date on it, and then a repodata/ below it that nobody is up to date on appears.
    version = index.reasonVersion
    index.replaceHosts([1], [host(1, { dirs: [D_ID] })])
    assert.isAbove(index.reasonVersion, version)
    assert.lengthOf(select(index, { cc: "DE" }).hosts, 1)
    version = index.reasonVersion
    index.replaceDirectories([], [directory(103, `${D}/repodata`)])
    assert.isAbove(index.reasonVersion, version)
    assert.strictEqual(select(index, { cc: "DE" }).empty, "no-carrier")
    assert.strictEqual(index.noCarrierReason(index.directoryByName(D)!).kind, "repodata")
    // Repositories and redirects are neither hosts nor directories: the version stays.
    version = index.reasonVersion
    index.setRepositories([], [])
    assert.strictEqual(index.reasonVersion, version)
  })
})

describe("a repository's directory and its repodata/ (issue 13: stale repodata never reaches yum)", () => {
  const R = `${D}/repodata`
  const R_ID = 103
  const withRepodata = (hosts: ReadonlyArray<HostSource>) =>
    build(hosts, { directories: [directory(100, "pub/epel"), directory(D_ID, D), directory(R_ID, R)] })

  it("carries the repository's directory only with its repodata/ up to date; always-up-to-date hosts carry both", () => {
    const index = withRepodata([
      host(1, { name: "both", dirs: [D_ID, R_ID] }),
      host(2, { name: "stale-repodata", dirs: [D_ID] }),
      host(3, { name: "repodata-only", dirs: [R_ID] }),
      host(4, { name: "always", always: true, dirs: [] })
    ])
    assert.sameMembers(names(select(index, { cc: "DE" })), ["both", "always"])
    assert.sameMembers(names(select(index, { dir: R, cc: "DE" })), ["both", "repodata-only", "always"])
    // Not through a netblock either.
    const net = withRepodata([host(1, { name: "net", dirs: [D_ID], netblocks: ["10.1.0.0/16"] })])
    assert.deepStrictEqual(names(select(net, { ip: "10.1.2.3", cc: "DE" })), [])
  })

  it("follows changes to the repodata/ of an already computed view, in either order of directories", () => {
    const index = withRepodata([host(1, { name: "a", dirs: [D_ID, R_ID] })])
    assert.deepStrictEqual(names(select(index, { cc: "DE" })), ["a"])
    index.replaceHosts([1], [host(1, { name: "a", dirs: [D_ID] })])
    assert.deepStrictEqual(names(select(index, { cc: "DE" })), [])
    index.replaceHosts([1], [host(1, { name: "a", dirs: [D_ID, R_ID] })])
    assert.deepStrictEqual(names(select(index, { cc: "DE" })), ["a"])
    // The repository's directory replaced (same id): still linked to its repodata/.
    index.replaceDirectories([D_ID], [directory(D_ID, D)])
    index.replaceHosts([1], [host(1, { name: "a", dirs: [D_ID] })])
    assert.deepStrictEqual(names(select(index, { cc: "DE" })), [])
    // The repodata/ gone: nothing more to require; back under a new id: required again.
    index.replaceDirectories([R_ID], [])
    assert.deepStrictEqual(names(select(index, { cc: "DE" })), ["a"])
    index.replaceDirectories([], [directory(104, R)])
    assert.deepStrictEqual(names(select(index, { cc: "DE" })), [])
    index.replaceHosts([1], [host(1, { name: "a", dirs: [D_ID, 104] })])
    assert.deepStrictEqual(names(select(index, { cc: "DE" })), ["a"])
  })
  it("mends the kept view when a private host's up-to-date bits change; makes it again for a public host's", () => {
    const privateNet = { private: true, netblocks: ["10.1.0.0/16"] }
    const index = withRepodata([
      host(1, { name: "public", dirs: [D_ID, R_ID] }),
      host(2, { name: "private", dirs: [D_ID, R_ID], ...privateNet }),
      host(3, { name: "private-asn", dirs: [D_ID, R_ID], private: true, asn: 64_500, netblocks: ["10.2.0.0/16"] })
    ])
    const viewOf = () => index.carriers(index.directoryByName(D)!)
    const kept = viewOf()
    assert.deepStrictEqual(names(select(index, { ip: "10.1.2.3", cc: "DE" })), ["private", "public"])
    // Its repodata/ goes stale: out of the repository's view, the view (and what hangs on it) kept.
    index.replaceHosts([2], [host(2, { name: "private", dirs: [D_ID], ...privateNet })])
    assert.strictEqual(viewOf(), kept)
    assert.deepStrictEqual(
      viewOf().all.map((h) => h.name),
      ["public", "private-asn"]
    )
    assert.deepStrictEqual(names(select(index, { ip: "10.1.2.3", cc: "DE" })), ["public"])
    // Current again: back in, in id order.
    index.replaceHosts([2], [host(2, { name: "private", dirs: [D_ID, R_ID], ...privateNet })])
    assert.strictEqual(viewOf(), kept)
    assert.deepStrictEqual(
      viewOf().all.map((h) => h.name),
      ["public", "private", "private-asn"]
    )
    assert.isTrue(viewOf().allIds.has(2))
    // A private host serving its ASN's clients: mended too, with what says whether clients' ASNs matter.
    assert.isTrue(viewOf().servesAsns)
    assert.deepStrictEqual(names(select(index, { ip: "192.0.2.1", asn: 64_500, cc: "DE" })), ["private-asn", "public"])
    index.replaceHosts(
      [3],
      [host(3, { name: "private-asn", dirs: [], private: true, asn: 64_500, netblocks: ["10.2.0.0/16"] })]
    )
    assert.strictEqual(viewOf(), kept)
    assert.isFalse(viewOf().servesAsns)
    assert.deepStrictEqual(names(select(index, { ip: "192.0.2.1", asn: 64_500, cc: "DE" })), ["public"])
    // A public host: the view is made again.
    index.replaceHosts([1], [host(1, { name: "public", dirs: [] })])
    assert.notStrictEqual(viewOf(), kept)
    assert.deepStrictEqual(
      viewOf().all.map((h) => h.name),
      ["private"]
    )
  })
})

describe("a mended view (issue 15: a check-in changes the bits of most kept views at once)", () => {
  it("says what a view made afresh says, however private hosts come and go", () => {
    // Private hosts of every kind a view's lists follow: serving an ASN, on R&E networks, with allowed countries.
    const kinds: ReadonlyArray<HostSpec> = [
      { private: true, netblocks: ["10.1.0.0/16"] },
      { private: true, asn: 64_500 },
      { private: true, internet2: true, internet2Clients: true },
      { private: true, countriesAllowed: ["DE"], netblocks: ["10.2.0.0/16"] },
      { private: true, peerAsns: [64_501] }
    ]
    const spec = (id: number, on: boolean) => ({ ...kinds[id % kinds.length], name: `p${id}`, dirs: on ? [D_ID] : [] })
    const on = new Map<number, boolean>()
    const hosts = [host(1, { name: "public" })]
    for (let id = 2; id <= 21; id++) {
      on.set(id, id % 3 === 0)
      hosts.push(host(id, spec(id, on.get(id)!)))
    }
    const index = build(hosts)
    const kept = index.carriers(index.directoryByName(D)!)
    let seed = 7
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed / 2_147_483_648
    }
    const listsOf = (view: typeof kept) => ({
      all: view.all.map((h) => h.id),
      allIds: Array.from({ length: 23 }, (_, id) => view.allIds.has(id)),
      size: view.allIds.size,
      servesAsns: view.servesAsns,
      research: view.research.map((h) => h.id),
      restricted: view.restricted
    })
    for (let step = 0; step < 200; step++) {
      const id = 2 + Math.floor(next() * 20)
      on.set(id, !on.get(id))
      index.replaceHosts([id], [host(id, spec(id, on.get(id)!))])
      const afresh = build([hosts[0]!, ...[...on].map(([each, current]) => host(each, spec(each, current)))])
      assert.strictEqual(index.carriers(index.directoryByName(D)!), kept, "the view kept, mended")
      assert.deepStrictEqual(listsOf(kept), listsOf(afresh.carriers(afresh.directoryByName(D)!)), `step ${step}`)
    }
  })
})

describe("address families (docs/redirector.md#selection)", () => {
  const index = build([
    host(1, { name: "v4-only", ipv4: "yes", ipv6: "no", bandwidth: 10_000 }),
    host(2, { name: "dual", ipv4: "yes", ipv6: "yes", bandwidth: 1 }),
    host(3, { name: "unknown", bandwidth: 10_000 })
  ])

  it("puts hosts serving IPv6 first for an IPv6 client regardless of weights, then unknown, then no", () => {
    for (const seed of SEEDS) {
      const order = names(select(index, { ip: "2001:db8::1", cc: "DE", minimum: 0, seed }))
      assert.deepStrictEqual(order, ["dual", "unknown", "v4-only"])
    }
  })

  it("treats IPv4-mapped IPv6 clients as IPv4", () => {
    const client = parseClientAddress("::ffff:192.0.2.1")!
    assert.strictEqual(client.family, 4)
    assert.strictEqual(client.text, "192.0.2.1")
    const firsts = new Set(SEEDS.map((seed) => names(select(index, { ip: "::ffff:192.0.2.1", cc: "DE", seed }))[0]))
    assert.include([...firsts], "v4-only", "weights decide among IPv4-capable and unknown hosts")
  })
})

describe("weighted shuffle (docs/redirector.md#selection)", () => {
  const firstCounts = (index: MirrorIndex, seeds: number) => {
    const counts = new Map<string, number>()
    for (let seed = 1; seed <= seeds; seed++) {
      const first = names(select(index, { cc: "SE", minimum: 0, seed }))[0]!
      counts.set(first, (counts.get(first) ?? 0) + 1)
    }
    return counts
  }

  it("favours bandwidth: a 1000-weight host is first far more often than a 10-weight one", () => {
    const counts = firstCounts(
      build([
        host(1, { name: "big", country: "SE", bandwidth: 1000 }),
        host(2, { name: "small", country: "SE", bandwidth: 10 })
      ]),
      2000
    )
    // Expected: 2000 × 1000/1010 ≈ 1980 and 2000 × 10/1010 ≈ 20.
    assert.isAbove(counts.get("big")!, 1940)
    assert.isAbove(counts.get("small") ?? 0, 5, "the small host still gets some first places")
    assert.isBelow(counts.get("small") ?? 0, 60)
  })

  it("draws in proportion to weight among three hosts", () => {
    const counts = firstCounts(
      build([
        host(1, { name: "w600", country: "SE", bandwidth: 600 }),
        host(2, { name: "w300", country: "SE", bandwidth: 300 }),
        host(3, { name: "w100", country: "SE", bandwidth: 100 })
      ]),
      3000
    )
    // Expected 1800 / 900 / 300.
    assert.isTrue(Math.abs(counts.get("w600")! - 1800) < 120, `w600 ${counts.get("w600")}`)
    assert.isTrue(Math.abs(counts.get("w300")! - 900) < 100, `w300 ${counts.get("w300")}`)
    assert.isTrue(Math.abs(counts.get("w100")! - 300) < 60, `w100 ${counts.get("w100")}`)
  })

  it("clamps bandwidth to 1..10000", () => {
    const index = build([
      host(1, { name: "zero", country: "SE", bandwidth: 0 }),
      host(2, { name: "one", country: "SE", bandwidth: 1 }),
      host(3, { name: "huge", country: "US", bandwidth: 1_000_000 }),
      host(4, { name: "max", country: "US", bandwidth: 10_000 })
    ])
    assert.strictEqual(index.host(1)!.weight, 1)
    assert.strictEqual(index.host(3)!.weight, 10_000)
    const counts = firstCounts(index, 2000)
    assert.isTrue(Math.abs(counts.get("zero")! - 1000) < 120, `zero ${counts.get("zero")}`)
    const us = new Map<string, number>()
    for (let seed = 1; seed <= 2000; seed++) {
      const first = names(select(index, { cc: "US", minimum: 0, seed }))[0]!
      us.set(first, (us.get(first) ?? 0) + 1)
    }
    assert.isTrue(Math.abs(us.get("huge")! - 1000) < 120, `huge ${us.get("huge")}`)
  })
})

describe("determinism and de-duplication (docs/redirector.md#selection)", () => {
  const index = build([
    host(1, { name: "net", country: "DE", netblocks: ["10.1.0.0/16"] }),
    host(2, { name: "asn", country: "FR", asn: 64500 }),
    ...Array.from({ length: 10 }, (_, i) => host(10 + i, { name: `de${i}`, country: "DE", bandwidth: 10 * (i + 1) })),
    ...Array.from({ length: 10 }, (_, i) => host(30 + i, { name: `eu${i}`, country: i % 2 ? "AT" : "NL" })),
    ...Array.from({ length: 10 }, (_, i) => host(50 + i, { name: `us${i}`, country: "US" }))
  ])
  const ask: Ask = { ip: "10.1.2.3", cc: "DE", asn: 64500, minimum: 100 }

  it("gives the same output for the same seed, and other orders for other seeds", () => {
    for (const seed of SEEDS.slice(0, 10)) {
      assert.deepStrictEqual(select(index, { ...ask, seed }), select(index, { ...ask, seed }))
    }
    assert.isAbove(ordersOver(SEEDS.slice(0, 10), (seed) => select(index, { ...ask, seed })).size, 5)
  })

  it("lists every host once, at its first position", () => {
    for (const seed of SEEDS.slice(0, 20)) {
      const order = names(select(index, { ...ask, seed }))
      assert.strictEqual(new Set(order).size, order.length)
      assert.strictEqual(order.length, 32)
      assert.deepStrictEqual(order.slice(0, 2), ["net", "asn"], "not moved by its later country groups")
      assert.sameMembers(
        order.slice(2, 12),
        Array.from({ length: 10 }, (_, i) => `de${i}`)
      )
    }
  })
})

describe("what a host carries (docs/redirector.md#what-a-host-counts-for)", () => {
  const index = build([
    host(1, { name: "always", always: true, dirs: [] }),
    host(2, { name: "hcd", dirs: [D_ID] }),
    host(3, { name: "no-hcd", dirs: [] }),
    // Every URL private, unreachable or with invalid TLS: the loader leaves none.
    host(4, { name: "no-urls", urls: [], always: true, netblocks: ["10.1.0.0/16"] }),
    host(5, { name: "fedora", categoryId: FEDORA, always: true, dirs: [] })
  ])

  it("always-up-to-date host categories carry every directory of their category; others their up-to-date HCDs", () => {
    assert.sameMembers(names(select(index, { dir: D, cc: "DE" })), ["always", "hcd"])
    assert.sameMembers(names(select(index, { dir: D2, cc: "DE" })), ["always"])
    assert.sameMembers(names(select(index, { dir: "pub/epel", cc: "DE" })), ["always"])
    assert.sameMembers(names(select(index, { dir: "pub/fedora/linux/releases/40", cc: "DE" })), ["fedora"])
  })

  it("never lists a host without usable URLs, not even through its netblock", () => {
    const selection = select(index, { dir: D, ip: "10.1.2.3", cc: "DE", minimum: 100 })
    assert.notInclude(names(selection), "no-urls")
    assert.isFalse(selection.netblock)
  })

  it("serves a directory from the linked category with the longest topdir, with its subpath", () => {
    const nested = build([host(1, { name: "a", always: true, dirs: [] })], {
      categories: [
        { id: 9, name: "Everything", topdir: "pub" },
        { id: EPEL, name: "Fedora EPEL", topdir: "pub/epel" }
      ],
      directories: [directory(7, "pub/epel/9", [9, EPEL]), directory(8, "pub/epel", [EPEL])]
    })
    assert.strictEqual(nested.directory(7)!.categoryId, EPEL)
    assert.strictEqual(nested.directory(7)!.subpath, "9")
    assert.strictEqual(nested.directory(8)!.subpath, "")
    assert.deepStrictEqual(names(select(nested, { dir: "pub/epel/9" })), ["a"])
  })
})

describe("incremental index changes", () => {
  it("replaceHosts: a host losing its HCD disappears, a new netblock starts matching, a removed host goes", () => {
    const index = build([host(1, { name: "a" }), host(2, { name: "b" })])
    assert.sameMembers(names(select(index, { cc: "DE" })), ["a", "b"])
    index.replaceHosts([1], [host(1, { name: "a", dirs: [] })])
    assert.deepStrictEqual(names(select(index, { cc: "DE" })), ["b"])

    assert.isFalse(select(index, { ip: "10.9.1.1", minimum: 0 }).netblock)
    index.replaceHosts([], [host(3, { name: "new", country: "US", netblocks: ["10.9.0.0/16"] })])
    const hit = select(index, { ip: "10.9.1.1", minimum: 0 })
    assert.deepStrictEqual(names(hit), ["new"])
    assert.isTrue(hit.netblock)

    // A changed netblock: the old one stops matching.
    index.replaceHosts([3], [host(3, { name: "new", country: "US", netblocks: ["10.8.0.0/16"] })])
    assert.isFalse(select(index, { ip: "10.9.1.1", minimum: 0 }).netblock)
    assert.isTrue(select(index, { ip: "10.8.1.1", minimum: 0 }).netblock)

    // Deactivated (missing from the reload): gone everywhere.
    index.replaceHosts([3], [])
    assert.isUndefined(index.host(3))
    assert.isFalse(select(index, { ip: "10.8.1.1", minimum: 0 }).netblock)
    assert.deepStrictEqual(names(select(index, { cc: "DE", minimum: 100 })), ["b"])
    assert.strictEqual(index.counts().hosts, 2)
    assert.strictEqual(index.counts().netblocks, 0)
  })

  it("replaceHosts: a host whose bits alone changed is one host, in the views kept and in its netblock", () => {
    const index = build([
      host(1, { name: "a", netblocks: ["10.1.0.0/16"], dirs: [D_ID] }),
      host(2, { name: "b", dirs: [D_ID] })
    ])
    assert.sameMembers(names(select(index, { ip: "10.1.2.3" })), ["a", "b"])
    // Up to date on D2 now too: D's view is kept (its bits did not change), D2's is worked out again.
    index.replaceHosts([1], [host(1, { name: "a", netblocks: ["10.1.0.0/16"], dirs: [D_ID, D2_ID] })])
    const again = names(select(index, { ip: "10.1.2.3" }))
    assert.sameMembers(again, ["a", "b"])
    assert.strictEqual(again.length, 2, again.join(","))
    assert.deepStrictEqual(names(select(index, { dir: D2, ip: "10.1.2.3" })), ["a"])
    // And off D again.
    index.replaceHosts([1], [host(1, { name: "a", netblocks: ["10.1.0.0/16"], dirs: [D2_ID] })])
    assert.deepStrictEqual(names(select(index, { ip: "10.1.2.3" })), ["b"])
  })

  it("replaceHosts: always-up-to-date switched on and off changes cached views of the category", () => {
    const index = build([host(1, { name: "a", dirs: [] })])
    assert.deepStrictEqual(names(select(index, { dir: D2 })), [])
    assert.deepStrictEqual(names(select(index, { dir: D })), [])
    index.replaceHosts([1], [host(1, { name: "a", always: true, dirs: [] })])
    assert.deepStrictEqual(names(select(index, { dir: D2 })), ["a"])
    assert.deepStrictEqual(names(select(index, { dir: D })), ["a"])
    index.replaceHosts([1], [host(1, { name: "a", dirs: [D_ID] })])
    assert.deepStrictEqual(names(select(index, { dir: D2 })), [])
    assert.deepStrictEqual(names(select(index, { dir: D })), ["a"])
  })

  it("replaceHosts: a host becoming private leaves the geo groups", () => {
    const index = build([host(1, { name: "a", netblocks: ["10.1.0.0/16"] })])
    assert.deepStrictEqual(names(select(index, { cc: "DE" })), ["a"])
    index.replaceHosts([1], [host(1, { name: "a", private: true, netblocks: ["10.1.0.0/16"] })])
    assert.deepStrictEqual(names(select(index, { cc: "DE" })), [])
    assert.deepStrictEqual(names(select(index, { cc: "DE", ip: "10.1.0.1" })), ["a"])
  })

  it("replaceDirectories: new directories are found and carried, deleted ones vanish, file details change", () => {
    const index = build([host(1, { name: "always", always: true, dirs: [] }), host(2, { name: "early", dirs: [103] })])
    const name = "pub/epel/10/Everything/x86_64"
    assert.isUndefined(index.directoryByName(name))
    const detail = {
      filename: "repomd.xml",
      timestamp: 1_700_000_000,
      size: 42,
      md5: null,
      sha1: null,
      sha256: "a".repeat(64),
      sha512: null
    }
    index.replaceDirectories([], [{ ...directory(103, name), fileDetails: [detail] }])
    assert.strictEqual(index.directoryByName(name)!.subpath, "10/Everything/x86_64")
    assert.sameMembers(names(select(index, { dir: name })), ["always", "early"])
    assert.strictEqual(index.directory(103)!.files.get("repomd.xml")![0]!.timestamp, 1_700_000_000)
    assert.strictEqual(index.counts().fileDetails, 1)

    const newer = { ...detail, timestamp: 1_700_100_000 }
    index.replaceDirectories([103], [{ ...directory(103, name), fileDetails: [detail, newer] }])
    assert.deepStrictEqual(
      index
        .directory(103)!
        .files.get("repomd.xml")!
        .map((d) => d.timestamp),
      [1_700_100_000, 1_700_000_000],
      "newest first"
    )
    assert.strictEqual(index.counts().fileDetails, 2)

    index.replaceDirectories([103], [])
    assert.isUndefined(index.directoryByName(name))
    assert.isUndefined(index.directory(103))
    assert.strictEqual(index.counts().fileDetails, 0)
  })

  it("setRepositories and setOverrides replace repositories, redirects and client overrides", () => {
    const index = build([host(1)])
    assert.isDefined(index.repository("epel-9", "x86_64"))
    assert.isUndefined(index.redirect("epel-7"))
    index.setRepositories(
      [
        { prefix: "epel-archive-7", arch: "x86_64", directoryId: D2_ID, disabled: false },
        { prefix: "epel-9", arch: "x86_64", directoryId: D_ID, disabled: true }
      ],
      [{ from: "epel-7", to: "epel-archive-7" }]
    )
    assert.strictEqual(index.redirect("epel-7"), "epel-archive-7")
    assert.strictEqual(index.repository("epel-archive-7", "x86_64")!.directoryId, D2_ID)
    assert.isTrue(index.repository("epel-9", "x86_64")!.disabled)
    assert.deepStrictEqual(
      index.allRepositories().map((r) => r.prefix),
      ["epel-9", "epel-archive-7"]
    )

    const client = parseClientAddress("192.0.2.77")!
    assert.isUndefined(index.countryOverride(client))
    assert.strictEqual(index.continentOf("IL"), "AS")
    index.setOverrides({
      netblockCountries: [
        { netblock: "192.0.0.0/16", country: "FR" },
        { netblock: "192.0.2.0/24", country: "DE" }
      ],
      continentRedirects: [{ country: "IL", continent: "EU" }]
    })
    assert.strictEqual(index.countryOverride(client), "DE", "longest prefix wins")
    assert.strictEqual(index.countryOverride(parseClientAddress("192.0.3.1")!), "FR")
    assert.strictEqual(index.continentOf("IL"), "EU")
    index.setOverrides({ netblockCountries: [], continentRedirects: [] })
    assert.isUndefined(index.countryOverride(client))
  })

  it.effect("round-trips through toSource and the snapshot file", () =>
    Effect.gen(function* () {
      const index = build([
        host(1, { name: "a", netblocks: ["10.1.0.0/16"], peerAsns: [64500], countriesAllowed: ["DE"], dirs: [D_ID] }),
        host(2, { name: "b", country: "US" }),
        host(3, { name: "c", country: "DE", dirs: [] })
      ])
      const file = path.join(dataDir, "snapshot.jsonl.gz")
      yield* writeSnapshot(file, { builtAt: BUILT_AT, source: index.toSource() })
      const read = yield* readSnapshot(file)
      const copy = yield* MirrorIndex.build(read!.source, read!.builtAt)
      for (const seed of SEEDS.slice(0, 10)) {
        const ask: Ask = { ip: "10.1.2.3", cc: "DE", asn: 64500, seed }
        assert.deepStrictEqual(names(select(copy, ask)), names(select(index, ask)))
      }
      assert.deepStrictEqual(copy.counts(), index.counts())
      assert.deepStrictEqual(names(select(copy, { cc: "DE" })), names(select(index, { cc: "DE" })))
      // A file cut short is refused.
      const whole = fs.readFileSync(file)
      fs.writeFileSync(file, zlib.gzipSync(zlib.gunzipSync(whole).subarray(0, 200)))
      assert.match(String((yield* Effect.flip(readSnapshot(file))).message), /cut off|JSON/)
    })
  )
})

// ---- With the real GeoIP and network tables ----

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mm-selection-"))
const asnFile = path.join(dataDir, "asn.txt")
const reFile = path.join(dataDir, "re.txt")
fs.writeFileSync(asnFile, "192.0.2.0/24 64500\n89.160.20.0/24 64600\n0.0.0.0/0 1\n")
fs.writeFileSync(reFile, "198.51.100.0/24 11537\n2001:db8:e::/48 11537\n")
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

const NETWORK_WORLD = source(
  [
    host(1, { name: "se", country: "SE" }),
    host(2, { name: "de", country: "DE" }),
    host(3, { name: "us", country: "US" }),
    host(4, { name: "au", country: "AU" }),
    host(5, { name: "re-de", country: "DE", internet2: true }),
    host(6, { name: "asn", country: "US", asn: 64500 })
  ],
  { overrides: { netblockCountries: [{ netblock: "198.51.100.0/24", country: "DE" }], continentRedirects: [] } }
)

/** The redirector serving NETWORK_WORLD. */
const redirectorLayer = Layer.effectDiscard(
  Effect.map(Effect.service(Redirector), (r) =>
    r.replaceIndex(NETWORK_WORLD, { origin: "database", builtAt: BUILT_AT })
  )
).pipe(
  Layer.provideMerge(Redirector.layer(defaultRedirectorSettings, { random: () => seededRandom([1, 2, 3, 4]) })),
  Layer.provide([GeoIp.layer, NetworkData.layer({ asnFile, researchNetworksFile: reFile, watchInterval: "1 hour" })])
)

layer(redirectorLayer, { excludeTestServices: true })("selection with GeoIP and network data", (it) => {
  const index = new MirrorIndex(NETWORK_WORLD, BUILT_AT)
  const selectFor = (redirector: Redirector["Service"], ip: string, ask: Ask = {}) => {
    const facts = redirector.clientFacts(parseClientAddress(ip))
    const options = redirector.selectionOptions(facts)
    return select(index, {
      ...ask,
      ip,
      cc: facts.country,
      asn: facts.asn,
      re: facts.researchNetwork,
      minimum: ask.minimum ?? options.minimum
    })
  }

  it.effect("client facts: NetblockCountry override, else GeoIP; ASN and R&E from the tables", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const facts = (ip: string) => redirector.clientFacts(parseClientAddress(ip))
      assert.deepStrictEqual(facts("89.160.20.113"), { country: "SE", asn: 64600, researchNetwork: false })
      assert.deepStrictEqual(facts("::ffff:89.160.20.113"), { country: "SE", asn: 64600, researchNetwork: false })
      assert.deepStrictEqual(facts("1.1.1.1"), { country: "AU", asn: undefined, researchNetwork: false })
      assert.strictEqual(facts("2001:4860:4860::8888").country, "US")
      // GeoIP says AU for 198.51.100.7; the override says DE.
      assert.deepStrictEqual(facts("198.51.100.7"), { country: "DE", asn: undefined, researchNetwork: true })
      assert.deepStrictEqual(facts("192.0.2.10"), { country: undefined, asn: 64500, researchNetwork: false })
      assert.isTrue(facts("2001:db8:e::1").researchNetwork)
      assert.deepStrictEqual(redirector.clientFacts(undefined), {
        country: undefined,
        asn: undefined,
        researchNetwork: false
      })
    })
  )

  it.effect("country=se gives only the SE host, whatever the client's country", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const selection = selectFor(redirector, "1.1.1.1", { countries: ["SE"] })
      assert.deepStrictEqual(names(selection), ["se"])
      assert.deepStrictEqual(selection.countries, ["SE"])
      assert.isFalse(selection.global)
    })
  )

  it.effect("a client in SE gets the SE host first, then the global fill", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const selection = selectFor(redirector, "89.160.20.113", { minimum: 5 })
      const order = names(selection)
      assert.strictEqual(order[0], "se")
      // The only other European hosts are in DE (continent group), then the rest.
      assert.sameMembers(order.slice(1, 3), ["de", "re-de"])
      assert.sameMembers(order.slice(3), ["us", "au", "asn"])
      assert.deepStrictEqual(selection.countries, ["SE", "DE"])
      assert.isTrue(selection.global)
    })
  )

  it.effect("R&E clients get the R&E hosts of their country first; ASN clients their ASN's hosts", () =>
    Effect.gen(function* () {
      const redirector = yield* Redirector
      const re = selectFor(redirector, "198.51.100.7")
      assert.deepStrictEqual(names(re).slice(0, 2), ["re-de", "de"])
      assert.isTrue(re.researchNetwork)
      assert.deepStrictEqual(re.countries, ["DE", "SE"])
      const asn = selectFor(redirector, "192.0.2.10", { minimum: 0 })
      assert.deepStrictEqual(names(asn), ["asn"])
      assert.strictEqual(asn.asn, 64500)
    })
  )
})
