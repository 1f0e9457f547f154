// A host and what it carries: categories, URLs, netblocks, peer ASNs, allowed countries.
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { Page } from "../Fields.ts"
import * as H from "../Host.ts"
import {
  HostCategoryId,
  HostCategoryUrlId,
  HostCountryAllowedId,
  HostId,
  HostNetblockId,
  HostPeerAsnId
} from "../Ids.ts"
import { Authentication } from "./Authentication.ts"
import { Created, Errors } from "./Crud.ts"

const hostParams = { id: HostId }

export class HostsApi extends HttpApiGroup.make("hosts")
  .add(
    HttpApiEndpoint.get("getHost", "/api/hosts/:id", { params: hostParams, success: H.Host, error: Errors }),
    HttpApiEndpoint.patch("updateHost", "/api/hosts/:id", {
      params: hostParams,
      payload: H.UpdateHost,
      success: H.Host,
      error: Errors
    }),
    HttpApiEndpoint.delete("deleteHost", "/api/hosts/:id", { params: hostParams, error: Errors })
  )
  .add(
    HttpApiEndpoint.get("listHostCategories", "/api/hosts/:id/categories", {
      params: hostParams,
      success: Page(H.HostCategory),
      error: Errors
    }),
    HttpApiEndpoint.post("addHostCategory", "/api/hosts/:id/categories", {
      params: hostParams,
      payload: H.CreateHostCategory,
      success: Created(H.HostCategory),
      error: Errors
    }),
    HttpApiEndpoint.get("getHostCategory", "/api/host-categories/:id", {
      params: { id: HostCategoryId },
      success: H.HostCategory,
      error: Errors
    }),
    HttpApiEndpoint.patch("updateHostCategory", "/api/host-categories/:id", {
      params: { id: HostCategoryId },
      payload: H.UpdateHostCategory,
      success: H.HostCategory,
      error: Errors
    }),
    HttpApiEndpoint.delete("deleteHostCategory", "/api/host-categories/:id", {
      params: { id: HostCategoryId },
      error: Errors
    })
  )
  .add(
    HttpApiEndpoint.get("listHostCategoryUrls", "/api/host-categories/:id/urls", {
      params: { id: HostCategoryId },
      success: Page(H.HostCategoryUrl),
      error: Errors
    }),
    HttpApiEndpoint.post("addHostCategoryUrl", "/api/host-categories/:id/urls", {
      params: { id: HostCategoryId },
      payload: H.CreateHostCategoryUrl,
      success: Created(H.HostCategoryUrl),
      error: Errors
    }),
    HttpApiEndpoint.get("getHostCategoryUrl", "/api/host-category-urls/:id", {
      params: { id: HostCategoryUrlId },
      success: H.HostCategoryUrl,
      error: Errors
    }),
    HttpApiEndpoint.patch("updateHostCategoryUrl", "/api/host-category-urls/:id", {
      params: { id: HostCategoryUrlId },
      payload: H.UpdateHostCategoryUrl,
      success: H.HostCategoryUrl,
      error: Errors
    }),
    HttpApiEndpoint.delete("deleteHostCategoryUrl", "/api/host-category-urls/:id", {
      params: { id: HostCategoryUrlId },
      error: Errors
    })
  )
  .add(
    HttpApiEndpoint.get("listHostNetblocks", "/api/hosts/:id/netblocks", {
      params: hostParams,
      success: Page(H.HostNetblock),
      error: Errors
    }),
    HttpApiEndpoint.post("addHostNetblock", "/api/hosts/:id/netblocks", {
      params: hostParams,
      payload: H.CreateHostNetblock,
      success: Created(H.HostNetblock),
      error: Errors
    }),
    HttpApiEndpoint.delete("deleteHostNetblock", "/api/hosts/:id/netblocks/:itemId", {
      params: { id: HostId, itemId: HostNetblockId },
      error: Errors
    })
  )
  .add(
    HttpApiEndpoint.get("listHostPeerAsns", "/api/hosts/:id/peer-asns", {
      params: hostParams,
      success: Page(H.HostPeerAsn),
      error: Errors
    }),
    HttpApiEndpoint.post("addHostPeerAsn", "/api/hosts/:id/peer-asns", {
      params: hostParams,
      payload: H.CreateHostPeerAsn,
      success: Created(H.HostPeerAsn),
      error: Errors
    }),
    HttpApiEndpoint.delete("deleteHostPeerAsn", "/api/hosts/:id/peer-asns/:itemId", {
      params: { id: HostId, itemId: HostPeerAsnId },
      error: Errors
    })
  )
  .add(
    HttpApiEndpoint.get("listHostCountriesAllowed", "/api/hosts/:id/countries-allowed", {
      params: hostParams,
      success: Page(H.HostCountryAllowed),
      error: Errors
    }),
    HttpApiEndpoint.post("addHostCountryAllowed", "/api/hosts/:id/countries-allowed", {
      params: hostParams,
      payload: H.CreateHostCountryAllowed,
      success: Created(H.HostCountryAllowed),
      error: Errors
    }),
    HttpApiEndpoint.delete("deleteHostCountryAllowed", "/api/hosts/:id/countries-allowed/:itemId", {
      params: { id: HostId, itemId: HostCountryAllowedId },
      error: Errors
    })
  )
  .middleware(Authentication)
  .annotateMerge(OpenApi.annotations({ title: "Hosts", description: "Mirror servers and what they carry" })) {}
