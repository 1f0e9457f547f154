// What admins ask of a host's crawls through the API: its crawl log, and a crawl now. Who may is decided here, as
// for the host itself (Hosts: a global admin, or an admin of the host's site).
import { type CrawlLog, type CrawlMode, type CrawlSummary, HostEntity } from "@mirrormanager/domain/host"
import { type Forbidden, type HostId, type NotFound, notFound, type Principal } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { Hosts } from "../registry/index.ts"
import { HostStore } from "./HostStore.ts"

/** Runs the wait for a crawl (the mirror's answers: minutes, for a big one), as the caller needs it run. */
export type CrawlWait = <A, E, R>(crawl: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

export class HostCrawls extends Context.Service<
  HostCrawls,
  {
    /** The host's crawl log, newest first. */
    readonly log: (p: Principal, hostId: HostId) => Effect.Effect<ReadonlyArray<CrawlLog>, Forbidden | NotFound>
    /** Crawls the host now in its entity, wherever it runs, and says what the crawl found. */
    readonly crawlNow: (
      p: Principal,
      hostId: HostId,
      mode: CrawlMode,
      wait?: CrawlWait
    ) => Effect.Effect<CrawlSummary, Forbidden | NotFound>
  }
>()("actors/HostCrawls") {
  static readonly layer = Layer.effect(
    HostCrawls,
    Effect.gen(function* () {
      const hosts = yield* Hosts
      const store = yield* HostStore
      const entities = yield* HostEntity.client
      return HostCrawls.of({
        log: Effect.fn("HostCrawls.log")(function* (p, hostId) {
          yield* hosts.get(p, hostId)
          return yield* store.crawlLog(hostId)
        }),
        crawlNow: Effect.fn("HostCrawls.crawlNow")(function* (p, hostId, mode, wait = (crawl) => crawl) {
          yield* hosts.get(p, hostId)
          return yield* wait(entities(String(hostId)).Crawl({ mode, targets: [] })).pipe(
            // The host deleted meanwhile is not found; the cluster failing to deliver is the server's fault.
            Effect.catch((error) =>
              error._tag === "HostGone" ? Effect.fail(notFound("host", hostId)) : Effect.die(error)
            )
          )
        })
      })
    })
  ).pipe(Layer.provide(HostStore.layer))
}
