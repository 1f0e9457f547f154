// The crawl of one host (SPEC 7.2-7.4): per category, the base URLs checked, then each directory's files checked
// through the first base URL that answers (HEAD, keep-alive, a bounded number of connections per mirror), and
// repomd.xml downloaded and its sha256 compared with the newest file detail or any retained alternate. Everything a
// mirror sends is bounded: time per request and per host, bytes, redirects. The outcome is a CrawlReport for the
// host's entity and a log of what was asked and answered.
import { createHash } from "node:crypto"
import * as dns from "node:dns"
import * as http from "node:http"
import * as https from "node:https"
import type { LookupFunction } from "node:net"
import * as tls from "node:tls"
import type {
  CrawledCategory,
  CrawledDirectory,
  CrawledUrl,
  CrawlLogEntry,
  CrawlMode,
  CrawlReport
} from "@mirrormanager/domain/host"
import type { DirectoryId, HostCategoryId, HostId } from "@mirrormanager/domain/registry"
import ipaddr from "ipaddr.js"
import { parseClientAddress } from "../ipdata/index.ts"

/** A repodata directory (SPEC 7.1 repodata mode), by its path below the category's top. */
export const isRepodata = (path: string) => path === "repodata" || path.endsWith("/repodata")

export interface CrawlFile {
  readonly name: string
  readonly size: number
}

export interface CrawlDirectory {
  readonly directoryId: DirectoryId
  /** Below the category's top directory; "" is the top. */
  readonly path: string
  readonly files: ReadonlyArray<CrawlFile>
  /** For a repodata directory: the newest repomd.xml's file detail, then the retained alternates. */
  readonly repomd: { readonly newest: RepomdDetail; readonly alternates: ReadonlyArray<RepomdDetail> } | undefined
  /**
   * Found up to date lately and unchanged on the master since (the load budget): a full crawl keeps it as it is,
   * without asking the mirror.
   */
  readonly kept?:
    | { readonly matched: CrawledDirectory["matched"]; readonly matchedTimestamp: number | null }
    | undefined
  /** The master's file list as the crawl checks it (md5), recorded with an up-to-date verdict (the load budget). */
  readonly filesDigest?: string | undefined
}

/** A file detail of repomd.xml: its sha256 and its timestamp (epoch seconds). */
export interface RepomdDetail {
  readonly sha256: string
  readonly timestamp: number
}

export interface CrawlCategory {
  readonly hostCategoryId: HostCategoryId
  /** `alwaysUp2date`: its directories count as up to date; only its base URLs are checked. */
  readonly alwaysUpToDate: boolean
  /** http(s) base URLs of the category on the mirror, https first. */
  readonly urls: ReadonlyArray<string>
  readonly directories: ReadonlyArray<CrawlDirectory>
}

export interface CrawlTarget {
  readonly hostId: HostId
  readonly categories: ReadonlyArray<CrawlCategory>
}

export interface CrawlOptions {
  readonly mode: CrawlMode
  /** For a targeted crawl: the directories to check, per host category (paths below the top). */
  readonly targets?: ReadonlyMap<number, ReadonlySet<string>>
  readonly requestTimeoutMs: number
  readonly hostTimeoutMs: number
  /** Parallel connections to one mirror origin. */
  readonly connectionsPerHost: number
  readonly maxRepomdBytes: number
  readonly maxRedirects: number
  /** Retries of an answer that says "later" (429, 503) or of a timeout, before the file counts as unknown. */
  readonly retries: number
  /** Mirrors on loopback, private or link-local addresses are refused unless this is set (tests, labs). */
  readonly allowPrivateAddresses: boolean
  readonly userAgent: string
  /** An https certificate expiring within this many days is reported as expiring soon (SPEC 7.6). */
  readonly tlsWarnDays: number
  /**
   * The load budget (SPEC 7.5): in a scheduled full crawl, a directory found up to date within this time and
   * unchanged on the master since is not asked again (repodata directories always are).
   */
  readonly recheckAfterMs: number
  /**
   * When the whole crawl run ends (epoch ms; the global timeout): a host still being crawled then ends `unknown`,
   * as it is not the mirror's fault.
   */
  readonly runDeadline?: number | undefined
  /**
   * Certificate authorities trusted besides the system's (PEM; a lab's own CA, tests). Operators can also name a
   * file in NODE_EXTRA_CA_CERTS.
   */
  readonly ca?: string | undefined
  /** Stops the crawl (the request for it withdrawn, the node stopping): it ends `unknown` at once. */
  readonly signal?: AbortSignal | undefined
  /** Resolves a host name (in place of the system resolver: labs and tests with names of their own). */
  readonly resolve?: ((name: string) => Promise<ReadonlyArray<ResolvedAddress>>) | undefined
}

export interface ResolvedAddress {
  readonly address: string
  readonly family: 4 | 6
}

export const defaultCrawlOptions: CrawlOptions = {
  mode: "full",
  requestTimeoutMs: 30_000,
  hostTimeoutMs: 120 * 60_000,
  connectionsPerHost: 2,
  maxRepomdBytes: 10 * 1024 * 1024,
  maxRedirects: 3,
  retries: 3,
  allowPrivateAddresses: false,
  userAgent: "mirrormanager-crawler/0.1 (+https://github.com/mirrormanager)",
  tlsWarnDays: 14,
  recheckAfterMs: 24 * 3_600_000
}

export interface CrawlOutcome {
  readonly report: CrawlReport
  readonly log: ReadonlyArray<CrawlLogEntry>
  readonly requests: number
}

interface Answer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  /** https: the certificate's expiry (epoch seconds), when the connection was made. */
  readonly tlsExpiresAt?: number | undefined
  /** https: the connection failed on the certificate. */
  readonly tlsInvalid?: boolean
  /** Not asked: the address is not crawled. */
  readonly refused?: boolean
  /** GET of a whole file only: the body's sha256 (undefined when the body was cut short or too large). */
  readonly sha256?: string | undefined
  readonly error?: string
  /** Bytes of the body read; `bodyCut`: more followed (the answer was not read to its end). */
  readonly bodyBytes?: number
  readonly bodyCut?: boolean
  /** The request could not leave this machine (no route of that family here): says nothing of the mirror. */
  readonly ourSide?: boolean
  /** The answer's crawl log entry, to which the verdict is added. */
  readonly entry?: { result: string }
}

/** The host's time ran out (the mirror's fault) or the run's (ours). */
class OutOfTime extends Error {
  readonly run: boolean
  constructor(run: boolean) {
    super(run ? "the crawl run's time ran out" : "the host's time ran out")
    this.run = run
  }
}

/** The crawl was stopped from outside (its signal). */
class Stopped extends Error {}

/** Errors of a TLS handshake that mean the certificate is not valid for the name (not a network failure). */
const TLS_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|certificate/i

/**
 * Connection errors that say this machine cannot reach that family at all (a crawler without IPv6 connectivity):
 * they tell nothing of the mirror, so the family stays unknown rather than "no".
 */
const OUR_SIDE = new Set(["ENETUNREACH", "EADDRNOTAVAIL", "EAFNOSUPPORT"])

/** Resolver answers that say the name does not exist (the mirror's fault); any other failure may be ours. */
const NO_SUCH_NAME = new Set(["ENOTFOUND", "ENODATA", "EAI_NONAME", "EAI_NODATA"])

interface Resolved {
  readonly all: ReadonlyArray<ResolvedAddress>
  /** Why there are none: the resolver's error code. */
  readonly error?: string
  /** The failure is this machine's (its resolver answers nothing at all), not the name's. */
  readonly ourSide: boolean
}

interface BaseCheck {
  /** The URL answers (over some family) with a valid certificate. */
  readonly serves: boolean
  /** It could not be checked from here (the resolver failing, no route): nothing is known of it. */
  readonly ourSide: boolean
}

/** Bytes of an answer whose body is not wanted (error pages, redirects) read to keep the connection, at most. */
const DRAIN_BYTES = 64 * 1024

/**
 * Connections to mirrors, shared by every crawl on this node: keep-alive, and at most `connectionsPerHost` at once
 * to one mirror origin (scheme, name, port, family) however many of the mirror's hosts are crawled at once (SPEC 7.5).
 * Idle connections close after 15 s.
 */
const agents = new Map<string, { readonly "http:": http.Agent; readonly "https:": https.Agent }>()
const agentsFor = (connections: number, ca: string | undefined) => {
  const key = `${connections}\n${ca ?? ""}`
  let pair = agents.get(key)
  if (pair === undefined) {
    const settings = { keepAlive: true, maxSockets: connections, timeout: 15_000, scheduling: "lifo" as const }
    pair = {
      "http:": new http.Agent(settings),
      "https:": new https.Agent(ca === undefined ? settings : { ...settings, ca: [...tls.rootCertificates, ca] })
    }
    agents.set(key, pair)
  }
  return pair
}

const systemResolve = (name: string): Promise<ReadonlyArray<ResolvedAddress>> =>
  dns.promises
    .lookup(name, { all: true })
    .then((all) => all.map((a) => ({ address: a.address, family: a.family === 6 ? (6 as const) : (4 as const) })))

/**
 * A name each resolver answered lately: when another name fails (not "no such name") even when asked again, this
 * one is asked as a control. If the resolver answers it, the failing name's DNS is broken (the mirror's fault); if
 * not, or if there is no such name yet, the resolver is (ours).
 */
const resolverAnswered = new WeakMap<(name: string) => Promise<ReadonlyArray<ResolvedAddress>>, string>()
/** Before a failed lookup is asked again. */
const LOOKUP_RETRY_MS = 500

const lookupError = (hostname: string, code: string) => {
  const error: NodeJS.ErrnoException = new Error(`getaddrinfo ${code} ${hostname}`)
  error.code = code
  return error
}

/** ipaddr.js's names of the ranges not crawled, in words. */
const RANGE_WORDS: Readonly<Record<string, string>> = {
  loopback: "a loopback",
  private: "a private",
  linkLocal: "a link-local",
  uniqueLocal: "a unique local",
  carrierGradeNat: "a carrier-grade NAT",
  unspecified: "an unspecified",
  multicast: "a multicast",
  broadcast: "a broadcast",
  reserved: "a reserved"
}

/**
 * Why an address is not crawled (loopback, private, link-local and the like, also written as IPv4-mapped IPv6, which
 * ipaddr.js reads), or undefined. The setting that allows them is named, so whoever reads it can act on it.
 */
const notCrawled = (address: string): string | undefined => {
  const range = ipaddr.isValid(address) ? ipaddr.process(address).range() : undefined
  if (range !== undefined && !Object.hasOwn(RANGE_WORDS, range)) return undefined
  const what = range === undefined ? "not an address the crawler understands" : `${RANGE_WORDS[range]} address`
  return `${address} is ${what}; loopback, private and link-local addresses are crawled only with MM_CRAWL_PRIVATE_ADDRESSES=true`
}

/**
 * The file's size from the answer to a one-byte ranged GET: a 206 names it in Content-Range; a 200 that ignored the
 * range in Content-Length, or by the body it sent (Infinity: more than was read, so larger than a file that small).
 */
const rangedSize = (answer: Answer, masterSize: number): number | undefined => {
  const total = /\/(\d+)\s*$/.exec(String(answer.headers["content-range"] ?? ""))?.[1]
  if (total !== undefined) return Number(total)
  if (answer.status !== 200) return undefined
  if (answer.headers["content-length"] !== undefined) return Number(answer.headers["content-length"])
  if (answer.bodyCut !== true) return answer.bodyBytes
  return masterSize <= (answer.bodyBytes ?? 0) ? Number.POSITIVE_INFINITY : undefined
}

/** Whether an answer to a base URL's HEAD says the URL serves (any HTTP answer but 404 and 5xx). */
const serves = (answer: Answer) => answer.status >= 200 && answer.status < 500 && answer.status !== 404

const byPath = (a: CrawlDirectory, b: CrawlDirectory) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)

/**
 * The request a failed crawl is blamed on: the last one that got no answer or an error status. Notes (an
 * always-up-to-date category's, directories not asked again) are in the log with status 0 but record no request:
 * never blamed.
 */
export const blamedRequest = (
  log: ReadonlyArray<CrawlLogEntry>,
  notes: ReadonlySet<CrawlLogEntry>
): CrawlLogEntry | undefined =>
  log.findLast((entry) => !notes.has(entry) && (entry.status === 0 || entry.status >= 400))

/** Crawls one host; never throws: what could not be learned is `unknown` in the report and said in the log. */
export const crawlHost = async (target: CrawlTarget, options: CrawlOptions): Promise<CrawlOutcome> => {
  const started = Date.now()
  const log: Array<CrawlLogEntry> = []
  /** Entries of the log that say something of the crawl rather than of a request (status 0, no request made). */
  const notes = new Set<CrawlLogEntry>()
  const note = (url: string, result: string) => {
    const entry: CrawlLogEntry = { url, method: "HEAD", status: 0, result, ms: 0 }
    notes.add(entry)
    log.push(entry)
  }
  let requests = 0
  const pool = agentsFor(options.connectionsPerHost, options.ca)
  const resolve = options.resolve ?? systemResolve
  const hostDeadline = started + options.hostTimeoutMs
  const runEndsFirst = options.runDeadline !== undefined && options.runDeadline < hostDeadline
  const deadline = runEndsFirst ? options.runDeadline! : hostDeadline
  const urls: Array<CrawledUrl> = []
  /**
   * A name's addresses, or why there are none: asked once per crawl, and the same addresses are both checked
   * (private ones refused) and connected to, so a name cannot point elsewhere between the check and the connection.
   */
  const addresses = new Map<string, Promise<Resolved>>()
  const resolveName = (name: string) => {
    let found = addresses.get(name)
    if (found === undefined) {
      const literal = parseClientAddress(name)
      found =
        literal !== undefined
          ? Promise.resolve({ all: [{ address: name, family: literal.family }], ourSide: false })
          : lookUp(name)
      addresses.set(name, found)
    }
    return found
  }
  /** A name's addresses; a failure other than "no such name" asked again, then judged against a control name. */
  const lookUp = async (name: string): Promise<Resolved> => {
    const attempt = (): Promise<Resolved> =>
      resolve(name).then(
        (all): Resolved => {
          resolverAnswered.set(resolve, name)
          return { all, ourSide: false }
        },
        (error: NodeJS.ErrnoException): Resolved => ({ all: [], error: error.code ?? "EAI_FAIL", ourSide: false })
      )
    const first = await attempt()
    if (first.all.length > 0 || NO_SUCH_NAME.has(first.error ?? "")) return first
    await new Promise((resolveLater) => setTimeout(resolveLater, LOOKUP_RETRY_MS))
    const second = await attempt()
    if (second.all.length > 0 || NO_SUCH_NAME.has(second.error ?? "")) return second
    const control = resolverAnswered.get(resolve)
    const resolverWorks =
      control !== undefined &&
      control !== name &&
      (await resolve(control).then(
        (all) => all.length > 0,
        () => false
      ))
    return { ...second, ourSide: !resolverWorks }
  }
  const addressesOf = (url: URL) => resolveName(url.hostname.replace(/^\[|\]$/g, ""))
  /** node:net's lookup, answered from `resolveName` (one address of a family, or all). */
  const lookup: LookupFunction = (hostname, options, callback) => {
    resolveName(hostname).then((found) => {
      const usable = found.all.filter((a) => !options.family || a.family === options.family)
      if (usable.length === 0) return callback(lookupError(hostname, found.error ?? "ENOTFOUND"), "", 0)
      if (options.all)
        return (callback as unknown as (e: null, a: ReadonlyArray<ResolvedAddress>) => void)(null, usable)
      callback(null, usable[0]!.address, usable[0]!.family)
    })
  }

  /** Why a URL's host may not be crawled (a private address), or undefined. */
  const refusal = async (url: URL): Promise<string | undefined> => {
    if (options.allowPrivateAddresses) return undefined
    const { all } = await addressesOf(url)
    for (const { address } of all) {
      const why = notCrawled(address)
      if (why !== undefined) return why
    }
    return undefined
  }

  /** The requests under way, each stopped by the crawl's signal (one listener for the whole crawl). */
  const inFlight = new Set<() => void>()
  const stopAll = () => {
    for (const stop of inFlight) stop()
  }
  options.signal?.addEventListener("abort", stopAll, { once: true })

  /** One request, bounded in time (as a whole, not only while idle) and in the bytes read. */
  const once = (url: URL, method: "HEAD" | "GET", headers: Record<string, string>, family: 4 | 6 | undefined) =>
    new Promise<Answer>((resolveAnswer, reject) => {
      const remaining = deadline - Date.now()
      if (remaining <= 0) return reject(new OutOfTime(runEndsFirst))
      if (options.signal?.aborted === true) return reject(new Stopped())
      const wantsBody = method === "GET" && headers.range === undefined
      const client = url.protocol === "https:" ? https : http
      let settled = false
      /** Ends the request once: its timer cleared, no longer stoppable by the crawl's signal. */
      const finish = (end: () => void) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        inFlight.delete(stop)
        end()
      }
      const settle = (answer: Answer) => finish(() => resolveAnswer(answer))
      const limit = Math.min(options.requestTimeoutMs, remaining)
      // Cut by the crawl's own time rather than the request's: that says nothing of the mirror.
      const outOfTime = () => {
        if (remaining >= options.requestTimeoutMs) return false
        finish(() => reject(new OutOfTime(runEndsFirst)))
        request?.destroy()
        return true
      }
      // The crawl stopped from outside.
      const stop = () => {
        finish(() => reject(new Stopped()))
        request?.destroy()
      }
      inFlight.add(stop)
      let request: http.ClientRequest | undefined
      // The whole request (connection, answer, body) within the limit, however slowly a mirror trickles bytes.
      const timer = setTimeout(() => {
        if (outOfTime()) return
        settle({ status: 0, headers: {}, error: "timed out" })
        request?.destroy()
      }, limit)
      try {
        request = client.request(
          url,
          {
            method,
            agent: pool[url.protocol as "http:" | "https:"],
            timeout: limit,
            ...(family === undefined ? {} : { family }),
            lookup,
            headers: {
              "user-agent": options.userAgent,
              "accept-encoding": "identity",
              "cache-control": "no-cache",
              pragma: "no-cache",
              ...headers
            }
          },
          (response) => {
            const status = response.statusCode ?? 0
            const socket = response.socket as tls.TLSSocket
            const validTo =
              typeof socket.getPeerCertificate === "function" ? socket.getPeerCertificate()?.valid_to : undefined
            const tlsExpiresAt = validTo === undefined ? undefined : Math.floor(Date.parse(validTo) / 1000)
            const answered = { status, headers: response.headers, tlsExpiresAt }
            const whole = wantsBody && status >= 200 && status < 300
            const hash = whole ? createHash("sha256") : undefined
            const cap = whole ? options.maxRepomdBytes : DRAIN_BYTES
            let bytes = 0
            response.on("data", (chunk: Buffer) => {
              bytes += chunk.length
              if (bytes > cap) {
                // Not worth reading on (or endless): the connection is given up.
                settle(
                  whole
                    ? { ...answered, error: `body over ${cap} bytes` }
                    : { ...answered, bodyBytes: bytes, bodyCut: true }
                )
                response.destroy()
                return
              }
              hash?.update(chunk)
            })
            response.on("end", () => {
              const announced = response.headers["content-length"]
              const short = whole && announced !== undefined && Number(announced) !== bytes
              settle(
                short
                  ? { ...answered, error: `body of ${bytes} bytes, ${announced} announced` }
                  : { ...answered, sha256: hash?.digest("hex"), bodyBytes: bytes }
              )
            })
            // Cut short (connection closed before the announced length): what was read does not count.
            response.on("error", () =>
              settle(whole ? { ...answered, error: "the connection closed before the body ended" } : answered)
            )
            response.on("close", () =>
              settle(whole ? { ...answered, error: "the connection closed before the body ended" } : answered)
            )
          }
        )
      } catch (error) {
        // A URL node:http will not ask (characters it refuses in a mirror's redirect, say).
        settle({ status: 0, headers: {}, error: error instanceof Error ? error.message : String(error) })
        return
      }
      request.on("timeout", () => {
        if (outOfTime()) return
        settle({ status: 0, headers: {}, error: "timed out" })
        request?.destroy()
      })
      request.on("error", (error: NodeJS.ErrnoException) =>
        settle({
          status: 0,
          headers: {},
          error: error.message,
          ourSide: OUR_SIDE.has(error.code ?? ""),
          tlsInvalid: url.protocol === "https:" && TLS_ERRORS.test(`${error.code ?? ""} ${error.message}`)
        })
      )
      request.end()
    })

  /** A request, redirects followed (at most `maxRedirects`), "later" answers retried with backoff; logged. */
  const ask = async (
    raw: string,
    method: "HEAD" | "GET",
    headers: Record<string, string> = {},
    family?: 4 | 6
  ): Promise<Answer> => {
    let url = new URL(raw)
    const over = family === undefined ? "" : ` over IPv${family}`
    for (let attempt = 0, redirects = 0; ; ) {
      const reason = await refusal(url)
      if (reason !== undefined) {
        log.push({ url: url.href, method, status: 0, result: `refused: ${reason}`, ms: 0 })
        return { status: 0, headers: {}, error: reason, refused: true }
      }
      const began = Date.now()
      requests++
      const answer = await once(url, method, headers, family)
      const location = answer.headers.location
      if (answer.status >= 300 && answer.status < 400 && location !== undefined) {
        log.push({
          url: url.href,
          method,
          status: answer.status,
          result: `redirect to ${location}${over}`,
          ms: Date.now() - began
        })
        const next = URL.canParse(location, url) ? new URL(location, url) : undefined
        const stop =
          ++redirects > options.maxRedirects
            ? "too many redirects"
            : next === undefined || (next.protocol !== "http:" && next.protocol !== "https:")
              ? "redirect to a URL that is not http(s)"
              : undefined
        if (stop !== undefined) {
          log.push({ url: url.href, method, status: 0, result: stop, ms: 0 })
          return { status: 0, headers: {}, error: stop }
        }
        url = next!
        continue
      }
      const later = answer.status === 429 || answer.status === 503 || answer.error === "timed out"
      const entry = {
        url: url.href,
        method,
        status: answer.status,
        result: `${answer.error ?? (later ? "later" : "answered")}${over}`,
        ms: Date.now() - began
      }
      log.push(entry)
      if (!later || attempt >= options.retries) return { ...answer, entry }
      attempt++
      const retryAfter = Number(answer.headers["retry-after"])
      const wait = Math.min(10_000, Number.isFinite(retryAfter) ? retryAfter * 1000 : 250 * 2 ** attempt)
      if (Date.now() + wait > deadline) throw new OutOfTime(runEndsFirst)
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }

  /** SPEC 7.3: a file's answer as "ok", "stale" or "unknown"; why is added to the answer's crawl log entry. */
  const checkFile = async (base: string, file: CrawlFile): Promise<"ok" | "stale" | "unknown"> => {
    const url = `${base}/${encodeURIComponent(file.name)}`
    let answer = await ask(url, "HEAD")
    let status = answer.status
    let size = answer.headers["content-length"] === undefined ? undefined : Number(answer.headers["content-length"])
    if (status === 405 || status === 501) {
      answer = await ask(url, "GET", { range: "bytes=0-0" })
      status = answer.status
      size = rangedSize(answer, file.size)
      if (status === 206) status = 200
    }
    const verdict = (result: "ok" | "stale" | "unknown", why?: string) => {
      if (answer.entry !== undefined && why !== undefined) answer.entry.result += `; ${result}: ${why}`
      return result
    }
    if (status >= 200 && status < 300) {
      return size === undefined || size === file.size
        ? verdict("ok")
        : verdict("stale", `size ${size === Number.POSITIVE_INFINITY ? "larger" : size}, the master's ${file.size}`)
    }
    if (status === 404 || status === 410 || status === 403) return verdict("stale", `answered ${status}`)
    return verdict("unknown", status === 0 ? (answer.error ?? "no answer") : `answered ${status}`)
  }

  const checkDirectory = async (base: string, directory: CrawlDirectory): Promise<CrawledDirectory> => {
    const url = directory.path === "" ? base : `${base}/${directory.path.split("/").map(encodeURIComponent).join("/")}`
    const verdict = (
      result: CrawledDirectory["result"],
      matched: RepomdDetail | undefined = undefined,
      newest = false
    ): CrawledDirectory => ({
      directoryId: directory.directoryId,
      path: directory.path,
      result,
      matched: matched === undefined ? null : newest ? "newest" : "alternate",
      matchedTimestamp: matched?.timestamp ?? null,
      ...(directory.filesDigest === undefined ? {} : { filesDigest: directory.filesDigest })
    })
    let matched: RepomdDetail | undefined
    for (const file of directory.files) {
      if (file.name === "repomd.xml" && directory.repomd !== undefined) {
        const answer = await ask(`${url}/repomd.xml`, "GET")
        const why = (text: string) => {
          if (answer.entry !== undefined) answer.entry.result += `; ${text}`
        }
        if (answer.status === 404 || answer.status === 410 || answer.status === 403) return verdict("stale")
        // No hash: not a 2xx answer, or a body cut short or over the limit.
        if (answer.sha256 === undefined) return verdict("unknown")
        const { newest, alternates } = directory.repomd
        matched = [newest, ...alternates].find((d) => d.sha256.toLowerCase() === answer.sha256)
        if (matched === undefined) {
          why(`stale: sha256 ${answer.sha256.slice(0, 12)}… matches no retained repomd.xml`)
          return verdict("stale")
        }
        why(`matches the ${matched === newest ? "newest" : "an older retained"} repomd.xml`)
        continue
      }
      const result = await checkFile(url, file)
      if (result !== "ok") return verdict(result === "stale" ? "stale" : "unknown")
    }
    return verdict("upToDate", matched, matched === directory.repomd?.newest)
  }

  /**
   * The base check of one URL (SPEC 7.2 rule 2, 7.6): asked over each family its name has addresses in, so a mirror
   * whose IPv6 address does not answer is known not to serve IPv6. What this machine could not find out (its
   * resolver failing, no route of a family from here) stays unknown.
   */
  const checkBase = async (hostCategoryId: HostCategoryId, raw: string): Promise<BaseCheck> => {
    const url = raw.replace(/\/+$/, "")
    const found = await addressesOf(new URL(url))
    if (found.all.length === 0) {
      const ourSide = found.ourSide
      log.push({
        url: `${url}/`,
        method: "HEAD",
        status: 0,
        result: `the name does not resolve (${found.error})`,
        ms: 0
      })
      const known = ourSide ? null : false
      urls.push({
        hostCategoryId,
        url: raw,
        reachable: known,
        ipv4: known,
        ipv6: known,
        tlsValid: null,
        tlsExpiresAt: null,
        tlsExpiresSoon: null
      })
      return { serves: false, ourSide }
    }
    const families = ([4, 6] as const).filter((family) => found.all.some((a) => a.family === family))
    const answers = new Map<4 | 6, Answer>()
    for (const family of families) answers.set(family, await ask(`${url}/`, "HEAD", {}, family))
    const all = [...answers.values()]
    const refused = all.some((a) => a.refused === true)
    const reachable = all.some(serves)
    const ourSide = !reachable && all.every((a) => a.ourSide === true)
    const answered = (family: 4 | 6) => {
      const answer = answers.get(family)
      if (answer === undefined) return false
      return answer.ourSide === true ? null : serves(answer)
    }
    const tlsInvalid = all.some((a) => a.tlsInvalid === true)
    // The earliest, should the families reach servers with different certificates.
    const expiries = all.flatMap((a) => (a.tlsExpiresAt === undefined ? [] : [a.tlsExpiresAt]))
    const expiresAt = expiries.length === 0 ? undefined : Math.min(...expiries)
    urls.push({
      hostCategoryId,
      url: raw,
      reachable: refused || ourSide ? null : reachable,
      ipv4: refused ? null : answered(4),
      ipv6: refused ? null : answered(6),
      tlsValid: !url.startsWith("https:") || refused ? null : tlsInvalid ? false : reachable ? true : null,
      tlsExpiresAt: expiresAt ?? null,
      tlsExpiresSoon: expiresAt === undefined ? null : expiresAt * 1000 < Date.now() + options.tlsWarnDays * 86_400_000
    })
    return { serves: reachable && !tlsInvalid, ourSide }
  }

  const crawlCategory = async (category: CrawlCategory): Promise<CrawledCategory> => {
    const skipped = { hostCategoryId: category.hostCategoryId, accessible: false, directories: [] }
    // Every base URL is checked, an always-up-to-date category's too (reachability, families, certificates: what
    // puts a URL in the lists or keeps it out); the directories are checked through the first that serves.
    let base: string | undefined
    let ourSideOnly = category.urls.length > 0
    for (const raw of category.urls) {
      const checked = await checkBase(category.hostCategoryId, raw)
      if (checked.serves && base === undefined) base = raw.replace(/\/+$/, "")
      if (!checked.ourSide) ourSideOnly = false
    }
    if (base === undefined) {
      if (ourSideOnly) couldNotCheck.push(category.hostCategoryId)
      return skipped
    }
    if (category.alwaysUpToDate) {
      // Its directories count as up to date whatever they hold (SPEC 2.1): nothing to ask of them.
      note(`${base}/`, "always up to date (alwaysUp2date): its base URLs checked, its directories not")
      return { ...skipped, accessible: true }
    }
    if (options.mode === "canary") return { ...skipped, accessible: true }
    const wanted = options.targets?.get(category.hostCategoryId)
    let directories = category.directories
      .filter((d) =>
        options.mode === "repodata"
          ? isRepodata(d.path)
          : options.mode === "targeted"
            ? wanted?.has(d.path) === true
            : true
      )
      .toSorted(byPath)
    const results: Array<CrawledDirectory> = []
    if (options.mode === "full") {
      const kept = directories.filter((d) => d.kept !== undefined)
      for (const d of kept) {
        results.push({
          directoryId: d.directoryId,
          path: d.path,
          result: "upToDate",
          matched: d.kept!.matched,
          matchedTimestamp: d.kept!.matchedTimestamp,
          kept: true
        })
      }
      if (kept.length > 0) {
        note(
          `${base}/`,
          `${kept.length} directories found up to date lately and unchanged on the master since: not asked again`
        )
        directories = directories.filter((d) => d.kept === undefined)
      }
    }
    // As many directories at once as connections to the mirror.
    let next = 0
    const worker = async () => {
      while (next < directories.length) results.push(await checkDirectory(base!, directories[next++]!))
    }
    await Promise.all(Array.from({ length: options.connectionsPerHost }, worker))
    return { hostCategoryId: category.hostCategoryId, accessible: true, directories: results }
  }

  const categories: Array<CrawledCategory> = []
  /** Categories not accessible only because of this machine (its resolver, its routes). */
  const couldNotCheck: Array<number> = []
  let status: CrawlReport["status"]
  let reason: string | null = null
  try {
    for (const category of target.categories) categories.push(await crawlCategory(category))
    status = target.categories.length === 0 ? "unknown" : categories.some((c) => c.accessible) ? "ok" : "failure"
    if (target.categories.length === 0) reason = "the host has no categories to crawl"
    if (status === "failure" && couldNotCheck.length === categories.length) {
      // Nothing failed on the mirror's side: this machine could not resolve or reach it. Not held against it.
      status = "unknown"
      const last = log.findLast((entry) => !notes.has(entry))
      reason = `could not check from here${last === undefined ? "" : ` (last: ${last.url}: ${last.result})`}`
    } else if (status === "failure" && urls.length === 0) {
      reason = "no base URL answered: the host has no public http(s) base URL to check"
    } else if (status === "failure") {
      const last = blamedRequest(log, notes)
      reason = `no base URL answered${last === undefined ? "" : ` (last: ${last.url}: ${last.status === 0 ? "" : `${last.status} `}${last.result})`}`
    }
  } catch (error) {
    if (!(error instanceof OutOfTime || error instanceof Stopped)) throw error
    // The run's time, or a crawl stopped from outside, is ours to blame, not the mirror's: nothing changes (SPEC 7.4
    // UNKNOWN). The host's own time running out is a timeout.
    status = error instanceof OutOfTime && !error.run ? "timeout" : "unknown"
    reason =
      error instanceof Stopped
        ? "stopped before the end"
        : error.run
          ? "the crawl run's time ran out before this host was done"
          : "crawl timed out, host likely overloaded"
    categories.length = 0
  } finally {
    options.signal?.removeEventListener("abort", stopAll)
  }
  return {
    report: { mode: options.mode, status, reason, durationMs: Date.now() - started, categories, urls },
    log,
    requests
  }
}
