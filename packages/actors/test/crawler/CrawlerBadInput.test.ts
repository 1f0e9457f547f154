// The crawl of one host (crawlHost, no database) against real HTTP servers on loopback addresses 127.0.0.40-60 that
// misbehave the ways real mirrors do: endless and dripping bodies, redirect loops, lying Content-Length, HTML error
// pages answered 200, ranges ignored, requests never answered, and a bad mirror crawled beside a good one. Each
// crawl must end within a bounded time, give each directory the right result and say why in its log.
import { createHash } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as net from "node:net"
import type { CrawlLogEntry } from "@mirrormanager/domain/host"
import type { DirectoryId, HostCategoryId, HostId } from "@mirrormanager/domain/registry"
import { afterAll, describe, expect, it } from "vitest"
import {
  type CrawlOptions,
  type CrawlOutcome,
  type CrawlTarget,
  crawlHost,
  defaultCrawlOptions
} from "../../src/crawler/Crawler.ts"
import type { CrawlDirectory } from "../../src/crawler/CrawlVerdicts.ts"
import { makeMirrorClient } from "../../src/crawler/MirrorClient.ts"

const options: CrawlOptions = {
  ...defaultCrawlOptions,
  allowPrivateAddresses: true,
  requestTimeoutMs: 1_000,
  // Far longer than any request may take: a crawl that only ends here was not bounded per request.
  hostTimeoutMs: 20_000,
  retries: 1,
  maxRepomdBytes: 64 * 1024,
  maxRedirects: 3
}
/**
 * How long a crawl of one host with one misbehaving file may take: every attempt at the request (1 + retries) ends
 * within requestTimeoutMs, with a backoff between them, plus the base check. Well below hostTimeoutMs.
 */
const BOUND_MS = 6_000
/** Per test: longer than hostTimeoutMs, so a crawl that hangs until the host's time runs out fails an assertion. */
const TEST_TIMEOUT_MS = 30_000

const REPOMD = '<?xml version="1.0" encoding="UTF-8"?>\n<repomd><revision>1700000000</revision></repomd>\n'
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

const repodata: CrawlDirectory = {
  directoryId: 1 as DirectoryId,
  path: "repodata",
  files: [{ name: "repomd.xml", size: Buffer.byteLength(REPOMD) }],
  repomd: { newest: { sha256: sha256(REPOMD), timestamp: 1_700_000_000 }, alternates: [] }
}
const packages = (size = 5): CrawlDirectory => ({
  directoryId: 2 as DirectoryId,
  path: "Packages",
  files: [{ name: "a.rpm", size }],
  repomd: undefined
})

let hosts = 0
const target = (base: string, directories: ReadonlyArray<CrawlDirectory>): CrawlTarget => {
  const hostId = (4_000 + ++hosts) as HostId
  return {
    hostId,
    categories: [
      { hostCategoryId: hostId as number as HostCategoryId, alwaysUpToDate: false, urls: [base], directories }
    ]
  }
}

const servers: Array<http.Server | net.Server> = []
const sockets = new Set<net.Socket>()
/** This file's connections to its mirrors. */
const mirrors = makeMirrorClient()
afterAll(async () => {
  mirrors.close()
  for (const socket of sockets) socket.destroy()
  await Promise.all(
    servers.map((server) => {
      if (server instanceof http.Server) server.closeAllConnections()
      return new Promise((resolve) => server.close(resolve))
    })
  )
})

const listen = (server: http.Server | net.Server, n: number) =>
  new Promise<number>((resolve, reject) => {
    if (n < 40 || n > 60) throw new Error(`127.0.0.${n} is not this file's (40-60)`)
    servers.push(server)
    server.on("connection", (socket: net.Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.once("error", reject)
    server.listen(0, `127.0.0.${n}`, () => resolve((server.address() as AddressInfo).port))
  })

/**
 * A mirror on 127.0.0.<n> whose category lives under /pub: the base URL (`/pub/`) answers 200; any other path is
 * `handle`d, or else served from the fresh tree (repodata/repomd.xml, Packages/a.rpm of 5 bytes), or 404.
 */
const mirror = async (
  n: number,
  handle: (path: string, request: http.IncomingMessage, response: http.ServerResponse) => boolean = () => false
) => {
  const fresh: Record<string, string> = { "/pub/repodata/repomd.xml": REPOMD, "/pub/Packages/a.rpm": "aaaaa" }
  const server = http.createServer((request, response) => {
    const path = decodeURIComponent((request.url ?? "/").split("?")[0]!)
    if (path.endsWith("/")) {
      response.writeHead(200, { "content-type": "text/html" }).end("<html>index</html>")
      return
    }
    if (handle(path, request, response)) return
    const body = fresh[path]
    if (body === undefined) {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, { "content-length": Buffer.byteLength(body) })
    response.end(request.method === "HEAD" ? undefined : body)
  })
  return `http://127.0.0.${n}:${await listen(server, n)}/pub`
}

/** A server that accepts TCP connections and never says anything. */
const silent = async (n: number) => `http://127.0.0.${n}:${await listen(net.createServer(), n)}/pub`

/** Writes `chunk` for as long as the client reads (a body without end). */
const endless = (response: http.ServerResponse, chunk: Buffer) => {
  const pump = () => {
    while (!response.destroyed && !response.writableEnded && response.write(chunk)) {
      // Until the socket's buffer is full.
    }
    if (!response.destroyed) response.once("drain", pump)
  }
  pump()
}

/** One byte every `everyMs`, forever (the socket is never idle long). */
const drip = (response: http.ServerResponse, everyMs: number) => {
  const timer = setInterval(() => {
    if (response.destroyed) clearInterval(timer)
    else response.write("<")
  }, everyMs)
  response.on("close", () => clearInterval(timer))
}

/** The crawl, failing the test (rather than hanging it) when it does not end within `bound` ms. */
const crawl = async (
  crawlTarget: CrawlTarget,
  bound = BOUND_MS,
  crawlOptions: CrawlOptions = options
): Promise<CrawlOutcome & { readonly elapsed: number }> => {
  const began = Date.now()
  let timer: NodeJS.Timeout | undefined
  const outOfTime = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the crawl did not end within ${bound} ms`)), bound)
  })
  try {
    const outcome = await Promise.race([crawlHost(mirrors, crawlTarget, crawlOptions), outOfTime])
    return { ...outcome, elapsed: Date.now() - began }
  } finally {
    clearTimeout(timer)
  }
}

/** The directory results of the crawl's only category, by path; the host crawled to the end, its base URL served. */
const results = (outcome: CrawlOutcome) => {
  const described = JSON.stringify({ status: outcome.report.status, reason: outcome.report.reason, log: outcome.log })
  expect(outcome.report.status, described).toBe("ok")
  const [category] = outcome.report.categories
  expect(category?.accessible, described).toBe(true)
  return Object.fromEntries(category!.directories.map((d) => [d.path, d.result]))
}

/** The log entries of requests whose URL ends in `suffix`. */
const entries = (log: ReadonlyArray<CrawlLogEntry>, suffix: string, method?: "HEAD" | "GET") =>
  log.filter((e) => new URL(e.url).pathname.endsWith(suffix) && (method === undefined || e.method === method))

describe("crawlHost against misbehaving mirrors", () => {
  it("a fresh mirror is up to date (the servers here work)", { timeout: TEST_TIMEOUT_MS }, async () => {
    const base = await mirror(40)
    const outcome = await crawl(target(base, [repodata, packages()]))
    expect(results(outcome)).toEqual({ repodata: "upToDate", Packages: "upToDate" })
    expect(outcome.report.categories[0]!.directories.find((d) => d.path === "repodata")?.matched).toBe("newest")
  })

  it("1. an endless repomd.xml stops at maxRepomdBytes: unknown", { timeout: TEST_TIMEOUT_MS }, async () => {
    const chunk = Buffer.alloc(16 * 1024, "x")
    const base = await mirror(41, (path, request, response) => {
      if (path !== "/pub/repodata/repomd.xml" || request.method !== "GET") return false
      response.writeHead(200, { "content-type": "application/xml" })
      endless(response, chunk)
      return true
    })
    const outcome = await crawl(target(base, [repodata]))
    expect(results(outcome)).toEqual({ repodata: "unknown" })
    const gets = entries(outcome.log, "/repodata/repomd.xml", "GET")
    expect(gets.length, JSON.stringify(outcome.log)).toBeGreaterThan(0)
    expect(gets[0]!.status).toBe(200)
    // Cut at the byte limit, not by a timeout: the log says so.
    expect(gets[0]!.result).toMatch(/over|limit|too large/i)
    expect(gets[0]!.result).not.toMatch(/timed out/)
    expect(gets[0]!.ms).toBeLessThan(options.requestTimeoutMs)
  })

  it("2. a repomd.xml dripping one byte every 300 ms ends by requestTimeoutMs: unknown", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    const base = await mirror(42, (path, request, response) => {
      if (path !== "/pub/repodata/repomd.xml" || request.method !== "GET") return false
      response.writeHead(200, { "content-type": "application/xml" })
      response.write("<")
      drip(response, 300)
      return true
    })
    const outcome = await crawl(target(base, [repodata]))
    expect(results(outcome)).toEqual({ repodata: "unknown" })
    const gets = entries(outcome.log, "/repodata/repomd.xml", "GET")
    expect(gets.length, JSON.stringify(outcome.log)).toBeGreaterThan(0)
    for (const get of gets) {
      expect(get.result).toMatch(/timed out/)
      // The whole request within the limit, not only while idle (a little slack for timers).
      expect(get.ms).toBeLessThan(options.requestTimeoutMs + 500)
    }
    expect(outcome.elapsed).toBeLessThan(BOUND_MS)
  })

  it("3a. a file whose HEAD redirects to itself: stops after maxRedirects, unknown", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    const base = await mirror(43, (path, _request, response) => {
      if (path !== "/pub/Packages/a.rpm") return false
      response.writeHead(302, { location: "/pub/Packages/a.rpm" }).end()
      return true
    })
    const outcome = await crawl(target(base, [packages()]))
    expect(results(outcome)).toEqual({ Packages: "unknown" })
    const asked = entries(outcome.log, "/Packages/a.rpm")
    const redirects = asked.filter((e) => e.status === 302 && /redirect/.test(e.result))
    // At most maxRedirects followed: at most maxRedirects + 1 requests answered 302.
    expect(redirects.length).toBeGreaterThan(0)
    expect(redirects.length).toBeLessThanOrEqual(options.maxRedirects + 1)
    expect(
      asked.some((e) => /too many redirects/.test(e.result)),
      JSON.stringify(asked)
    ).toBe(true)
    expect(outcome.requests).toBeLessThanOrEqual(1 + options.maxRedirects + 1)
  })

  it("3b. repomd.xml redirecting A → B → A: stops after maxRedirects, unknown", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    const base = await mirror(44, (path, _request, response) => {
      const to = { "/pub/repodata/repomd.xml": "/pub/elsewhere/repomd.xml", "/pub/elsewhere/repomd.xml": "" }[path]
      if (to === undefined) return false
      response.writeHead(301, { location: to === "" ? "/pub/repodata/repomd.xml" : to }).end("<html>moved</html>")
      return true
    })
    const outcome = await crawl(target(base, [repodata]))
    expect(results(outcome)).toEqual({ repodata: "unknown" })
    const redirects = outcome.log.filter((e) => e.method === "GET" && e.status === 301 && /redirect/.test(e.result))
    expect(redirects.length).toBeGreaterThan(0)
    expect(redirects.length).toBeLessThanOrEqual(options.maxRedirects + 1)
    // Both ends of the loop were asked.
    expect(redirects.some((e) => e.url.includes("/elsewhere/"))).toBe(true)
    expect(redirects.some((e) => e.url.includes("/repodata/"))).toBe(true)
    expect(
      outcome.log.some((e) => /too many redirects/.test(e.result)),
      JSON.stringify(outcome.log)
    ).toBe(true)
  })

  it("4a. a HEAD announcing a Content-Length other than the master's size: stale", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    const base = await mirror(45, (path, request, response) => {
      if (path !== "/pub/Packages/a.rpm" || request.method !== "HEAD") return false
      response.writeHead(200, { "content-length": 999 }).end()
      return true
    })
    const outcome = await crawl(target(base, [packages(5)]))
    expect(results(outcome)).toEqual({ Packages: "stale" })
    const heads = entries(outcome.log, "/Packages/a.rpm", "HEAD")
    expect(heads.map((e) => e.status)).toEqual([200])
    // The log says why.
    expect(heads[0]!.result).toMatch(/stale: size 999, the master's 5/)
  })

  it("4b. a repomd.xml GET announcing more bytes than sent, then closing: not accepted, the crawl ends", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    const base = await mirror(46, (path, request, response) => {
      if (path !== "/pub/repodata/repomd.xml" || request.method !== "GET") return false
      // Exactly the right repomd.xml, but announced as longer: a body cut short that would hash as the newest.
      response.writeHead(200, { "content-length": Buffer.byteLength(REPOMD) + 100 })
      response.write(REPOMD, () => setTimeout(() => response.socket?.end(), 20))
      return true
    })
    const outcome = await crawl(target(base, [repodata]))
    const result = results(outcome).repodata
    expect(["unknown", "stale"]).toContain(result)
    const gets = entries(outcome.log, "/repodata/repomd.xml", "GET")
    expect(gets.length, JSON.stringify(outcome.log)).toBeGreaterThan(0)
    expect(gets[0]!.result).toMatch(/closed|short|announced|incomplete|aborted/i)
    expect(gets[0]!.ms).toBeLessThan(options.requestTimeoutMs)
  })

  it("4c. a repomd.xml GET announcing more bytes than sent, then stalling: ends by requestTimeoutMs, unknown", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    const base = await mirror(47, (path, request, response) => {
      if (path !== "/pub/repodata/repomd.xml" || request.method !== "GET") return false
      response.writeHead(200, { "content-length": Buffer.byteLength(REPOMD) + 100 })
      response.write(REPOMD)
      return true
    })
    const outcome = await crawl(target(base, [repodata]))
    expect(results(outcome)).toEqual({ repodata: "unknown" })
    const gets = entries(outcome.log, "/repodata/repomd.xml", "GET")
    expect(gets.length, JSON.stringify(outcome.log)).toBeGreaterThan(0)
    for (const get of gets) expect(get.result).toMatch(/timed out/)
    expect(outcome.elapsed).toBeLessThan(BOUND_MS)
  })

  it("5. an HTML error page answered 200 in place of repomd.xml: stale", { timeout: TEST_TIMEOUT_MS }, async () => {
    const page = "<html><body><h1>Not found</h1></body></html>\n"
    const base = await mirror(48, (path, _request, response) => {
      if (path !== "/pub/repodata/repomd.xml") return false
      response.writeHead(200, { "content-type": "text/html", "content-length": Buffer.byteLength(page) }).end(page)
      return true
    })
    const outcome = await crawl(target(base, [repodata]))
    expect(results(outcome)).toEqual({ repodata: "stale" })
    const gets = entries(outcome.log, "/repodata/repomd.xml", "GET")
    expect(gets.map((e) => e.status)).toEqual([200])
    expect(gets[0]!.result).toMatch(/stale: sha256 .* matches no retained repomd.xml/)
  })

  it("6a. HEAD 405, then a ranged GET answered 200 with the whole (endless) file: ends bounded, the size counts", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    const size = 50 * 1024 * 1024
    const chunk = Buffer.alloc(16 * 1024, "r")
    const base = await mirror(49, (path, request, response) => {
      if (path !== "/pub/Packages/a.rpm") return false
      if (request.method === "HEAD") {
        response.writeHead(405).end()
        return true
      }
      // Range ignored: the whole 50 MiB file, as fast as the crawler reads.
      response.writeHead(200, { "content-length": size })
      endless(response, chunk)
      return true
    })
    const outcome = await crawl(target(base, [packages(size)]))
    // 200 says the file is there, Content-Length says its size is the master's.
    expect(results(outcome)).toEqual({ Packages: "upToDate" })
    const asked = entries(outcome.log, "/Packages/a.rpm")
    expect(asked.map((e) => `${e.method} ${e.status}`)).toEqual(["HEAD 405", "GET 200"])
    // The body was not read to its end (nor until a timeout).
    expect(asked[1]!.ms).toBeLessThan(options.requestTimeoutMs)
  })

  it("6b. HEAD 405, then a ranged GET answered 200 with an endless body of no length: ends bounded, stale", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    const chunk = Buffer.alloc(16 * 1024, "r")
    const base = await mirror(50, (path, request, response) => {
      if (path !== "/pub/Packages/a.rpm") return false
      if (request.method === "HEAD") {
        response.writeHead(405).end()
        return true
      }
      response.writeHead(200, { "content-type": "application/octet-stream" })
      endless(response, chunk)
      return true
    })
    const outcome = await crawl(target(base, [packages(5)]))
    // More than 64 KiB of a 5-byte file: not the master's file.
    expect(results(outcome)).toEqual({ Packages: "stale" })
    const asked = entries(outcome.log, "/Packages/a.rpm")
    expect(asked.map((e) => `${e.method} ${e.status}`)).toEqual(["HEAD 405", "GET 200"])
    expect(asked[1]!.ms).toBeLessThan(options.requestTimeoutMs)
  })

  it("8. a file request never answered times out (requestTimeoutMs): unknown", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    const base = await mirror(51, (path) => path === "/pub/Packages/a.rpm")
    const outcome = await crawl(target(base, [packages()]))
    expect(results(outcome)).toEqual({ Packages: "unknown" })
    const heads = entries(outcome.log, "/Packages/a.rpm", "HEAD")
    expect(heads.length, JSON.stringify(outcome.log)).toBe(1 + options.retries)
    for (const head of heads) {
      expect(head.status).toBe(0)
      expect(head.result).toMatch(/timed out/)
      expect(head.ms).toBeLessThan(options.requestTimeoutMs + 500)
    }
    expect(outcome.elapsed).toBeLessThan(BOUND_MS)
  })

  it("8b. a server that accepts TCP and never answers: the base URL times out, the crawl fails", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    const base = await silent(52)
    const outcome = await crawl(target(base, [repodata, packages()]))
    expect(outcome.report.status).toBe("failure")
    expect(outcome.report.categories[0]).toMatchObject({ accessible: false, directories: [] })
    expect(outcome.log.length).toBeGreaterThan(0)
    for (const entry of outcome.log) {
      expect(entry).toMatchObject({ method: "HEAD", status: 0 })
      expect(entry.result).toMatch(/timed out/)
    }
    expect(outcome.report.reason).toMatch(/timed out/)
    expect(outcome.elapsed).toBeLessThan(BOUND_MS)
  })

  it("9. a mirror that never answers does not hold up the crawl of another host", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    const bad = await silent(53)
    const good = await mirror(54)
    const began = Date.now()
    let badEnded: number | undefined
    let goodEnded: number | undefined
    let badEndedBeforeGood: boolean | undefined
    const [badOutcome, goodOutcome] = await Promise.all([
      crawl(target(bad, [repodata, packages()])).finally(() => {
        badEnded = Date.now() - began
      }),
      crawl(target(good, [repodata, packages()])).finally(() => {
        goodEnded = Date.now() - began
        badEndedBeforeGood = badEnded !== undefined
      })
    ])
    expect(results(goodOutcome)).toEqual({ repodata: "upToDate", Packages: "upToDate" })
    // The good host's crawl ended while the bad one's first request was still waiting for its time limit.
    expect(badEndedBeforeGood).toBe(false)
    expect(goodEnded).toBeLessThan(options.requestTimeoutMs)
    expect(goodOutcome.log.every((e) => e.status === 200)).toBe(true)
    // And the bad one ended too, bounded, saying why.
    expect(badOutcome.report.status).toBe("failure")
    expect(badOutcome.log.some((e) => /timed out/.test(e.result))).toBe(true)
    expect(badEnded).toBeLessThan(BOUND_MS)
  })

  it("3c. a base URL redirecting to ftp:// or to a URL that does not parse: the mirror's failure, not ours", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    for (const [n, location] of [
      [55, "ftp://ftp.example.org/pub/"],
      [56, "http://["]
    ] as const) {
      const server = http.createServer((_request, response) => response.writeHead(302, { location }).end())
      const base = `http://127.0.0.${n}:${await listen(server, n)}/pub`
      const outcome = await crawl(target(base, [packages()]))
      expect(outcome.report.status, JSON.stringify(outcome.log)).toBe("failure")
      expect(outcome.report.urls[0]?.reachable).toBe(false)
      expect(outcome.log.some((e) => /redirect to a URL that is not http\(s\)/.test(e.result))).toBe(true)
    }
  })

  it("10. a request cut short by the crawl run's deadline is not held against the mirror", {
    timeout: TEST_TIMEOUT_MS
  }, async () => {
    // The base URL answers after 800 ms; the run ends in 300 ms, during its only attempt.
    const server = http.createServer((_request, response) => {
      setTimeout(() => response.writeHead(200).end(), 800)
    })
    const base = `http://127.0.0.57:${await listen(server, 57)}/pub`
    const outcome = await crawl(target(base, [packages()]), BOUND_MS, {
      ...options,
      retries: 0,
      runDeadline: Date.now() + 300
    })
    expect(outcome.report.status).toBe("unknown")
    expect(outcome.report.reason).toMatch(/run's time ran out/)
    // Nothing learned of the URL either: not "does not answer".
    expect(outcome.report.urls).toEqual([])
  })
})
