// The crawl of one host (SPEC 7.2-7.4): per category, the base URLs checked, then each directory's files checked
// through the first base URL that answers (HEAD, keep-alive, a bounded number of connections per mirror), and
// repomd.xml downloaded and its sha256 compared with the newest file detail or any retained alternate. Everything a
// mirror sends is bounded: time per request and per host, bytes, redirects. The outcome is a CrawlReport for the
// host's entity and a log of what was asked and answered.
import { createHash } from "node:crypto"
import { lookup } from "node:dns/promises"
import * as http from "node:http"
import * as https from "node:https"
import type {
  CrawledCategory,
  CrawledDirectory,
  CrawledUrl,
  CrawlReport
} from "@mirrormanager/domain/cluster/HostEntity"
import { parseClientAddress } from "./IpAddress.ts"

export type CrawlMode = CrawlReport["mode"]

export interface CrawlFile {
  readonly name: string
  readonly size: number
}

export interface CrawlDirectory {
  readonly directoryId: number
  /** Below the category's top directory; "" is the top. */
  readonly path: string
  readonly files: ReadonlyArray<CrawlFile>
  /** For a repodata directory: sha256 of the newest repomd.xml, then of the retained alternates. */
  readonly repomd: { readonly newest: string; readonly alternates: ReadonlyArray<string> } | undefined
}

export interface CrawlCategory {
  readonly hostCategoryId: number
  readonly alwaysUpToDate: boolean
  /** http(s) base URLs of the category on the mirror, https first. */
  readonly urls: ReadonlyArray<string>
  readonly directories: ReadonlyArray<CrawlDirectory>
}

export interface CrawlTarget {
  readonly hostId: number
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
  userAgent: "mirrormanager-crawler/0.1 (+https://github.com/mirrormanager)"
}

export interface CrawlLogEntry {
  readonly url: string
  readonly method: "HEAD" | "GET"
  /** HTTP status, or 0 when there was no answer. */
  readonly status: number
  readonly result: string
  readonly ms: number
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
  /** GET only: the body's sha256, or undefined when the body was too large. */
  readonly sha256?: string | undefined
  readonly error?: string
}

class HostTimedOut extends Error {}

/** Errors of a TLS handshake that mean the certificate is not valid for the name (not a network failure). */
const TLS_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|certificate/i

/** The families a URL's host reaches: an address literal's own, or what its name resolves to. */
const familiesOf = async (url: URL): Promise<{ readonly ipv4: boolean; readonly ipv6: boolean } | undefined> => {
  const name = url.hostname.replace(/^\[|\]$/g, "")
  const literal = parseClientAddress(name)
  if (literal !== undefined) return { ipv4: literal.family === 4, ipv6: literal.family === 6 }
  const addresses = await lookup(name, { all: true }).catch(() => undefined)
  if (addresses === undefined) return undefined
  return { ipv4: addresses.some((a) => a.family === 4), ipv6: addresses.some((a) => a.family === 6) }
}

const isPrivate = (address: string): boolean => {
  const parsed = parseClientAddress(address)
  if (parsed === undefined) return true
  const b = parsed.bytes
  if (parsed.family === 4) {
    return (
      b[0] === 127 ||
      b[0] === 10 ||
      b[0] === 0 ||
      (b[0] === 169 && b[1] === 254) ||
      (b[0] === 172 && b[1]! >= 16 && b[1]! <= 31) ||
      (b[0] === 192 && b[1] === 168) ||
      (b[0] === 100 && b[1]! >= 64 && b[1]! <= 127)
    )
  }
  const loopback = b.every((byte, i) => (i < 15 ? byte === 0 : byte === 1))
  return loopback || (b[0]! & 0xfe) === 0xfc || (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80)
}

/** Crawls one host; never throws: what could not be learned is `unknown` in the report and said in the log. */
export const crawlHost = async (target: CrawlTarget, options: CrawlOptions): Promise<CrawlOutcome> => {
  const started = Date.now()
  const log: Array<CrawlLogEntry> = []
  let requests = 0
  const agents = {
    "http:": new http.Agent({ keepAlive: true, maxSockets: options.connectionsPerHost }),
    "https:": new https.Agent({ keepAlive: true, maxSockets: options.connectionsPerHost })
  }
  const deadline = started + options.hostTimeoutMs
  const urls: Array<CrawledUrl> = []
  const refused = new Map<string, string | undefined>()

  /** Why a URL's host may not be crawled (a private address), or undefined. */
  const refusal = async (url: URL): Promise<string | undefined> => {
    if (options.allowPrivateAddresses) return undefined
    if (refused.has(url.hostname)) return refused.get(url.hostname)
    const name = url.hostname.replace(/^\[|\]$/g, "")
    const addresses = await lookup(name, { all: true }).catch(() => [])
    const reason =
      addresses.length === 0
        ? "the name does not resolve"
        : addresses.some((a) => isPrivate(a.address))
          ? "a loopback, private or link-local address is not crawled"
          : undefined
    refused.set(url.hostname, reason)
    return reason
  }

  const once = (url: URL, method: "HEAD" | "GET", headers: Record<string, string>) =>
    new Promise<Answer>((resolve) => {
      const remaining = deadline - Date.now()
      if (remaining <= 0) throw new HostTimedOut()
      const client = url.protocol === "https:" ? https : http
      const request = client.request(
        url,
        {
          method,
          agent: agents[url.protocol as "http:" | "https:"],
          timeout: Math.min(options.requestTimeoutMs, remaining),
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
          const socket = response.socket as import("node:tls").TLSSocket
          const validTo =
            typeof socket.getPeerCertificate === "function" ? socket.getPeerCertificate()?.valid_to : undefined
          const tlsExpiresAt = validTo === undefined ? undefined : Math.floor(Date.parse(validTo) / 1000)
          if (method === "HEAD" || headers.range !== undefined || status < 200 || status >= 300) {
            response.resume()
            response.on("end", () => resolve({ status, headers: response.headers, tlsExpiresAt }))
            response.on("error", () => resolve({ status, headers: response.headers, tlsExpiresAt }))
            return
          }
          const hash = createHash("sha256")
          let bytes = 0
          response.on("data", (chunk: Buffer) => {
            bytes += chunk.length
            if (bytes > options.maxRepomdBytes) {
              response.destroy()
              resolve({ status, headers: response.headers, error: `body over ${options.maxRepomdBytes} bytes` })
              return
            }
            hash.update(chunk)
          })
          response.on("end", () => resolve({ status, headers: response.headers, sha256: hash.digest("hex") }))
          response.on("error", (error) => resolve({ status: 0, headers: {}, error: error.message }))
        }
      )
      request.on("timeout", () => request.destroy(new Error("timed out")))
      request.on("error", (error: NodeJS.ErrnoException) =>
        resolve({
          status: 0,
          headers: {},
          error: error.message,
          tlsInvalid: url.protocol === "https:" && TLS_ERRORS.test(`${error.code ?? ""} ${error.message}`)
        })
      )
      request.end()
    })

  /** A request, redirects followed (at most `maxRedirects`), "later" answers retried with backoff; logged. */
  const ask = async (raw: string, method: "HEAD" | "GET", headers: Record<string, string> = {}): Promise<Answer> => {
    let url = new URL(raw)
    for (let attempt = 0, redirects = 0; ; ) {
      const reason = await refusal(url)
      if (reason !== undefined) {
        log.push({ url: url.href, method, status: 0, result: `refused: ${reason}`, ms: 0 })
        return { status: 0, headers: {}, error: reason, refused: true }
      }
      const began = Date.now()
      requests++
      const answer = await once(url, method, headers)
      const location = answer.headers.location
      if (answer.status >= 300 && answer.status < 400 && location !== undefined) {
        log.push({
          url: url.href,
          method,
          status: answer.status,
          result: `redirect to ${location}`,
          ms: Date.now() - began
        })
        if (++redirects > options.maxRedirects) return { status: 0, headers: {}, error: "too many redirects" }
        url = new URL(location, url)
        continue
      }
      const later = answer.status === 429 || answer.status === 503 || answer.error === "timed out"
      log.push({
        url: url.href,
        method,
        status: answer.status,
        result: answer.error ?? (later ? "later" : "answered"),
        ms: Date.now() - began
      })
      if (!later || attempt >= options.retries) return answer
      attempt++
      const retryAfter = Number(answer.headers["retry-after"])
      const wait = Math.min(10_000, Number.isFinite(retryAfter) ? retryAfter * 1000 : 250 * 2 ** attempt)
      if (Date.now() + wait > deadline) throw new HostTimedOut()
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }

  /** SPEC 7.3: a file's answer as "ok", "stale" or "unknown". */
  const checkFile = async (base: string, file: CrawlFile): Promise<"ok" | "stale" | "unknown"> => {
    const url = `${base}/${encodeURIComponent(file.name)}`
    const answer = await ask(url, "HEAD")
    let status = answer.status
    let size = answer.headers["content-length"] === undefined ? undefined : Number(answer.headers["content-length"])
    if (status === 405 || status === 501) {
      const ranged = await ask(url, "GET", { range: "bytes=0-0" })
      status = ranged.status
      const total = /\/(\d+)\s*$/.exec(String(ranged.headers["content-range"] ?? ""))?.[1]
      size = total === undefined ? undefined : Number(total)
      if (status === 206) status = 200
    }
    if (status >= 200 && status < 300) return size === undefined || size === file.size ? "ok" : "stale"
    if (status === 404 || status === 410 || status === 403) return "stale"
    return "unknown"
  }

  const checkDirectory = async (base: string, directory: CrawlDirectory): Promise<CrawledDirectory> => {
    const url = directory.path === "" ? base : `${base}/${directory.path.split("/").map(encodeURIComponent).join("/")}`
    const verdict = (result: CrawledDirectory["result"], matched: CrawledDirectory["matched"] = null) => ({
      directoryId: directory.directoryId,
      path: directory.path,
      result,
      matched
    })
    let matched: CrawledDirectory["matched"] = null
    for (const file of directory.files) {
      if (file.name === "repomd.xml" && directory.repomd !== undefined) {
        const answer = await ask(`${url}/repomd.xml`, "GET")
        if (answer.status === 404 || answer.status === 410 || answer.status === 403) return verdict("stale")
        // No hash: not a 2xx answer, or a body over the limit.
        if (answer.sha256 === undefined) return verdict("unknown")
        if (answer.sha256 === directory.repomd.newest.toLowerCase()) matched = "newest"
        else if (directory.repomd.alternates.some((a) => a.toLowerCase() === answer.sha256)) matched = "alternate"
        else return verdict("stale")
        continue
      }
      const result = await checkFile(url, file)
      if (result !== "ok") return verdict(result === "stale" ? "stale" : "unknown")
    }
    return verdict("upToDate", matched)
  }

  const crawlCategory = async (category: CrawlCategory): Promise<CrawledCategory> => {
    const skipped = { hostCategoryId: category.hostCategoryId, accessible: false, directories: [] }
    if (category.alwaysUpToDate) return { ...skipped, accessible: true }
    // Base check: every base URL is asked (its families, whether it answers, its certificate); the first that
    // answers (any HTTP answer but 404 and 5xx) is the one the directories are checked through.
    let base: string | undefined
    for (const raw of category.urls) {
      const url = raw.replace(/\/+$/, "")
      const families = await familiesOf(new URL(url))
      const answer = await ask(`${url}/`, "HEAD")
      const refusedHere = answer.refused === true
      const reachable = answer.status >= 200 && answer.status < 500 && answer.status !== 404
      urls.push({
        hostCategoryId: category.hostCategoryId,
        url: raw,
        reachable: refusedHere ? null : reachable,
        ipv4: families?.ipv4 ?? null,
        ipv6: families?.ipv6 ?? null,
        tlsValid:
          !url.startsWith("https:") || refusedHere
            ? null
            : answer.tlsInvalid === true
              ? false
              : reachable
                ? true
                : null,
        tlsExpiresAt: answer.tlsExpiresAt ?? null
      })
      if (reachable && base === undefined) base = url
    }
    if (base === undefined) return skipped
    if (options.mode === "canary") return { ...skipped, accessible: true }
    const wanted = options.targets?.get(category.hostCategoryId)
    const directories = category.directories
      .filter((d) =>
        options.mode === "repodata"
          ? d.path.endsWith("repodata")
          : options.mode === "targeted"
            ? wanted?.has(d.path) === true
            : true
      )
      .toSorted((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    const results: Array<CrawledDirectory> = []
    // As many directories at once as connections to the mirror.
    let next = 0
    const worker = async () => {
      while (next < directories.length) results.push(await checkDirectory(base!, directories[next++]!))
    }
    await Promise.all(Array.from({ length: options.connectionsPerHost }, worker))
    return { hostCategoryId: category.hostCategoryId, accessible: true, directories: results }
  }

  const categories: Array<CrawledCategory> = []
  let status: CrawlReport["status"]
  let reason: string | null = null
  try {
    for (const category of target.categories) categories.push(await crawlCategory(category))
    status = target.categories.length === 0 ? "unknown" : categories.some((c) => c.accessible) ? "ok" : "failure"
    if (status === "failure") {
      const last = log.findLast((entry) => entry.status === 0 || entry.status >= 400)
      reason = `no base URL answered${last === undefined ? "" : ` (last: ${last.url} ${last.status || ""} ${last.result})`}`
    }
  } catch (error) {
    if (!(error instanceof HostTimedOut)) throw error
    status = "timeout"
    reason = "crawl timed out, host likely overloaded"
  } finally {
    agents["http:"].destroy()
    agents["https:"].destroy()
  }
  return {
    report: { mode: options.mode, status, reason, durationMs: Date.now() - started, categories, urls },
    log,
    requests
  }
}
