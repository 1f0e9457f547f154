// Sites, their admins and their hosts.
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { Page, PageQuery } from "../Fields.ts"
import { CreateHost, Host } from "../Host.ts"
import { SiteId, UserId } from "../Ids.ts"
import * as S from "../Site.ts"
import { Authentication } from "./Authentication.ts"
import { Created, crudEndpoints, Errors } from "./Crud.ts"

export class SitesApi extends HttpApiGroup.make("sites")
  .add(
    ...crudEndpoints(
      "Site",
      "/api/sites",
      { id: SiteId, item: S.Site, create: S.CreateSite, update: S.UpdateSite },
      "siteId"
    )
  )
  .add(
    HttpApiEndpoint.get("listSiteAdmins", "/api/sites/:siteId/admins", {
      params: { siteId: SiteId },
      query: PageQuery,
      success: Page(S.SiteAdmin),
      error: Errors
    }),
    HttpApiEndpoint.post("addSiteAdmin", "/api/sites/:siteId/admins", {
      params: { siteId: SiteId },
      payload: S.AddSiteAdmin,
      success: Created(S.SiteAdmin),
      error: Errors
    }),
    HttpApiEndpoint.delete("removeSiteAdmin", "/api/sites/:siteId/admins/:userId", {
      params: { siteId: SiteId, userId: UserId },
      error: Errors
    }),
    HttpApiEndpoint.get("listSiteHosts", "/api/sites/:siteId/hosts", {
      params: { siteId: SiteId },
      query: PageQuery,
      success: Page(Host),
      error: Errors
    }),
    HttpApiEndpoint.post("createSiteHost", "/api/sites/:siteId/hosts", {
      params: { siteId: SiteId },
      payload: CreateHost,
      success: Created(Host),
      error: Errors
    })
  )
  .middleware(Authentication)
  .annotateMerge(
    OpenApi.annotations({ title: "Sites", description: "Organisations running mirrors, their admins and hosts" })
  ) {}
