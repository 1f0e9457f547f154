// A host and what it carries: categories, URLs, netblocks, peer ASNs, allowed countries.
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { CrawlLog, CrawlSummary } from "../host/index.ts"
import { HostStatus } from "../publiclist/index.ts"
import * as H from "../registry/index.ts"
import {
  HostCategoryId,
  HostCategoryUrlId,
  HostCountryAllowedId,
  HostId,
  HostNetblockId,
  HostPeerAsnId,
  Page,
  PageQuery,
  PayloadTooLarge
} from "../registry/index.ts"
import { Authentication } from "./Authentication.ts"
import { BodyWriteErrors, Created, ReadErrors, WriteErrors } from "./Crud.ts"

const hostParams = { hostId: HostId }

/** A small per-host list (netblocks, peer ASNs, allowed countries): list, add, delete. */
const hostList = <
  const One extends string,
  const Many extends string,
  const Path extends string,
  Item extends Schema.Top,
  Create extends Schema.Top,
  Id extends Schema.Top
>(
  one: One,
  many: Many,
  path: Path,
  schemas: { readonly item: Item; readonly create: Create; readonly id: Id }
) =>
  [
    HttpApiEndpoint.get(`listHost${many}`, `/api/hosts/:hostId/${path}`, {
      params: hostParams,
      query: PageQuery,
      success: Page(schemas.item),
      error: ReadErrors
    }),
    HttpApiEndpoint.post(`addHost${one}`, `/api/hosts/:hostId/${path}`, {
      params: hostParams,
      payload: schemas.create,
      success: Created(schemas.item),
      error: BodyWriteErrors
    }),
    HttpApiEndpoint.delete(`deleteHost${one}`, `/api/hosts/:hostId/${path}/:itemId`, {
      params: { hostId: HostId, itemId: schemas.id },
      error: WriteErrors
    })
  ] as const

export class HostsApi extends HttpApiGroup.make("hosts")
  .add(
    HttpApiEndpoint.get("getHost", "/api/hosts/:hostId", { params: hostParams, success: H.Host, error: ReadErrors }),
    HttpApiEndpoint.patch("updateHost", "/api/hosts/:hostId", {
      params: hostParams,
      payload: H.UpdateHost,
      success: H.Host,
      error: BodyWriteErrors
    }),
    HttpApiEndpoint.delete("deleteHost", "/api/hosts/:hostId", { params: hostParams, error: WriteErrors }),
    // Crawls the host now, on the node that holds it, and answers what the crawl found (docs/crawler.md#overview).
    HttpApiEndpoint.post("crawlHost", "/api/hosts/:hostId/crawl", {
      params: hostParams,
      payload: Schema.Struct({ mode: Schema.optional(Schema.Literals(["full", "repodata", "canary"])) }),
      success: CrawlSummary,
      error: [...ReadErrors, PayloadTooLarge]
    }),
    // The host's last crawls, newest first: each request and what it answered (docs/crawler.md#limits-and-politeness).
    HttpApiEndpoint.get("getHostCrawlLog", "/api/hosts/:hostId/crawl-log", {
      params: hostParams,
      success: Schema.Array(CrawlLog),
      error: ReadErrors
    }),
    // The host's status page's data and what only its admins see: check-in, crawl failures, why it is disabled,
    // its last crawl runs (docs/pages.md#host-status).
    HttpApiEndpoint.get("getHostStatus", "/api/hosts/:hostId/status", {
      params: hostParams,
      success: HostStatus,
      error: ReadErrors
    })
  )
  .add(
    HttpApiEndpoint.get("listHostCategories", "/api/hosts/:hostId/categories", {
      params: hostParams,
      query: PageQuery,
      success: Page(H.HostCategory),
      error: ReadErrors
    }),
    HttpApiEndpoint.post("addHostCategory", "/api/hosts/:hostId/categories", {
      params: hostParams,
      payload: H.CreateHostCategory,
      success: Created(H.HostCategory),
      error: BodyWriteErrors
    }),
    HttpApiEndpoint.get("getHostCategory", "/api/host-categories/:id", {
      params: { id: HostCategoryId },
      success: H.HostCategory,
      error: ReadErrors
    }),
    HttpApiEndpoint.patch("updateHostCategory", "/api/host-categories/:id", {
      params: { id: HostCategoryId },
      payload: H.UpdateHostCategory,
      success: H.HostCategory,
      error: BodyWriteErrors
    }),
    HttpApiEndpoint.delete("deleteHostCategory", "/api/host-categories/:id", {
      params: { id: HostCategoryId },
      error: WriteErrors
    })
  )
  .add(
    HttpApiEndpoint.get("listHostCategoryUrls", "/api/host-categories/:id/urls", {
      params: { id: HostCategoryId },
      query: PageQuery,
      success: Page(H.HostCategoryUrl),
      error: ReadErrors
    }),
    HttpApiEndpoint.post("addHostCategoryUrl", "/api/host-categories/:id/urls", {
      params: { id: HostCategoryId },
      payload: H.CreateHostCategoryUrl,
      success: Created(H.HostCategoryUrl),
      error: BodyWriteErrors
    }),
    HttpApiEndpoint.get("getHostCategoryUrl", "/api/host-category-urls/:id", {
      params: { id: HostCategoryUrlId },
      success: H.HostCategoryUrl,
      error: ReadErrors
    }),
    HttpApiEndpoint.patch("updateHostCategoryUrl", "/api/host-category-urls/:id", {
      params: { id: HostCategoryUrlId },
      payload: H.UpdateHostCategoryUrl,
      success: H.HostCategoryUrl,
      error: BodyWriteErrors
    }),
    HttpApiEndpoint.delete("deleteHostCategoryUrl", "/api/host-category-urls/:id", {
      params: { id: HostCategoryUrlId },
      error: WriteErrors
    })
  )
  .add(
    ...hostList("Netblock", "Netblocks", "netblocks", {
      item: H.HostNetblock,
      create: H.CreateHostNetblock,
      id: HostNetblockId
    })
  )
  .add(
    ...hostList("PeerAsn", "PeerAsns", "peer-asns", {
      item: H.HostPeerAsn,
      create: H.CreateHostPeerAsn,
      id: HostPeerAsnId
    })
  )
  .add(
    ...hostList("CountryAllowed", "CountriesAllowed", "countries-allowed", {
      item: H.HostCountryAllowed,
      create: H.CreateHostCountryAllowed,
      id: HostCountryAllowedId
    })
  )
  .middleware(Authentication)
  .annotateMerge(OpenApi.annotations({ title: "Hosts", description: "Mirror servers and what they carry" })) {}
