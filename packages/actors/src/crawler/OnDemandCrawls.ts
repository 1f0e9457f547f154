// What `mirrormanager crawl` asks of the database before its run: whether a node is running to crawl (crawls run in
// the hosts' entities on the nodes), which categories there are, and which hosts the run takes.
import { Context, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { type CrawlRunMode, type HostToCrawl, hostsToCrawl } from "./CrawlRun.ts"

export class OnDemandCrawls extends Context.Service<
  OnDemandCrawls,
  {
    /** Nodes of this database whose runners are healthy and were heard from within a minute; 0 when unknown. */
    readonly runningNodes: () => Effect.Effect<number>
    /** The names of the categories, in order. */
    readonly categoryNames: () => Effect.Effect<ReadonlyArray<string>, SqlError.SqlError>
    /** The hosts a run crawls: these (whatever their state) or every active public host, carrying the category. */
    readonly hostsToCrawl: (select: {
      readonly mode: CrawlRunMode
      readonly hostIds?: ReadonlyArray<number> | undefined
      readonly category?: string | undefined
    }) => Effect.Effect<ReadonlyArray<HostToCrawl>, SqlError.SqlError>
  }
>()("actors/OnDemandCrawls") {
  static readonly layer = Layer.effect(
    OnDemandCrawls,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      return OnDemandCrawls.of({
        runningNodes: Effect.fn("OnDemandCrawls.runningNodes")(function* () {
          const runners = yield* sql<{ count: number }>`
            SELECT count(*)::int AS count FROM cluster_runners
            WHERE healthy AND last_heartbeat > now() - interval '1 minute'`.pipe(
            Effect.orElseSucceed(() => [{ count: 0 }])
          )
          return runners[0]?.count ?? 0
        }),
        categoryNames: Effect.fn("OnDemandCrawls.categoryNames")(function* () {
          const rows = yield* sql<{ name: string }>`SELECT name FROM categories ORDER BY name`
          return rows.map((row) => row.name)
        }),
        hostsToCrawl: Effect.fn("OnDemandCrawls.hostsToCrawl")(function* (select) {
          return yield* hostsToCrawl(sql, select)
        })
      })
    })
  )
}
