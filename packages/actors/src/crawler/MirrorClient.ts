// How the crawler talks to mirrors: names resolved once per crawl (and the same addresses both checked and connected
// to), addresses that are not public refused, connections kept alive in a bounded pool per mirror origin, every
// request bounded in time (as a whole) and in bytes, redirects followed and "later" answers retried within limits,
// the crawl stopped at once from outside. What each request was and got goes into the crawl's log; what the answers
// mean for the mirror is for the verdicts (CrawlVerdicts.ts). The pool and the resolver's memory belong to one
// node's MirrorClient (its layer), so two nodes in one process share neither.
import { createHash } from "node:crypto"
import * as dns from "node:dns"
import * as http from "node:http"
import * as https from "node:https"
import type { LookupFunction } from "node:net"
import * as tls from "node:tls"
import type { CrawlLogEntry } from "@mirrormanager/domain/host"
import { Context, Effect, Layer } from "effect"
import ipaddr from "ipaddr.js"
import { parseClientAddress } from "../ipdata/index.ts"

export interface ResolvedAddress {
  readonly address: string
  readonly family: 4 | 6
}

/** Resolves a host name (the system resolver, or a lab's or a test's own). */
export type Resolve = (name: string) => Promise<ReadonlyArray<ResolvedAddress>>

/** The limits of one crawl's requests, and what it may reach. */
export interface MirrorRequestLimits {
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
  readonly resolve?: Resolve | undefined
}

export interface MirrorAnswer {
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

/** A name's addresses, or why there are none. */
export interface Resolved {
  readonly all: ReadonlyArray<ResolvedAddress>
  /** Why there are none: the resolver's error code. */
  readonly error?: string
  /** The failure is this machine's (its resolver answers nothing at all), not the name's. */
  readonly ourSide: boolean
}

/** The host's time ran out (the mirror's fault) or the run's (ours). */
export class OutOfTime extends Error {
  readonly run: boolean
  constructor(run: boolean) {
    super(run ? "the crawl run's time ran out" : "the host's time ran out")
    this.run = run
  }
}

/** The crawl was stopped from outside (its signal). */
export class Stopped extends Error {}

/** One crawl's way to its mirror: its names' addresses, its requests, its time. */
export interface MirrorSession {
  /** A request, redirects followed (at most `maxRedirects`), "later" answers retried with backoff; logged. */
  readonly ask: (
    raw: string,
    method: "HEAD" | "GET",
    headers?: Record<string, string>,
    family?: 4 | 6
  ) => Promise<MirrorAnswer>
  /**
   * A file's HEAD; where the mirror does not allow HEAD (405, 501), a one-byte ranged GET (`ranged`), whose
   * Content-Range names the size.
   */
  readonly askFile: (raw: string) => Promise<{ readonly answer: MirrorAnswer; readonly ranged: boolean }>
  /** The addresses of a URL's host, as the crawl's requests connect to them. */
  readonly addressesOf: (url: URL) => Promise<Resolved>
  /** Requests made so far (redirects and retries each count). */
  readonly requests: () => number
  /** Ends the session: no longer stopped by the crawl's signal. */
  readonly close: () => void
}

/** Errors of a TLS handshake that mean the certificate is not valid for the name (not a network failure). */
const TLS_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|certificate/i

/**
 * Connection errors that say this machine cannot reach that family at all (a crawler without IPv6 connectivity):
 * they tell nothing of the mirror, so the family stays unknown rather than "no".
 */
const OUR_SIDE = new Set(["ENETUNREACH", "EADDRNOTAVAIL", "EAFNOSUPPORT"])

/** Resolver answers that say the name does not exist (the mirror's fault); any other failure may be ours. */
const NO_SUCH_NAME = new Set(["ENOTFOUND", "ENODATA", "EAI_NONAME", "EAI_NODATA"])

/** Bytes of an answer whose body is not wanted (error pages, redirects) read to keep the connection, at most. */
const DRAIN_BYTES = 64 * 1024

/** Before a failed lookup is asked again. */
const LOOKUP_RETRY_MS = 500

const systemResolve: Resolve = (name) =>
  dns.promises
    .lookup(name, { all: true })
    .then((all) => all.map((a) => ({ address: a.address, family: a.family === 6 ? (6 as const) : (4 as const) })))

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
const whyNotCrawled = (address: string): string | undefined => {
  const range = ipaddr.isValid(address) ? ipaddr.process(address).range() : undefined
  if (range !== undefined && !Object.hasOwn(RANGE_WORDS, range)) return undefined
  const what = range === undefined ? "not an address the crawler understands" : `${RANGE_WORDS[range]} address`
  return `${address} is ${what}; loopback, private and link-local addresses are crawled only with MM_CRAWL_PRIVATE_ADDRESSES=true`
}

interface AgentPair {
  readonly "http:": http.Agent
  readonly "https:": https.Agent
}

/** What one node keeps between crawls: its connections to mirrors and what its resolvers answered lately. */
interface MirrorMemory {
  /**
   * Connections to mirrors, shared by every crawl on this node: keep-alive, and at most `connectionsPerHost` at
   * once to one mirror origin (scheme, name, port, family) however many of the mirror's hosts are crawled at once
   * (docs/crawler.md#limits-and-politeness). Idle connections close after 15 s.
   */
  readonly agents: Map<string, AgentPair>
  /**
   * A name each resolver answered lately: when another name fails (not "no such name") even when asked again, this
   * one is asked as a control. If the resolver answers it, the failing name's DNS is broken (the mirror's fault); if
   * not, or if there is no such name yet, the resolver is (ours).
   */
  readonly resolverAnswered: WeakMap<Resolve, string>
}

const agentsFor = (memory: MirrorMemory, connections: number, ca: string | undefined): AgentPair => {
  const key = `${connections}\n${ca ?? ""}`
  let pair = memory.agents.get(key)
  if (pair === undefined) {
    const settings = { keepAlive: true, maxSockets: connections, timeout: 15_000, scheduling: "lifo" as const }
    pair = {
      "http:": new http.Agent(settings),
      "https:": new https.Agent(ca === undefined ? settings : { ...settings, ca: [...tls.rootCertificates, ca] })
    }
    memory.agents.set(key, pair)
  }
  return pair
}

/** One crawl's names, each resolved once; a failure judged against a name the resolver answered lately. */
const crawlNames = (resolve: Resolve, resolverAnswered: WeakMap<Resolve, string>) => {
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
  return { addressesOf, lookup }
}

/** What one crawl's requests share: its limits, connections, names, time, and the requests under way. */
interface CrawlRequests {
  readonly limits: MirrorRequestLimits
  readonly pool: AgentPair
  readonly lookup: LookupFunction
  readonly deadline: number
  /** The crawl run's deadline comes before the host's: running out of time is ours, not the mirror's. */
  readonly runEndsFirst: boolean
  /** The requests under way, each stopped by the crawl's signal (one listener for the whole crawl). */
  readonly inFlight: Set<() => void>
}

/** One request, bounded in time (as a whole, not only while idle) and in the bytes read. */
const requestOnce = (
  crawl: CrawlRequests,
  url: URL,
  method: "HEAD" | "GET",
  headers: Record<string, string>,
  family: 4 | 6 | undefined
) =>
  new Promise<MirrorAnswer>((resolveAnswer, reject) => {
    const remaining = crawl.deadline - Date.now()
    if (remaining <= 0) return reject(new OutOfTime(crawl.runEndsFirst))
    if (crawl.limits.signal?.aborted === true) return reject(new Stopped())
    const wantsBody = method === "GET" && headers.range === undefined
    const client = url.protocol === "https:" ? https : http
    let settled = false
    /** Ends the request once: its timer cleared, no longer stoppable by the crawl's signal. */
    const finish = (end: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      crawl.inFlight.delete(stop)
      end()
    }
    const settle = (answer: MirrorAnswer) => finish(() => resolveAnswer(answer))
    const limit = Math.min(crawl.limits.requestTimeoutMs, remaining)
    // Cut by the crawl's own time rather than the request's: that says nothing of the mirror.
    const outOfTime = () => {
      if (remaining >= crawl.limits.requestTimeoutMs) return false
      finish(() => reject(new OutOfTime(crawl.runEndsFirst)))
      request?.destroy()
      return true
    }
    // The crawl stopped from outside.
    const stop = () => {
      finish(() => reject(new Stopped()))
      request?.destroy()
    }
    crawl.inFlight.add(stop)
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
          agent: crawl.pool[url.protocol as "http:" | "https:"],
          timeout: limit,
          ...(family === undefined ? {} : { family }),
          lookup: crawl.lookup,
          headers: {
            "user-agent": crawl.limits.userAgent,
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
          const cap = whole ? crawl.limits.maxRepomdBytes : DRAIN_BYTES
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

/** One crawl's session: `log` receives an entry per request made (and per request refused or given up). */
const openSession = (memory: MirrorMemory, limits: MirrorRequestLimits, log: Array<CrawlLogEntry>): MirrorSession => {
  let requests = 0
  const { addressesOf, lookup } = crawlNames(limits.resolve ?? systemResolve, memory.resolverAnswered)
  const hostDeadline = Date.now() + limits.hostTimeoutMs
  const runEndsFirst = limits.runDeadline !== undefined && limits.runDeadline < hostDeadline
  const crawl: CrawlRequests = {
    limits,
    pool: agentsFor(memory, limits.connectionsPerHost, limits.ca),
    lookup,
    deadline: runEndsFirst ? limits.runDeadline! : hostDeadline,
    runEndsFirst,
    inFlight: new Set()
  }
  const stopAll = () => {
    for (const stop of crawl.inFlight) stop()
  }
  limits.signal?.addEventListener("abort", stopAll, { once: true })

  /** Why a URL's host may not be crawled (a private address), or undefined. */
  const refusal = async (url: URL): Promise<string | undefined> => {
    if (limits.allowPrivateAddresses) return undefined
    const { all } = await addressesOf(url)
    for (const { address } of all) {
      const why = whyNotCrawled(address)
      if (why !== undefined) return why
    }
    return undefined
  }

  const ask = async (
    raw: string,
    method: "HEAD" | "GET",
    headers: Record<string, string> = {},
    family?: 4 | 6
  ): Promise<MirrorAnswer> => {
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
      const answer = await requestOnce(crawl, url, method, headers, family)
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
          ++redirects > limits.maxRedirects
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
      if (!later || attempt >= limits.retries) return { ...answer, entry }
      attempt++
      const retryAfter = Number(answer.headers["retry-after"])
      const wait = Math.min(10_000, Number.isFinite(retryAfter) ? retryAfter * 1000 : 250 * 2 ** attempt)
      if (Date.now() + wait > crawl.deadline) throw new OutOfTime(crawl.runEndsFirst)
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }

  const askFile = async (raw: string) => {
    const head = await ask(raw, "HEAD")
    if (head.status !== 405 && head.status !== 501) return { answer: head, ranged: false }
    return { answer: await ask(raw, "GET", { range: "bytes=0-0" }), ranged: true }
  }

  return {
    ask,
    askFile,
    addressesOf,
    requests: () => requests,
    close: () => limits.signal?.removeEventListener("abort", stopAll)
  }
}

/** The node's client of mirrors: a session per crawl, the connection pool and the resolvers' memory shared by all. */
export interface MirrorClientShape {
  /** A crawl's session; it writes what it asks and gets into `log`. Close it when the crawl ends. */
  readonly open: (limits: MirrorRequestLimits, log: Array<CrawlLogEntry>) => MirrorSession
  /** Idle connections kept now, over all mirrors (what a node's pool holds). */
  readonly idleConnections: () => number
  /** Closes every connection (the node stopping). */
  readonly close: () => void
}

/** A client of its own (a test, a command): its connections closed by `close`. */
export const makeMirrorClient = (): MirrorClientShape => {
  const memory: MirrorMemory = { agents: new Map(), resolverAnswered: new WeakMap() }
  return {
    open: (limits, log) => openSession(memory, limits, log),
    idleConnections: () => {
      let idle = 0
      for (const pair of memory.agents.values()) {
        for (const agent of [pair["http:"], pair["https:"]]) {
          for (const sockets of Object.values(agent.freeSockets)) idle += sockets?.length ?? 0
        }
      }
      return idle
    },
    close: () => {
      for (const pair of memory.agents.values()) {
        pair["http:"].destroy()
        pair["https:"].destroy()
      }
      memory.agents.clear()
    }
  }
}

export class MirrorClient extends Context.Service<MirrorClient, MirrorClientShape>()("actors/MirrorClient") {
  /** One per node: its connections closed when the node stops. */
  static readonly layer = Layer.effect(
    MirrorClient,
    Effect.acquireRelease(Effect.sync(makeMirrorClient), (client) => Effect.sync(client.close))
  )
}
