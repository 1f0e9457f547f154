// Every public page's route, with the page cache they share. Served by full nodes, behind the admin API's problem
// handling (a page that cannot reach the database answers 503 like the API).
import { Effect, Layer } from "effect"
import { homeRoute } from "./HomePage.ts"
import { hostStatusRoute } from "./HostStatusPage.ts"
import { mapRoute } from "./MapPage.ts"
import { mirrorListRoutes } from "./MirrorListPages.ts"
import { makePageCache } from "./PageCache.ts"
import { propagationRoutes } from "./PropagationPages.ts"
import { statisticsRoutes } from "./StatisticsPages.ts"
import { StylesheetRoute } from "./Stylesheet.ts"

export const PagesRoutes = Layer.unwrap(
  Effect.sync(() => {
    const pages = makePageCache()
    return Layer.mergeAll(
      homeRoute(pages),
      mirrorListRoutes(pages),
      hostStatusRoute(pages),
      propagationRoutes(pages),
      mapRoute(pages),
      statisticsRoutes(pages),
      StylesheetRoute
    )
  })
)
