// Handlers of /api/sites, their admins and hosts.
import { Hosts, Sites } from "@mirrormanager/actors/registry"
import { Api } from "@mirrormanager/domain/api"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { asCaller } from "./Principal.ts"

export const SitesHandlers = HttpApiBuilder.group(
  Api,
  "sites",
  Effect.fn(function* (handlers) {
    const sites = yield* Sites
    const hosts = yield* Hosts
    return handlers
      .handle("listSite", ({ query }) => asCaller((p) => sites.list(p, query)))
      .handle("createSite", ({ payload }) => asCaller((p) => sites.create(p, payload)))
      .handle("getSite", ({ params }) => asCaller((p) => sites.get(p, params.siteId)))
      .handle("updateSite", ({ params, payload }) => asCaller((p) => sites.update(p, params.siteId, payload)))
      .handle("deleteSite", ({ params }) => asCaller((p) => sites.remove(p, params.siteId)))
      .handle("listSiteAdmins", ({ params, query }) => asCaller((p) => sites.listAdmins(p, params.siteId, query)))
      .handle("addSiteAdmin", ({ params, payload }) =>
        asCaller((p) => sites.addAdmin(p, params.siteId, payload.username))
      )
      .handle("removeSiteAdmin", ({ params }) => asCaller((p) => sites.removeAdmin(p, params.siteId, params.userId)))
      .handle("listSiteHosts", ({ params, query }) => asCaller((p) => hosts.listForSite(p, params.siteId, query)))
      .handle("createSiteHost", ({ params, payload }) => asCaller((p) => hosts.create(p, params.siteId, payload)))
  })
)
