// Sites, their admins and their hosts.
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import * as S from "../registry/index.ts"
import { CreateHost, Host, Page, PageQuery, SiteId, UserId } from "../registry/index.ts"
import { Authentication } from "./Authentication.ts"
import { BodyWriteErrors, Created, crudEndpoints, ReadErrors, WriteErrors } from "./Crud.ts"

const [listSites, createSite, , updateSite, deleteSite] = crudEndpoints(
  "Site",
  "/api/sites",
  { id: SiteId, item: S.Site, create: S.CreateSite, update: S.UpdateSite },
  "siteId"
)
// A list holds the sites the caller may see; reading another one is forbidden.
const getSite = HttpApiEndpoint.get("getSite", "/api/sites/:siteId", {
  params: { siteId: SiteId },
  success: S.Site,
  error: ReadErrors
})

export class SitesApi extends HttpApiGroup.make("sites")
  .add(listSites, createSite, getSite, updateSite, deleteSite)
  .add(
    HttpApiEndpoint.get("listSiteAdmins", "/api/sites/:siteId/admins", {
      params: { siteId: SiteId },
      query: PageQuery,
      success: Page(S.SiteAdmin),
      error: ReadErrors
    }),
    HttpApiEndpoint.post("addSiteAdmin", "/api/sites/:siteId/admins", {
      params: { siteId: SiteId },
      payload: S.AddSiteAdmin,
      success: Created(S.SiteAdmin),
      error: BodyWriteErrors
    }),
    HttpApiEndpoint.delete("removeSiteAdmin", "/api/sites/:siteId/admins/:userId", {
      params: { siteId: SiteId, userId: UserId },
      error: WriteErrors
    }),
    HttpApiEndpoint.get("listSiteHosts", "/api/sites/:siteId/hosts", {
      params: { siteId: SiteId },
      query: PageQuery,
      success: Page(Host),
      error: ReadErrors
    }),
    HttpApiEndpoint.post("createSiteHost", "/api/sites/:siteId/hosts", {
      params: { siteId: SiteId },
      payload: CreateHost,
      success: Created(Host),
      error: BodyWriteErrors
    })
  )
  .middleware(Authentication)
  .annotateMerge(
    OpenApi.annotations({ title: "Sites", description: "Organisations running mirrors, their admins and hosts" })
  ) {}
