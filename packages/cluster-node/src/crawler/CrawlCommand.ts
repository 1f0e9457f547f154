// `mirrormanager crawl`: crawls hosts now, each in its Host entity on the node that holds it (a node must be running;
// this command joins the cluster as a client only), showing each host as it ends and a summary at the end.
// Exit status: 0 = every host crawled ok, 2 = some host's crawl did not end ok (named above the summary),
// 1 = could not crawl (no database, no running node, an unknown host or category), 130 = stopped before the end.
import {
  type CrawledHost,
  type CrawlRunSummary,
  OnDemandCrawls,
  Propagation,
  runCrawls
} from "@mirrormanager/actors/crawler"
import { Duration, Effect, Fiber, Layer, Option } from "effect"
import { Command, Flag } from "effect/cli"
import {
  clusterLayer,
  commandFailed,
  count,
  NodeConfig,
  namedCategory,
  nodeDatabaseLayer,
  number,
  seconds,
  stoppedUnlessEnded
} from "../node/index.ts"

const EXIT_NOT_ALL_OK = 2

/** What a host's crawl checked: its directories (an always-up-to-date category's are not), and its base URLs. */
const checked = (host: CrawledHost) =>
  `${number(host.directoriesUpToDate)} up to date, ${number(host.directoriesStale)} stale, ${number(host.directoriesUnknown)} unknown` +
  (host.categoriesAlwaysUpToDate === 0
    ? ""
    : `; ${count(host.categoriesAlwaysUpToDate, "category", "categories")} always up to date, directories not checked`) +
  `; ${number(host.baseUrlsUsable)} of ${count(host.baseUrls, "base URL")} usable`

const hostLine = (host: CrawledHost, done: number, total: number) =>
  `[${done}/${total}] ${host.hostName} (host ${host.hostId}): ${host.status}` +
  (host.status === "skipped"
    ? ", not started before the run's time ran out"
    : `, ${checked(host)}; ${count(host.requests, "request")} in ${seconds(host.durationMs)}`) +
  (host.reason === null || host.status === "ok" ? "" : ` — ${host.reason}`)

const crawlSummaryText = (s: CrawlRunSummary) =>
  [
    `crawl (${s.mode}): ${count(s.hosts, "host")} in ${seconds(s.durationMs)}: ${number(s.ok)} ok, ${number(s.failure)} failed, ${number(s.timeout)} timed out, ${number(s.unknown)} unknown, ${number(s.skipped)} skipped, ${number(s.errors)} not reached`,
    `  directories: ${number(s.directoriesUpToDate)} up to date, ${number(s.directoriesStale)} stale, ${number(s.directoriesUnknown)} unknown; ${number(s.baseUrlsUsable)} of ${count(s.baseUrls, "base URL")} usable; ${count(s.requests, "request")}`,
    ...(s.mode === "canary"
      ? []
      : [`  propagation recorded for ${count(s.propagationRecorded, "repository", "repositories")}`])
  ].join("\n")

const fail = commandFailed("crawl")

interface CrawlCommandOptions {
  readonly host: ReadonlyArray<number>
  readonly category: Option.Option<string>
  readonly canary: boolean
  readonly repodata: boolean
  readonly parallel: number
  readonly timeout: Duration.Duration
  /** Seconds between the lines that say what is still being crawled. */
  readonly progress: number
}

const crawl = (options: CrawlCommandOptions) =>
  Effect.gen(function* () {
    if (options.canary && options.repodata) return yield* fail("--canary and --repodata exclude each other")
    const mode = options.canary ? "canary" : options.repodata ? "repodata" : "full"
    const crawls = yield* OnDemandCrawls
    // The crawls run on the nodes' runners: without one, a message would wait for a node forever.
    if ((yield* crawls.runningNodes()) === 0) {
      return yield* fail(
        "no node of this database is running; crawls run in the hosts' entities on the nodes (start one: npm start)"
      )
    }
    const category = Option.getOrUndefined(options.category)
    if (category !== undefined) {
      const named = namedCategory(
        (yield* crawls.categoryNames()).map((name) => ({ name })),
        category
      )
      if ("unknown" in named) return yield* fail(named.unknown)
    }
    const hostIds = options.host.length === 0 ? undefined : options.host
    const hosts = yield* crawls.hostsToCrawl({ mode, hostIds, category })
    if (hostIds !== undefined) {
      const missing = hostIds.filter((id) => !hosts.some((h) => h.id === id))
      if (missing.length > 0) {
        return yield* fail(
          `no host ${missing.join(", ")}${category === undefined ? "" : ` carrying category "${category}"`}`
        )
      }
    }
    if (hosts.length === 0) {
      process.stderr.write("crawl: no host to crawl (active public hosts are crawled; name others with --host)\n")
      process.exitCode = 0
      return
    }
    process.stderr.write(`crawl (${mode}): ${count(hosts.length, "host")}, ${options.parallel} at once\n`)
    // Between hosts' ends, a line now and then says what is still being crawled (a big mirror takes minutes).
    const started = Date.now()
    const crawling = new Map<number, { readonly name: string; readonly since: number }>()
    let done = 0
    const stillLine = () => {
      const names = [...crawling.values()].slice(0, 3).map((h) => `${h.name} (${seconds(Date.now() - h.since)})`)
      const more = crawling.size > 3 ? ` and ${crawling.size - 3} more` : ""
      return `... ${done}/${hosts.length} done after ${seconds(Date.now() - started)}; crawling ${names.join(", ")}${more}`
    }
    const ticker = yield* Effect.forkChild(
      Effect.sync(() => {
        if (crawling.size > 0) process.stderr.write(`${stillLine()}\n`)
      }).pipe(Effect.delay(Duration.seconds(options.progress)), Effect.forever)
    )
    const summary = yield* runCrawls(hosts, {
      mode,
      categories: category === undefined ? undefined : [category],
      parallel: options.parallel,
      deadline: Date.now() + Duration.toMillis(options.timeout),
      onStarted: (host) =>
        Effect.sync(() => {
          crawling.set(host.id, { name: host.name, since: Date.now() })
        }),
      onCrawled: (host, ended, total) =>
        Effect.sync(() => {
          crawling.delete(host.hostId)
          done = ended
          process.stderr.write(`${hostLine(host, ended, total)}\n`)
        })
    }).pipe(Effect.ensuring(Fiber.interrupt(ticker)))
    process.stdout.write(`${crawlSummaryText(summary)}\n`)
    process.exitCode = summary.ok === summary.hosts ? 0 : EXIT_NOT_ALL_OK
  })

export const crawlCommand = Command.make(
  "crawl",
  {
    host: Flag.Int("host").pipe(
      Flag.withDescription(
        "Crawl this host (by id; repeatable), whatever its state; default: every active public host"
      ),
      Flag.atLeast(0)
    ),
    category: Flag.String("category").pipe(
      Flag.withDescription("Only hosts carrying this category (by name), and only that category of each"),
      Flag.optional
    ),
    canary: Flag.Boolean("canary").pipe(
      Flag.withDescription("Only check that the base URLs answer"),
      Flag.withDefault(false)
    ),
    repodata: Flag.Boolean("repodata").pipe(
      Flag.withDescription("Only check the repodata directories (repomd.xml)"),
      Flag.withDefault(false)
    ),
    parallel: Flag.Int("parallel").pipe(
      Flag.withDescription("Hosts crawled at once (1-1000)"),
      Flag.withDefault(50),
      Flag.mapTryCatch(
        (n) => {
          if (n < 1 || n > 1000) throw new Error("out of range")
          return n
        },
        () => "--parallel needs a number from 1 to 1000"
      )
    ),
    progress: Flag.Int("progress").pipe(
      Flag.withDescription("Seconds between the lines that say which hosts are still being crawled"),
      Flag.withDefault(15),
      Flag.mapTryCatch(
        (n) => {
          if (n < 1) throw new Error("out of range")
          return n
        },
        () => "--progress needs a number of seconds, 1 or more"
      )
    ),
    timeout: Flag.String("timeout").pipe(
      Flag.withDescription(
        "The run's time limit (e.g. '6 hours', '30 minutes'): hosts not started by then are skipped, running ones end unknown"
      ),
      Flag.withDefault("6 hours"),
      Flag.mapTryCatch(
        (text) => {
          const parsed = Duration.fromInputUnsafe(text as Duration.Input)
          if (Duration.isZero(parsed)) throw new Error("zero")
          return parsed
        },
        () => "--timeout needs a duration such as '6 hours' or '30 minutes'"
      )
    )
  },
  (options) =>
    stoppedUnlessEnded(
      crawl(options).pipe(
        Effect.provide(
          Layer.mergeAll(clusterLayer({ clientOnly: true }), Propagation.layer, OnDemandCrawls.layer).pipe(
            Layer.provideMerge(nodeDatabaseLayer({ attach: true }))
          )
        ),
        Effect.catch((error) =>
          fail(`cannot use the database: ${error instanceof Error ? error.message : String(error)}`)
        ),
        Effect.provide(NodeConfig.layer)
      )
    )
).pipe(
  Command.withDescription(
    "Crawl mirror hosts now (full, --repodata or --canary), in their entities on the running nodes, and print a summary"
  )
)
