// `mirrormanager report`: the check-in client for mirror hosts (docs/checkin.md#mirrormanager-report), a drop-in for
// upstream's report_mirror: the same report_mirror.conf, options and payload, plus HTTP(S) proxies
// (HTTPS_PROXY/HTTP_PROXY/NO_PROXY or `[global] proxy=`), --dry-run, and exit statuses a mirror script can act on: 0 =
// checked in, 1 = config error or check-ins switched off, 2 = the server could not be reached, 3 = the server refused
// the check-in (its reply says why).
import * as fs from "node:fs"
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { commandFailed, count, stoppedUnlessEnded } from "../node/index.ts"
import {
  DEFAULT_CONFIG_FILE,
  pythonJson,
  type ReportConfig,
  ReportConfigError,
  readReportConfig
} from "./ReportConfig.ts"
import { CheckinSendError, encodePayload, proxyOf, sendCheckin } from "./ReportSend.ts"
import { checkCategoryRoot, readExcludeFile, walkTree } from "./ReportTree.ts"

const EXIT_NETWORK = 2
const EXIT_REFUSED = 3

const SUCCESS = "checked in successful"

interface ReportOptions {
  readonly config: string
  readonly dryRun: boolean
  readonly noSend: boolean
  readonly input: Option.Option<string>
  readonly output: Option.Option<string>
  readonly debug: boolean
  readonly excludeFrom: Option.Option<string>
  readonly timeout: number
}

const say = (line: string) => process.stderr.write(`report: ${line}\n`)
const failed = commandFailed("report")

/** The JSON document of the check-in: the fixed sections, then each enabled category's tree. */
const buildDocument = (config: ReportConfig, options: ReportOptions): Record<string, unknown> => {
  const document: Record<string, unknown> = { ...config.fixed }
  const input = Option.getOrUndefined(options.input)
  let given: Record<string, unknown> | undefined
  if (input !== undefined) {
    try {
      given = JSON.parse(fs.readFileSync(input, "utf8")) as Record<string, unknown>
    } catch (error) {
      throw new ReportConfigError(`--input ${input} is not a readable JSON file: ${(error as Error).message}`)
    }
  }
  const exclude = Option.match(options.excludeFrom, { onNone: () => [], onSome: readExcludeFile })
  for (const category of config.categories) {
    const key = category.section.toLowerCase()
    if (!category.enabled) {
      say(`[${category.section}] has enabled=0: not reported`)
      continue
    }
    if (given !== undefined) {
      // As upstream's --input: the directory trees come from the file, the rest from the config.
      const section = given[key] as { dirtree?: unknown } | undefined
      if (typeof section?.dirtree !== "object" || section.dirtree === null) {
        throw new ReportConfigError(`--input ${input} has no "${key}": {"dirtree": {...}} for [${category.section}]`)
      }
      document[key] = { enabled: "1", dirtree: section.dirtree }
      continue
    }
    checkCategoryRoot(category.section, category.path, config.file)
    const tree = walkTree(category.path, exclude)
    for (const problem of tree.unreadable) say(`[${category.section}] not reported, cannot be listed: ${problem}`)
    document[key] = { enabled: "1", dirtree: Object.fromEntries(tree.directories.map((d) => [d, {}])) }
  }
  return document
}

const directoriesIn = (document: Record<string, unknown>) =>
  Object.values(document).reduce<number>((sum, section) => {
    const tree = (section as { dirtree?: object } | null)?.dirtree
    return sum + (tree === undefined ? 0 : Object.keys(tree).length)
  }, 0)

const isLoopback = (hostname: string) => hostname === "localhost" || hostname.startsWith("127.") || hostname === "[::1]"

/** Why a request never got an answer, in words for the mirror's admin. */
const networkProblem = (server: string, error: Error, proxied: boolean) => {
  const code = (error as NodeJS.ErrnoException).code
  const via = proxied ? " (through the proxy of HTTPS_PROXY/HTTP_PROXY or [global] proxy=)" : ""
  const hint =
    code === "ECONNREFUSED"
      ? "nothing listens there: check [global] server, or try again later"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
        ? "the name does not resolve: check [global] server (and the proxy's name)"
        : code?.startsWith("ERR_TLS") || code?.includes("CERT") || code === "DEPTH_ZERO_SELF_SIGNED_CERT"
          ? "the server's certificate is not trusted (NODE_EXTRA_CA_CERTS=FILE adds a CA)"
          : "try again later"
  return `cannot reach ${server}${via}: ${error.message}${code !== undefined && !error.message.includes(code) ? ` (${code})` : ""}; ${hint}`
}

const report = (options: ReportOptions) =>
  Effect.gen(function* () {
    const prepared = yield* Effect.try({
      try: () => {
        const config = readReportConfig(options.config)
        const document = buildDocument(config, options)
        return { config, document, json: pythonJson(document) }
      },
      catch: (error) => error
    }).pipe(
      Effect.catch((error) => Effect.as(failed(error instanceof Error ? error.message : String(error)), undefined))
    )
    if (prepared === undefined) return
    const { config, document, json } = prepared
    const output = Option.getOrUndefined(options.output)
    if (output !== undefined) fs.writeFileSync(output, json)
    // The payload decoded, as the server will read it; the password is not printed (it would end up in logs, such
    // as cron's mail).
    const shown = { ...document, site: { ...(document.site as object), password: "(hidden)" } }
    if (options.debug) process.stderr.write(`${JSON.stringify(shown, null, 2)}\n`)
    const url = new URL(config.server)
    if (url.protocol === "http:" && !isLoopback(url.hostname)) {
      say(`warning: [global] server is plain http://, so the site password crosses the network unencrypted`)
    }
    const categories = config.categories.filter((category) => category.enabled).length
    const summary = `${count(categories, "category", "categories")}, ${count(directoriesIn(document), "directory", "directories")}`
    if (options.dryRun) {
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`)
      say(`dry run: ${summary} for ${config.hostName} of site ${config.siteName}, not sent to ${config.server}`)
      process.exitCode = 0
      return
    }
    if (options.noSend) {
      process.exitCode = 0
      return
    }
    const payload = encodePayload(json)
    const proxied = proxyOf(config.server, { env: process.env, proxy: config.proxy }) !== undefined
    const answer = yield* Effect.tryPromise({
      try: () =>
        sendCheckin(config.server, payload, {
          env: process.env,
          proxy: config.proxy,
          idleTimeoutMs: options.timeout * 1000
        }),
      catch: (error) => error as Error
    }).pipe(
      Effect.catch((error) =>
        Effect.sync(() => {
          if (error instanceof CheckinSendError) {
            say(error.message)
            process.exitCode = error.unavailable ? EXIT_NETWORK : EXIT_REFUSED
          } else {
            say(networkProblem(config.server, error, proxied))
            process.exitCode = EXIT_NETWORK
          }
          return undefined
        })
      )
    )
    if (answer === undefined) return
    if (answer._tag === "Fault") {
      say(`the server refused the call: XML-RPC fault ${answer.code}: ${answer.message}`)
      process.exitCode = EXIT_REFUSED
      return
    }
    process.stdout.write(answer.text.endsWith("\n") ? answer.text : `${answer.text}\n`)
    if (answer.text.trimEnd().endsWith(SUCCESS)) {
      process.exitCode = 0
      return
    }
    const hint = /site name or password incorrect/.test(answer.text)
      ? `check [site] name and password in ${config.file} against what the mirror manager's admins gave you`
      : /host name for site not found/.test(answer.text)
        ? `check [host] name in ${config.file}: it must be the host's name as registered for the site`
        : /Invalid config file/.test(answer.text)
          ? `check ${config.file} (run with --dry-run to see what would be sent)`
          : "the server's reply above says why"
    say(`the check-in was not accepted: ${hint}`)
    process.exitCode = EXIT_REFUSED
  })

export const reportCommand = Command.make(
  "report",
  {
    config: Flag.String("config").pipe(
      Flag.withAlias("c"),
      Flag.withDescription("The report_mirror.conf to read"),
      Flag.withDefault(DEFAULT_CONFIG_FILE)
    ),
    dryRun: Flag.Boolean("dry-run").pipe(
      Flag.withDescription("Print the check-in as the server would decode it (password hidden); send nothing"),
      Flag.withDefault(false)
    ),
    noSend: Flag.Boolean("no-send").pipe(
      Flag.withAlias("n"),
      Flag.withDescription("Walk the trees but send nothing (with --output: write the JSON only)"),
      Flag.withDefault(false)
    ),
    input: Flag.String("input").pipe(
      Flag.withAlias("i"),
      Flag.withDescription("Take the directory trees from this JSON file (as --output wrote it) instead of walking"),
      Flag.optional
    ),
    output: Flag.String("output").pipe(
      Flag.withAlias("o"),
      Flag.withDescription("Also write the check-in's JSON to this file"),
      Flag.optional
    ),
    debug: Flag.Boolean("debug").pipe(
      Flag.withAlias("d"),
      Flag.withDescription("Print the check-in's JSON on stderr before sending it"),
      Flag.withDefault(false)
    ),
    excludeFrom: Flag.String("exclude-from").pipe(
      Flag.withDescription(
        "Leave out directories whose <path>/<name>/ contains one of this file's lines (# starts a comment)"
      ),
      Flag.optional
    ),
    timeout: Flag.Int("timeout").pipe(
      Flag.withDescription("Seconds without an answer after which the check-in is given up (exit 2)"),
      Flag.withDefault(300),
      Flag.mapTryCatch(
        (n) => {
          if (n < 1) throw new Error("out of range")
          return n
        },
        () => "--timeout needs a number of seconds, 1 or more"
      )
    )
  },
  (options) => stoppedUnlessEnded(report(options))
).pipe(
  Command.withDescription(
    "Check this mirror host in (as report_mirror): walk the trees of report_mirror.conf and send them to its server; honours HTTPS_PROXY/HTTP_PROXY/NO_PROXY"
  )
)
