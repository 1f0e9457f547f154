// Hosts and what they carry: host categories, their URLs, netblocks, peer ASNs and allowed countries.
import type {
  CreateHost,
  CreateHostCategory,
  CreateHostCategoryUrl,
  CreateHostNetblock,
  CreateHostPeerAsn,
  Host,
  HostCategory,
  HostCategoryId,
  HostCategoryUrl,
  HostCategoryUrlId,
  HostCountryAllowed,
  HostCountryAllowedId,
  HostId,
  HostNetblock,
  HostNetblockId,
  HostPeerAsn,
  HostPeerAsnId,
  Page,
  PageRequest,
  Principal,
  SiteId,
  UpdateHost,
  UpdateHostCategoryUrl
} from "@mirrormanager/domain/registry"
import {
  Forbidden,
  isWithinLimits,
  type NotFound,
  notFound,
  parseMirrorUrl,
  parseNetblock,
  Unprocessable
} from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { epoch, makeTable, type Table, transaction, type WriteError } from "../db/index.ts"
import { adminStateOfHosts, guardAdminFields, keepAdminState, requireAdmin, requireSiteAdmin } from "./Access.ts"
import { RegistryPolicy } from "./RegistryPolicy.ts"

type E = Forbidden | NotFound
type W = Forbidden | WriteError

const HOST_DEFAULTS = { adminActive: true } as const

export class Hosts extends Context.Service<
  Hosts,
  {
    readonly listForSite: (p: Principal, siteId: SiteId, page: PageRequest) => Effect.Effect<Page<Host>, E>
    readonly create: (p: Principal, siteId: SiteId, input: CreateHost) => Effect.Effect<Host, W>
    readonly get: (p: Principal, id: HostId) => Effect.Effect<Host, E>
    readonly update: (p: Principal, id: HostId, input: UpdateHost) => Effect.Effect<Host, W>
    readonly remove: (p: Principal, id: HostId) => Effect.Effect<void, W>

    readonly listCategories: (p: Principal, id: HostId, page: PageRequest) => Effect.Effect<Page<HostCategory>, E>
    readonly addCategory: (p: Principal, id: HostId, input: CreateHostCategory) => Effect.Effect<HostCategory, W>
    readonly getCategory: (p: Principal, id: HostCategoryId) => Effect.Effect<HostCategory, E>
    readonly updateCategory: (
      p: Principal,
      id: HostCategoryId,
      input: { readonly alwaysUp2date?: boolean }
    ) => Effect.Effect<HostCategory, W>
    readonly removeCategory: (p: Principal, id: HostCategoryId) => Effect.Effect<void, W>

    readonly listUrls: (p: Principal, id: HostCategoryId, page: PageRequest) => Effect.Effect<Page<HostCategoryUrl>, E>
    readonly addUrl: (
      p: Principal,
      id: HostCategoryId,
      input: CreateHostCategoryUrl
    ) => Effect.Effect<HostCategoryUrl, W>
    readonly getUrl: (p: Principal, id: HostCategoryUrlId) => Effect.Effect<HostCategoryUrl, E>
    readonly updateUrl: (
      p: Principal,
      id: HostCategoryUrlId,
      input: UpdateHostCategoryUrl
    ) => Effect.Effect<HostCategoryUrl, W>
    readonly removeUrl: (p: Principal, id: HostCategoryUrlId) => Effect.Effect<void, W>

    readonly listNetblocks: (p: Principal, id: HostId, page: PageRequest) => Effect.Effect<Page<HostNetblock>, E>
    readonly addNetblock: (p: Principal, id: HostId, input: CreateHostNetblock) => Effect.Effect<HostNetblock, W>
    readonly removeNetblock: (p: Principal, id: HostId, itemId: HostNetblockId) => Effect.Effect<void, W>

    readonly listPeerAsns: (p: Principal, id: HostId, page: PageRequest) => Effect.Effect<Page<HostPeerAsn>, E>
    readonly addPeerAsn: (p: Principal, id: HostId, input: CreateHostPeerAsn) => Effect.Effect<HostPeerAsn, W>
    readonly removePeerAsn: (p: Principal, id: HostId, itemId: HostPeerAsnId) => Effect.Effect<void, W>

    readonly listCountriesAllowed: (
      p: Principal,
      id: HostId,
      page: PageRequest
    ) => Effect.Effect<Page<HostCountryAllowed>, E>
    readonly addCountryAllowed: (
      p: Principal,
      id: HostId,
      input: { readonly country: string }
    ) => Effect.Effect<HostCountryAllowed, W>
    readonly removeCountryAllowed: (p: Principal, id: HostId, itemId: HostCountryAllowedId) => Effect.Effect<void, W>
  }
>()("actors/Hosts") {
  static readonly layer = Layer.effect(
    Hosts,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const policy = yield* RegistryPolicy
      const tx = transaction(sql)

      const hosts = yield* makeTable<Host>({
        table: "hosts",
        resource: "host",
        select: {
          id: "t.id",
          siteId: "t.site_id",
          name: "t.name",
          country: "t.country",
          bandwidth: "t.bandwidth",
          private: "t.private",
          asn: "t.asn::float8",
          asnClients: "t.asn_clients",
          internet2: "t.internet2",
          internet2Clients: "t.internet2_clients",
          maxConnections: "t.max_connections",
          adminActive: "t.admin_active",
          userActive: "t.user_active",
          comment: "t.comment",
          robotEmail: "t.robot_email",
          latitude: "t.latitude",
          longitude: "t.longitude",
          ipv4: "t.ipv4",
          ipv6: "t.ipv6",
          disabledBy: "t.disabled_by",
          disableReason: "t.disable_reason",
          crawlFailures: "t.crawl_failures",
          lastCrawled: epoch("t.last_crawled"),
          lastCrawlDuration: "t.last_crawl_duration",
          lastCheckedIn: epoch("t.last_checked_in"),
          createdAt: epoch("t.created_at")
        },
        columns: {
          siteId: "site_id",
          name: "name",
          country: "country",
          bandwidth: "bandwidth",
          private: "private",
          asn: "asn",
          asnClients: "asn_clients",
          internet2: "internet2",
          internet2Clients: "internet2_clients",
          maxConnections: "max_connections",
          adminActive: "admin_active",
          userActive: "user_active",
          comment: "comment",
          robotEmail: "robot_email",
          latitude: "latitude",
          longitude: "longitude",
          disabledBy: "disabled_by",
          disableReason: "disable_reason"
        },
        unique: { hosts_site_id_name_key: "this site already has a host with this name" }
      })
      const hostCategories = yield* makeTable<HostCategory>({
        table: "host_categories",
        resource: "host category",
        select: {
          id: "t.id",
          hostId: "t.host_id",
          categoryId: "t.category_id",
          category: "c.name",
          alwaysUp2date: "t.always_up2date"
        },
        joins: "JOIN categories c ON c.id = t.category_id",
        columns: { hostId: "host_id", categoryId: "category_id", alwaysUp2date: "always_up2date" },
        unique: { host_categories_host_id_category_id_key: "the host already carries this category" }
      })
      const urls = yield* makeTable<HostCategoryUrl>({
        table: "host_category_urls",
        resource: "host category URL",
        select: {
          id: "t.id",
          hostCategoryId: "t.host_category_id",
          url: "t.url",
          private: "t.private",
          reachable: "t.reachable",
          tlsValid: "t.tls_valid",
          tlsExpiresAt: epoch("t.tls_expires_at"),
          ipv4: "t.ipv4",
          ipv6: "t.ipv6",
          checkedAt: epoch("t.checked_at")
        },
        columns: { hostCategoryId: "host_category_id", url: "url", private: "private" },
        unique: { host_category_urls_url_key: "this URL is already registered (URLs are globally unique)" }
      })
      const netblocks = yield* makeTable<HostNetblock>({
        table: "host_netblocks",
        resource: "host netblock",
        select: { id: "t.id", hostId: "t.host_id", netblock: "t.netblock", name: "t.name" },
        columns: { hostId: "host_id", netblock: "netblock", name: "name" },
        unique: { host_netblocks_host_id_netblock_key: "the host already has this netblock" }
      })
      const peerAsns = yield* makeTable<HostPeerAsn>({
        table: "host_peer_asns",
        resource: "host peer ASN",
        select: { id: "t.id", hostId: "t.host_id", asn: "t.asn::float8", name: "t.name" },
        columns: { hostId: "host_id", asn: "asn", name: "name" },
        unique: { host_peer_asns_host_id_asn_key: "the host already has this peer ASN" }
      })
      const countries = yield* makeTable<HostCountryAllowed>({
        table: "host_countries_allowed",
        resource: "allowed country",
        select: { id: "t.id", hostId: "t.host_id", country: "t.country" },
        columns: { hostId: "host_id", country: "country" },
        unique: { host_countries_allowed_host_id_country_key: "the host already allows this country" }
      })

      /** The lists a site or host may only grow to a policy bound: parent table, child table and its key column. */
      const bounded = {
        hosts: {
          parent: "sites",
          child: "hosts",
          column: "site_id",
          max: policy.maxHostsPerSite,
          what: "hosts per site"
        },
        urls: {
          parent: "host_categories",
          child: "host_category_urls",
          column: "host_category_id",
          max: policy.maxUrlsPerHostCategory,
          what: "URLs per host category"
        },
        netblocks: {
          parent: "hosts",
          child: "host_netblocks",
          column: "host_id",
          max: policy.maxNetblocksPerHost,
          what: "netblocks per host"
        },
        peerAsns: {
          parent: "hosts",
          child: "host_peer_asns",
          column: "host_id",
          max: policy.maxPeerAsnsPerHost,
          what: "peer ASNs per host"
        }
      } as const

      /**
       * Inserts into a bounded list in one transaction, refusing once the list is full. The parent row is locked
       * first, so concurrent additions are counted one after the other.
       */
      const insertBounded = <A, E>(
        list: (typeof bounded)[keyof typeof bounded],
        parentId: number,
        insert: Effect.Effect<A, E>
      ) =>
        tx(
          Effect.gen(function* () {
            yield* sql`SELECT id FROM ${sql.literal(list.parent)} WHERE id = ${parentId} FOR UPDATE`.pipe(Effect.orDie)
            const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.literal(list.child)}
              WHERE ${sql.literal(list.column)} = ${parentId}`.pipe(Effect.orDie)
            if ((row?.n ?? 0) >= list.max)
              return yield* new Unprocessable({ detail: `at most ${list.max} ${list.what}` })
            return yield* insert
          })
        )

      const siteExists = (siteId: SiteId) =>
        Effect.flatMap(sql`SELECT 1 FROM sites WHERE id = ${siteId}`.pipe(Effect.orDie), (rows) =>
          rows.length === 0 ? Effect.fail(notFound("site", siteId)) : Effect.void
        )

      const get = Effect.fn("Hosts.get")(function* (p: Principal, id: HostId) {
        const host = yield* hosts.get(id)
        yield* requireSiteAdmin(p, host.siteId)
        return host
      })
      const getCategory = Effect.fn("Hosts.getCategory")(function* (p: Principal, id: HostCategoryId) {
        const hc = yield* hostCategories.get(id)
        yield* get(p, hc.hostId)
        return hc
      })
      const getUrl = Effect.fn("Hosts.getUrl")(function* (p: Principal, id: HostCategoryUrlId) {
        const url = yield* urls.get(id)
        yield* getCategory(p, url.hostCategoryId)
        return url
      })

      // The host's row first, as its entity's check-ins and crawls take it, then what it is up to date on: never the
      // other way round (a deadlock with a check-in), and no crawl writes bits back under the reset.
      const resetUp2date = (hostId: HostId) =>
        Effect.gen(function* () {
          yield* sql`SELECT id FROM hosts WHERE id = ${hostId} FOR UPDATE`
          yield* sql`UPDATE host_category_dirs SET up2date = false
            WHERE host_category_id IN (SELECT id FROM host_categories WHERE host_id = ${hostId})`
          yield* sql`UPDATE host_category_up2date SET bits = '\\x', changed_at = now() WHERE bits <> '\\x'
            AND host_category_id IN (SELECT id FROM host_categories WHERE host_id = ${hostId})`
        }).pipe(Effect.orDie)

      const normalizeUrl = (p: Principal, url: string) =>
        Effect.gen(function* () {
          const parsed = parseMirrorUrl(url)
          if (!parsed.ok) return yield* new Unprocessable({ detail: parsed.error })
          if (!p.admin && !policy.siteAdminUrlSchemes.includes(parsed.scheme)) {
            return yield* new Forbidden({
              detail: `only global admins may add ${parsed.scheme} URLs; allowed: ${policy.siteAdminUrlSchemes.join(", ")}`
            })
          }
          return parsed.url
        })

      /** List / delete for the small per-host tables. */
      const children = <A extends { readonly hostId: HostId }>(table: Table<A>) => ({
        list: (p: Principal, id: HostId, page: PageRequest) =>
          Effect.andThen(get(p, id), table.list(page, sql`t.host_id = ${id}`)),
        remove: (p: Principal, id: HostId, itemId: number, adminOnly?: string) =>
          Effect.gen(function* () {
            yield* get(p, id)
            if (adminOnly !== undefined) yield* requireAdmin(p, adminOnly)
            const item = yield* table.get(itemId)
            if (item.hostId !== id) return yield* notFound(table.resource, itemId)
            yield* tx(table.remove(itemId))
          })
      })
      const netblockChildren = children<HostNetblock>(netblocks)
      const peerAsnChildren = children<HostPeerAsn>(peerAsns)
      const countryChildren = children<HostCountryAllowed>(countries)

      return Hosts.of({
        listForSite: Effect.fn("Hosts.listForSite")(function* (p, siteId, page) {
          yield* requireSiteAdmin(p, siteId)
          yield* siteExists(siteId)
          return yield* hosts.list(page, sql`t.site_id = ${siteId}`)
        }),
        create: Effect.fn("Hosts.create")(function* (p, siteId, input) {
          yield* requireSiteAdmin(p, siteId)
          yield* siteExists(siteId)
          const values = yield* guardAdminFields(p, input, HOST_DEFAULTS, ["adminActive"])
          return yield* insertBounded(bounded.hosts, siteId, hosts.insert({ ...values, siteId }))
        }),
        get,
        update: Effect.fn("Hosts.update")(function* (p, id, input) {
          const current = yield* get(p, id)
          const values = yield* guardAdminFields(p, input, current, ["adminActive"])
          return yield* tx(
            Effect.gen(function* () {
              if (input.private !== undefined && input.private !== current.private) yield* resetUp2date(id)
              // Who switched the host off decides who may switch it on again (only crawler disables revert by themselves).
              const disabled =
                values.userActive === undefined || values.userActive === current.userActive
                  ? {}
                  : values.userActive
                    ? { disabledBy: "none", disableReason: null }
                    : { disabledBy: "user", disableReason: `disabled by ${p.username}` }
              return yield* hosts.update(id, { ...values, ...disabled })
            })
          )
        }),
        remove: Effect.fn("Hosts.remove")(function* (p, id) {
          yield* get(p, id)
          yield* tx(
            Effect.gen(function* () {
              yield* keepAdminState(p, `host ${id}`, yield* adminStateOfHosts(sql, sql`h.id = ${id}`))
              yield* hosts.remove(id)
            })
          )
        }),

        listCategories: Effect.fn("Hosts.listCategories")(function* (p, id, page) {
          yield* get(p, id)
          return yield* hostCategories.list(page, sql`t.host_id = ${id}`)
        }),
        addCategory: Effect.fn("Hosts.addCategory")(function* (p, id, input) {
          yield* get(p, id)
          const values = yield* guardAdminFields(p, input, { alwaysUp2date: false }, ["alwaysUp2date"])
          const [category] = yield* sql<{ adminOnly: boolean; name: string }>`SELECT admin_only AS "adminOnly", name
            FROM categories WHERE id = ${input.categoryId}`.pipe(Effect.orDie)
          if (category === undefined) {
            return yield* new Unprocessable({ detail: `category ${input.categoryId} does not exist` })
          }
          if (category.adminOnly) yield* requireAdmin(p, `add the admin-only category "${category.name}" to a host`)
          return yield* tx(hostCategories.insert({ ...values, hostId: id }))
        }),
        getCategory,
        updateCategory: Effect.fn("Hosts.updateCategory")(function* (p, id, input) {
          const current = yield* getCategory(p, id)
          const values = yield* guardAdminFields(p, input, current, ["alwaysUp2date"])
          return yield* tx(hostCategories.update(id, values))
        }),
        removeCategory: Effect.fn("Hosts.removeCategory")(function* (p, id) {
          const hc = yield* getCategory(p, id)
          yield* tx(
            Effect.gen(function* () {
              const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM host_category_urls
                WHERE host_category_id = ${id} AND private`.pipe(Effect.orDie)
              const reasons = [
                hc.alwaysUp2date ? "always up to date" : undefined,
                (row?.n ?? 0) > 0 ? "a private URL" : undefined
              ].filter((r): r is string => r !== undefined)
              yield* keepAdminState(p, `host category ${id}`, reasons)
              yield* hostCategories.remove(id)
            })
          )
        }),

        listUrls: Effect.fn("Hosts.listUrls")(function* (p, id, page) {
          yield* getCategory(p, id)
          return yield* urls.list(page, sql`t.host_category_id = ${id}`)
        }),
        addUrl: Effect.fn("Hosts.addUrl")(function* (p, id, input) {
          yield* getCategory(p, id)
          const values = yield* guardAdminFields(p, input, { private: false }, ["private"])
          const url = yield* normalizeUrl(p, input.url)
          return yield* insertBounded(bounded.urls, id, urls.insert({ ...values, url, hostCategoryId: id }))
        }),
        getUrl,
        updateUrl: Effect.fn("Hosts.updateUrl")(function* (p, id, input) {
          const current = yield* getUrl(p, id)
          const values = yield* guardAdminFields(p, input, current, ["private"])
          const url = input.url === undefined ? undefined : yield* normalizeUrl(p, input.url)
          return yield* tx(urls.update(id, { ...values, url }))
        }),
        removeUrl: Effect.fn("Hosts.removeUrl")(function* (p, id) {
          const url = yield* getUrl(p, id)
          yield* keepAdminState(p, `URL ${id}`, url.private ? ["been made private"] : [])
          yield* tx(urls.remove(id))
        }),

        listNetblocks: netblockChildren.list,
        addNetblock: Effect.fn("Hosts.addNetblock")(function* (p, id, input) {
          yield* get(p, id)
          const parsed = parseNetblock(input.netblock)
          if (!parsed.ok) return yield* new Unprocessable({ detail: parsed.error })
          if (!p.admin && !isWithinLimits(parsed.value, policy.netblockLimits)) {
            const { maxSizeV4, maxSizeV6 } = policy.netblockLimits
            return yield* new Forbidden({
              detail: `netblock ${parsed.value.normalized} is larger than /${maxSizeV4} (IPv4) or /${maxSizeV6} (IPv6); only global admins may add it`
            })
          }
          return yield* insertBounded(
            bounded.netblocks,
            id,
            netblocks.insert({
              hostId: id,
              netblock: parsed.value.normalized,
              name: input.name ?? parsed.value.normalized
            })
          )
        }),
        removeNetblock: (p, id, itemId) => netblockChildren.remove(p, id, itemId),

        listPeerAsns: peerAsnChildren.list,
        addPeerAsn: Effect.fn("Hosts.addPeerAsn")(function* (p, id, input) {
          yield* get(p, id)
          yield* requireAdmin(p, "add peer ASNs")
          return yield* insertBounded(
            bounded.peerAsns,
            id,
            peerAsns.insert({ hostId: id, asn: input.asn, name: input.name ?? "" })
          )
        }),
        removePeerAsn: (p, id, itemId) => peerAsnChildren.remove(p, id, itemId, "remove peer ASNs"),

        listCountriesAllowed: countryChildren.list,
        addCountryAllowed: Effect.fn("Hosts.addCountryAllowed")(function* (p, id, input) {
          yield* get(p, id)
          return yield* tx(countries.insert({ hostId: id, country: input.country }))
        }),
        removeCountryAllowed: (p, id, itemId) => countryChildren.remove(p, id, itemId)
      })
    })
  )
}
