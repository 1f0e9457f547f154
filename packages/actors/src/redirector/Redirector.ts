// The Redirector, one per node: holds the current lookup index and what it knows of its freshness, and answers the
// client facts (country, ASN, R&E) a selection needs. The index is swapped atomically on a full build and changed
// in place by the change follower; requests only ever read it.
import { Context, Effect, Layer } from "effect"
import type { ClientAddress } from "../ipdata/index.ts"
import { GeoIp, NetworkData } from "../ipdata/index.ts"
import type { MirrorIndex } from "./MirrorIndex.ts"
import { type RandomSource, type SelectionOptions, seededRandom } from "./Selection.ts"

export interface RedirectorSettings {
  /** Global fill below this many hosts (SPEC 1.5 selection.minimum). */
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
}

export const defaultRedirectorSettings: RedirectorSettings = {
  minimum: 5,
  allowIpOverride: true,
  maxStaleDays: 4,
  generator: "mirrormanager",
  httpsOnly: false,
  answerVariants: 8,
  answerRefresh: 32,
  answerCacheBytes: 256 * 1024 * 1024
}

export type IndexOrigin = "database" | "snapshot"

export interface RedirectorStatus {
  readonly index: MirrorIndex | undefined
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
  readonly lastError: string | undefined
}

export interface ClientFacts {
  readonly country: string | undefined
  readonly asn: number | undefined
  readonly researchNetwork: boolean
}

export class Redirector extends Context.Service<
  Redirector,
  {
    readonly settings: RedirectorSettings
    readonly status: () => RedirectorStatus
    /**
     * Client facts: NetblockCountry override, else GeoIP; ASN and R&E from the network tables, unless `needs` says
     * they cannot matter (no carrier serves an ASN, no carrier is on an R&E network): then undefined and false.
     */
    readonly clientFacts: (
      index: MirrorIndex,
      address: ClientAddress | undefined,
      needs?: { readonly asn: boolean; readonly researchNetwork: boolean }
    ) => ClientFacts
    readonly selectionOptions: (facts: ClientFacts) => SelectionOptions
    /** A random source for one request (seeded from the node's secure pool, or as the test layer says). */
    readonly random: () => RandomSource
    /** The clock of pubdate and aging, epoch ms. */
    readonly now: () => number
    readonly update: (f: (status: RedirectorStatus) => RedirectorStatus) => void
  }
>()("actors/Redirector") {
  static readonly make = (
    settings: RedirectorSettings,
    options: { readonly random?: () => RandomSource; readonly now?: () => number } = {}
  ) =>
    Layer.effect(
      Redirector,
      Effect.gen(function* () {
        const geoIp = yield* GeoIp
        const network = yield* NetworkData
        let status: RedirectorStatus = {
          index: undefined,
          origin: undefined,
          following: false,
          currentAt: undefined,
          buildMs: undefined,
          lagSeconds: 0,
          changesApplied: 0,
          lastError: undefined
        }
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
        return Redirector.of({
          settings,
          status: () => status,
          update: (f) => {
            status = f(status)
          },
          clientFacts: (index, address, needs = { asn: true, researchNetwork: true }) => {
            if (address === undefined) return { country: undefined, asn: undefined, researchNetwork: false }
            return {
              country: index.countryOverride(address) ?? geoIp.country(address),
              asn: needs.asn ? network.asn(address) : undefined,
              researchNetwork: needs.researchNetwork && network.isResearchNetwork(address)
            }
          },
          selectionOptions: (facts) => ({
            minimum: settings.minimum,
            researchNetwork: facts.researchNetwork,
            clientAsn: facts.asn,
            clientCountry: facts.country
          }),
          random: options.random ?? secureRandom,
          now: options.now ?? Date.now
        })
      })
    )
}
