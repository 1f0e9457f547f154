// Handlers of /api/hosts, /api/host-categories and /api/host-category-urls.
import { HostCrawls } from "@mirrormanager/actors/host"
import { HostStatuses } from "@mirrormanager/actors/publiclist"
import { Hosts } from "@mirrormanager/actors/registry"
import { Api } from "@mirrormanager/domain/api"
import { notFound } from "@mirrormanager/domain/registry"
import { Effect, Layer } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { asCaller } from "./Principal.ts"
import { outsideDatabaseBound } from "./ProblemResponses.ts"

export const HostsHandlers = HttpApiBuilder.group(
  Api,
  "hosts",
  Effect.fn(function* (handlers) {
    const hosts = yield* Hosts
    const crawls = yield* HostCrawls
    const statuses = yield* HostStatuses
    return handlers
      .handle("getHost", ({ params }) => asCaller((p) => hosts.get(p, params.hostId)))
      .handle("updateHost", ({ params, payload }) => asCaller((p) => hosts.update(p, params.hostId, payload)))
      .handle("deleteHost", ({ params }) => asCaller((p) => hosts.remove(p, params.hostId)))
      .handle("getHostCrawlLog", ({ params }) => asCaller((p) => crawls.log(p, params.hostId)))
      .handle("getHostStatus", ({ params }) =>
        // Who may see the host (its site's admins, global admins) may see its status.
        asCaller((p) =>
          Effect.gen(function* () {
            yield* hosts.get(p, params.hostId)
            const status = yield* statuses.status(params.hostId, "admin").pipe(Effect.orDie)
            // Deleted a moment ago: not found, as it would be now.
            return status ?? (yield* Effect.fail(notFound("host", params.hostId)))
          })
        )
      )
      .handle("crawlHost", ({ params, payload }) =>
        // The mirror's answers, not the database, are what the crawl waits for: minutes, for a big one.
        asCaller((p) => crawls.crawlNow(p, params.hostId, payload.mode ?? "full", outsideDatabaseBound))
      )
      .handle("listHostCategories", ({ params, query }) =>
        asCaller((p) => hosts.listCategories(p, params.hostId, query))
      )
      .handle("addHostCategory", ({ params, payload }) => asCaller((p) => hosts.addCategory(p, params.hostId, payload)))
      .handle("getHostCategory", ({ params }) => asCaller((p) => hosts.getCategory(p, params.id)))
      .handle("updateHostCategory", ({ params, payload }) =>
        asCaller((p) => hosts.updateCategory(p, params.id, payload))
      )
      .handle("deleteHostCategory", ({ params }) => asCaller((p) => hosts.removeCategory(p, params.id)))
      .handle("listHostCategoryUrls", ({ params, query }) => asCaller((p) => hosts.listUrls(p, params.id, query)))
      .handle("addHostCategoryUrl", ({ params, payload }) => asCaller((p) => hosts.addUrl(p, params.id, payload)))
      .handle("getHostCategoryUrl", ({ params }) => asCaller((p) => hosts.getUrl(p, params.id)))
      .handle("updateHostCategoryUrl", ({ params, payload }) => asCaller((p) => hosts.updateUrl(p, params.id, payload)))
      .handle("deleteHostCategoryUrl", ({ params }) => asCaller((p) => hosts.removeUrl(p, params.id)))
      .handle("listHostNetblocks", ({ params, query }) => asCaller((p) => hosts.listNetblocks(p, params.hostId, query)))
      .handle("addHostNetblock", ({ params, payload }) => asCaller((p) => hosts.addNetblock(p, params.hostId, payload)))
      .handle("deleteHostNetblock", ({ params }) =>
        asCaller((p) => hosts.removeNetblock(p, params.hostId, params.itemId))
      )
      .handle("listHostPeerAsns", ({ params, query }) => asCaller((p) => hosts.listPeerAsns(p, params.hostId, query)))
      .handle("addHostPeerAsn", ({ params, payload }) => asCaller((p) => hosts.addPeerAsn(p, params.hostId, payload)))
      .handle("deleteHostPeerAsn", ({ params }) =>
        asCaller((p) => hosts.removePeerAsn(p, params.hostId, params.itemId))
      )
      .handle("listHostCountriesAllowed", ({ params, query }) =>
        asCaller((p) => hosts.listCountriesAllowed(p, params.hostId, query))
      )
      .handle("addHostCountryAllowed", ({ params, payload }) =>
        asCaller((p) => hosts.addCountryAllowed(p, params.hostId, payload))
      )
      .handle("deleteHostCountryAllowed", ({ params }) =>
        asCaller((p) => hosts.removeCountryAllowed(p, params.hostId, params.itemId))
      )
  })
).pipe(Layer.provide(HostCrawls.layer))
