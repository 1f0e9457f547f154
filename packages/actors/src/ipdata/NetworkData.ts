// The network a client is on (docs/redirector.md#selection): its ASN from the global prefix→ASN table, and
// whether it is on a research and education network. Both are range tables looked up synchronously; their files
// are read again when they change.
import { createRequire } from "node:module"
import { Clock, Context, type Duration, Effect, Layer, Schema } from "effect"
import { reloadWhenChanged } from "./FileWatch.ts"
import type { ClientAddress } from "./IpAddress.ts"
import { type RangeTable, readTableFiles, type TableFormat } from "./RangeTable.ts"

/** ASN or R&E data cannot be used: a file is missing or unreadable, or holds no usable line. */
export class NetworkDataError extends Schema.TaggedError<NetworkDataError>()("NetworkDataError", {
  files: Schema.Array(Schema.String),
  message: Schema.String
}) {}

export interface NetworkDataOptions {
  /**
   * `<prefix>/<length> <asn>` lines (upstream MirrorManager's global netblocks) or `start,end,asn,organisation`
   * CSVs; several files (e.g. an IPv4 and an IPv6 CSV) make one table. Undefined: the @ip-location-db/asn CSVs.
   */
  readonly asnFile?: string | ReadonlyArray<string> | undefined
  /** The R&E (Internet2) prefix list, `<prefix>/<length> <asn>` lines. Undefined: no R&E matching. */
  readonly researchNetworksFile?: string | undefined
  /** How often the files are checked for changes (default 1 second); a change reloads that table. */
  readonly watchInterval?: Duration.Input
}

/** One loaded table. Times are UTC epoch seconds. */
export interface NetworkTable {
  readonly files: ReadonlyArray<string>
  readonly format: TableFormat
  /** Lines whose prefix or range is in the table. */
  readonly entries: number
  readonly ranges: { readonly v4: number; readonly v6: number }
  /** Lines not used (bad, overlapping, overridden); each was logged, up to 20. */
  readonly problems: number
  readonly loadedAt: number
  readonly loadMillis: number
}

export interface NetworkDataDescription {
  readonly asn: NetworkTable
  readonly researchNetworks: NetworkTable | undefined
}

const requireFromHere = createRequire(import.meta.url)

/** The IPv4 and IPv6 CSVs of the npm package @ip-location-db/asn, read when no ASN file is configured. */
export const defaultAsnFiles = (): ReadonlyArray<string> => [
  requireFromHere.resolve("@ip-location-db/asn/asn-ipv4.csv"),
  requireFromHere.resolve("@ip-location-db/asn/asn-ipv6.csv")
]

const MAX_PROBLEMS_LOGGED = 20

const messageOf = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

interface Loaded {
  readonly table: RangeTable
  readonly info: NetworkTable
}

const loadTable = (what: string, files: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const { table, report } = yield* Effect.tryPromise({
      try: () => readTableFiles(files),
      catch: (cause) =>
        new NetworkDataError({ files, message: `cannot read ${what} from ${files.join(", ")}: ${messageOf(cause)}` })
    })
    const first = report.problems[0]
    if (report.entries === 0) {
      return yield* new NetworkDataError({
        files,
        message:
          `${files.join(", ")} holds no usable ${what}` +
          (first === undefined
            ? ""
            : ` (${report.problemCount} unusable lines; ${first.source}:${first.line}: ${first.reason})`)
      })
    }
    const finished = yield* Clock.currentTimeMillis
    const info: NetworkTable = {
      files,
      format: report.format,
      entries: report.entries,
      ranges: report.ranges,
      problems: report.problemCount,
      loadedAt: Math.floor(finished / 1000),
      loadMillis: finished - started
    }
    for (const problem of report.problems.slice(0, MAX_PROBLEMS_LOGGED)) {
      yield* Effect.logWarning(`${what}: ${problem.source}:${problem.line}: ${problem.reason}; line not used`)
    }
    if (report.problemCount > MAX_PROBLEMS_LOGGED) {
      yield* Effect.logWarning(`${what}: ${report.problemCount - MAX_PROBLEMS_LOGGED} more lines not used`)
    }
    yield* Effect.logInfo(`${what} loaded`).pipe(
      Effect.annotateLogs({
        files: files.join(","),
        format: report.format,
        entries: report.entries,
        v4Ranges: report.ranges.v4,
        v6Ranges: report.ranges.v6,
        defaultRoutesIgnored: report.defaultRoutes,
        linesNotUsed: report.problemCount,
        loadMillis: info.loadMillis
      })
    )
    return { table, info } satisfies Loaded
  })

const makeNetworkData = (options: NetworkDataOptions) =>
  Effect.gen(function* () {
    const asnFiles =
      options.asnFile === undefined
        ? yield* Effect.try({
            try: defaultAsnFiles,
            catch: (cause) =>
              new NetworkDataError({
                files: ["@ip-location-db/asn"],
                message: `the default ASN data is not installed: ${messageOf(cause)}`
              })
          })
        : typeof options.asnFile === "string"
          ? [options.asnFile]
          : options.asnFile
    const researchFiles = options.researchNetworksFile === undefined ? [] : [options.researchNetworksFile]
    const interval = options.watchInterval ?? "1 second"

    let asn = yield* loadTable("ASN data", asnFiles)
    let research = researchFiles.length === 0 ? undefined : yield* loadTable("R&E networks", researchFiles)

    const reloadAsn = loadTable("ASN data", asnFiles).pipe(
      Effect.tap((loaded) =>
        Effect.sync(() => {
          asn = loaded
        })
      )
    )
    const reloadResearch = loadTable("R&E networks", researchFiles).pipe(
      Effect.tap((loaded) =>
        Effect.sync(() => {
          research = loaded
        })
      )
    )
    const describe = (): NetworkDataDescription => ({ asn: asn.info, researchNetworks: research?.info })

    const keepOld = (what: string) =>
      Effect.catchCause((cause) => Effect.logWarning(`${what} reload failed; the previous data stays in use`, cause))
    yield* reloadWhenChanged(asnFiles, interval, reloadAsn.pipe(Effect.asVoid, keepOld("ASN data")))
    if (researchFiles.length > 0) {
      yield* reloadWhenChanged(researchFiles, interval, reloadResearch.pipe(Effect.asVoid, keepOld("R&E networks")))
    }

    return NetworkData.of({
      asn: (address) => {
        const value = asn.table.lookup(address)
        // AS 0 marks space that no AS announces (RFC 7607): no ASN.
        return value === 0 ? undefined : value
      },
      isResearchNetwork: (address) => research !== undefined && research.table.lookup(address) !== undefined,
      describe,
      reload: Effect.fn("NetworkData.reload")(function* () {
        yield* reloadAsn
        if (researchFiles.length > 0) yield* reloadResearch
        return describe()
      })
    })
  })

/** ASN and R&E membership of a client address; lookups are synchronous (the Redirector's hot path). */
export class NetworkData extends Context.Service<
  NetworkData,
  {
    readonly asn: (address: ClientAddress) => number | undefined
    /** Whether an R&E prefix list is configured and contains the address. */
    readonly isResearchNetwork: (address: ClientAddress) => boolean
    readonly describe: () => NetworkDataDescription
    /** Reads the files again now (also done by itself when a file changes); on failure the old tables stay. */
    readonly reload: () => Effect.Effect<NetworkDataDescription, NetworkDataError>
  }
>()("actors/NetworkData") {
  /** `asnFile` undefined: the @ip-location-db/asn CSVs; `researchNetworksFile` undefined: no R&E list. */
  static readonly layer = (options: NetworkDataOptions = {}): Layer.Layer<NetworkData, NetworkDataError> =>
    Layer.effect(NetworkData, makeNetworkData(options))
}
