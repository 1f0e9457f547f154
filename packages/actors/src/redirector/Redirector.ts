// The Redirector, one per node: holds the current lookup index and what it knows of its freshness, and decides what
// each request gets (`decide`, synchronous: the request path never waits). The index is swapped atomically on a
// full build and changed in place by the change follower (`replaceIndex`, `applyChanges`); requests only read it.
import { Context, Effect, Layer } from "effect"
import { sliced } from "../db/index.ts"
import type { ClientAddress, Netblock } from "../ipdata/index.ts"
import { GeoIp, NetworkData } from "../ipdata/index.ts"
import { type ClientFacts, type Decision, decide, type Prepared, worthKeeping } from "./Decision.ts"
import { indexDifferences } from "./IndexDifferences.ts"
import type { IndexChanges, IndexSource } from "./IndexSource.ts"
import { MirrorIndex } from "./MirrorIndex.ts"
import type { RedirectorRequest } from "./RedirectorRequest.ts"
import { ResolvedRequests } from "./ResolvedRequests.ts"
import { type RandomSource, type SelectionOptions, seededRandom } from "./Selection.ts"

export type { IndexChanges }

export interface RedirectorSettings {
  /** Global fill below this many hosts (docs/redirector.md#selection). */
  readonly minimum: number
  /** Honour `ip=`. */
  readonly allowIpOverride: boolean
  /** Alternates window of metalinks, in days. */
  readonly maxStaleDays: number
  /** The metalink `generator` attribute. */
  readonly generator: string
  /** Redirects and Link headers use https URLs only. */
  readonly httpsOnly: boolean
  /** Shuffled answers kept per directory, request and client class (0 = compute every answer). */
  readonly answerVariants: number
  /** One request in this many (of a directory, request and client class) gets a freshly shuffled answer. */
  readonly answerRefresh: number
  /** At most about this many bytes of kept answers (the least recently refreshed directories go first). */
  readonly answerCacheBytes: number
  /** Proxies whose `X-Forwarded-For` names the client. */
  readonly trustedProxies: ReadonlyArray<Netblock>
}

export const defaultRedirectorSettings: RedirectorSettings = {
  minimum: 5,
  allowIpOverride: true,
  maxStaleDays: 4,
  generator: "mirrormanager",
  httpsOnly: false,
  answerVariants: 8,
  answerRefresh: 32,
  answerCacheBytes: 96 * 1024 * 1024,
  trustedProxies: []
}

/** The registry database (a full build), the snapshot on disk, or a full node's index feed (MM_INDEX_FEED). */
export type IndexOrigin = "database" | "snapshot" | "feed"

/** The index as others may read it: changes go through the Redirector. */
export type IndexView = Omit<
  MirrorIndex,
  "replaceHosts" | "replaceDirectories" | "setRepositories" | "setOverrides" | "rebuiltAt"
>

export interface RedirectorStatus {
  readonly index: IndexView | undefined
  readonly origin: IndexOrigin | undefined
  /** Whether the change stream is followed right now (false: the database is unreachable). */
  readonly following: boolean
  /** Epoch ms of the last time the index was known to be current (a full build or a caught-up poll). */
  readonly currentAt: number | undefined
  /** The last full build's duration in ms. */
  readonly buildMs: number | undefined
  /** Seconds between the newest applied change's commit and its application. */
  readonly lagSeconds: number
  readonly changesApplied: number
  /** Polls of the change log that read rows for changes, and the time spent on those reads in all (seconds). */
  readonly changeReads: number
  readonly changeReadSeconds: number
  readonly lastError: string | undefined
}

/**
 * Where an index comes from: a full build from the database or a full node's feed (begun at `startedAt`), or the
 * snapshot on disk.
 */
export interface IndexBuild {
  readonly origin: IndexOrigin
  /** When the rows were read (the snapshot's: when they were read from the database). */
  readonly builtAt: number
  /** When the build began, for its duration. */
  readonly startedAt?: number
}

export class Redirector extends Context.Service<
  Redirector,
  {
    readonly settings: RedirectorSettings
    readonly status: () => RedirectorStatus
    /** What a request gets: worked out from the index alone, at once. */
    readonly decide: (request: RedirectorRequest) => Decision
    /**
     * Client facts: NetblockCountry override, else GeoIP; ASN and R&E from the network tables, unless `needs` says
     * they cannot matter (no carrier serves an ASN, no carrier is on an R&E network): then undefined and false.
     */
    readonly clientFacts: (
      address: ClientAddress | undefined,
      needs?: { readonly asn: boolean; readonly researchNetwork: boolean }
    ) => ClientFacts
    readonly selectionOptions: (facts: ClientFacts) => SelectionOptions
    /** A random source for one request (seeded from the node's secure pool, or as the layer says). */
    readonly random: () => RandomSource
    /** The clock of pubdate and aging, epoch ms. */
    readonly now: () => number
    /** Serves a new index made of `source` (a full build, or the snapshot); throws when the rows do not make one. */
    readonly replaceIndex: (source: IndexSource, build: IndexBuild) => IndexView
    /**
     * The same, the index made a slice at a time with the event loop free between slices (requests are answered from
     * the current index meanwhile): how a node builds at Fedora's size.
     */
    readonly buildIndex: (source: IndexSource, build: IndexBuild) => Effect.Effect<IndexView>
    /**
     * A scheduled rebuild: `source` compared with the index served, a slice at a time, and what differs applied as
     * changes (returned; none when the rows are the same); a new index, as `buildIndex`, when there is none yet or the
     * categories differ (`changes` undefined).
     */
    readonly rebuildIndex: (
      source: IndexSource,
      build: IndexBuild
    ) => Effect.Effect<{ readonly index: IndexView; readonly changes: IndexChanges | undefined }>
    /** Applies changes to the index in one synchronous step (no request sees half of them); false without index. */
    readonly applyChanges: (changes: IndexChanges) => boolean
    /**
     * The change log was read to its end: `applied` changes, the newest committed at `newestAt` (epoch s), their rows
     * read in `readMs`.
     */
    readonly caughtUp: (applied: number, newestAt: number, readMs?: number) => void
    /** The database cannot be reached: the index is served as it is, and readiness says why. */
    readonly databaseLost: (reason: string) => void
  }
>()("actors/Redirector") {
  static readonly layer = (
    settings: RedirectorSettings,
    options: { readonly random?: () => RandomSource; readonly now?: () => number } = {}
  ) =>
    Layer.effect(
      Redirector,
      Effect.gen(function* () {
        const geoIp = yield* GeoIp
        const network = yield* NetworkData
        let index: MirrorIndex | undefined
        let status: RedirectorStatus = {
          index: undefined,
          origin: undefined,
          following: false,
          currentAt: undefined,
          buildMs: undefined,
          lagSeconds: 0,
          changesApplied: 0,
          changeReads: 0,
          changeReadSeconds: 0,
          lastError: undefined
        }
        /** Requests worked out, per path and query (see ResolvedRequests); those that fail, every time. */
        const prepared = new ResolvedRequests<Prepared>(20_000, worthKeeping)
        // Seeds come from a pool of secure random words, refilled as it runs out.
        const pool = new Uint32Array(4096)
        let used = pool.length
        const secureRandom = (): RandomSource => {
          if (used + 4 > pool.length) {
            crypto.getRandomValues(pool)
            used = 0
          }
          const seed = pool.subarray(used, used + 4)
          used += 4
          return seededRandom(seed)
        }
        const factsOf = (
          of: MirrorIndex | undefined,
          address: ClientAddress | undefined,
          needs: { readonly asn: boolean; readonly researchNetwork: boolean }
        ): ClientFacts => {
          if (address === undefined) return { country: undefined, asn: undefined, researchNetwork: false }
          return {
            country: of?.countryOverride(address) ?? geoIp.country(address),
            asn: needs.asn ? network.asn(address) : undefined,
            researchNetwork: needs.researchNetwork && network.isResearchNetwork(address)
          }
        }
        const selectionOptions = (facts: ClientFacts): SelectionOptions => ({
          minimum: settings.minimum,
          researchNetwork: facts.researchNetwork,
          clientAsn: facts.asn,
          clientCountry: facts.country
        })
        const context = { settings, prepared, clientFacts: factsOf, selectionOptions }
        /** The index served is current as of `build` (a full build, or a rebuild that changed it in place). */
        const current = (made: MirrorIndex, build: IndexBuild): RedirectorStatus =>
          build.origin !== "snapshot"
            ? {
                ...status,
                index: made,
                origin: build.origin,
                following: true,
                currentAt: Date.now(),
                buildMs: build.startedAt === undefined ? status.buildMs : Date.now() - build.startedAt,
                lastError: undefined
              }
            : { ...status, index: made, origin: "snapshot", currentAt: build.builtAt }
        /** Serves `made` from now on. */
        const serve = (made: MirrorIndex, build: IndexBuild): IndexView => {
          index = made
          prepared.clear()
          status = current(made, build)
          return made
        }

        const buildIndex = (source: IndexSource, build: IndexBuild) =>
          Effect.map(MirrorIndex.build(source, build.builtAt), (made) => serve(made, build))
        /** Applies changes in one synchronous step. */
        const apply = (to: MirrorIndex, changes: IndexChanges) => {
          if (changes.directories !== undefined)
            to.replaceDirectories(changes.directories.ids, changes.directories.rows)
          if (changes.hosts !== undefined) to.replaceHosts(changes.hosts.ids, changes.hosts.rows)
          if (changes.repositories !== undefined) {
            to.setRepositories(changes.repositories.repositories, changes.repositories.redirects)
          }
          if (changes.overrides !== undefined) to.setOverrides(changes.overrides)
        }

        return Redirector.of({
          settings,
          status: () => status,
          decide: (request) => decide(context, index, request),
          clientFacts: (address, needs = { asn: true, researchNetwork: true }) => factsOf(index, address, needs),
          selectionOptions,
          random: options.random ?? secureRandom,
          now: options.now ?? Date.now,
          replaceIndex: (source, build) => serve(new MirrorIndex(source, build.builtAt), build),
          buildIndex,
          rebuildIndex: (source, build) =>
            Effect.gen(function* () {
              const served = index
              if (served === undefined) return { index: yield* buildIndex(source, build), changes: undefined }
              // The change follower applies nothing meanwhile (it runs this), so the rows made in slices agree.
              const changes = yield* sliced(indexDifferences(yield* sliced(served.sourceSteps()), source))
              if (changes === undefined || index !== served) {
                return { index: yield* buildIndex(source, build), changes: undefined }
              }
              apply(served, changes)
              served.rebuiltAt(build.builtAt)
              status = current(served, build)
              return { index: served, changes }
            }),
          applyChanges: (changes) => {
            if (index === undefined) return false
            apply(index, changes)
            return true
          },
          caughtUp: (applied, newestAt, readMs = 0) => {
            const now = Date.now()
            status = {
              ...status,
              following: true,
              currentAt: now,
              lagSeconds: applied > 0 ? Math.max(0, now / 1000 - newestAt) : status.lagSeconds,
              changesApplied: status.changesApplied + applied,
              changeReads: status.changeReads + (applied > 0 ? 1 : 0),
              changeReadSeconds: status.changeReadSeconds + (applied > 0 ? readMs / 1000 : 0),
              lastError: undefined
            }
          },
          databaseLost: (reason) => {
            status = { ...status, following: false, lastError: reason }
          }
        })
      })
    )
}
