// Two nodes in one process (as in tests) each build their own MirrorClient and CrawlMetrics from the layers: one
// node's connections to a mirror, its resolver's memory and its crawl counters are not the other's. A mirror on
// 127.0.0.62, its name resolved by the test.

import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { DirectoryId, HostCategoryId, HostId } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { type CrawlOptions, type CrawlTarget, crawlHost, defaultCrawlOptions } from "../../src/crawler/Crawler.ts"
import { CrawlerStateLayer } from "../../src/crawler/CrawlerState.ts"
import { CrawlMetrics } from "../../src/crawler/CrawlMetrics.ts"
import { MirrorClient, type ResolvedAddress } from "../../src/crawler/MirrorClient.ts"

const server = http.createServer((request, response) => {
  response.writeHead(200, { "content-length": 5 })
  response.end(request.method === "HEAD" ? undefined : "12345")
})
server.keepAliveTimeout = 30_000
afterAll(
  () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(resolve)
    })
)
const port = new Promise<number>((resolve) =>
  server.listen(0, "127.0.0.62", () => resolve((server.address() as AddressInfo).port))
)

/** One resolver for both nodes: it knows the mirror's name, and fails on any other as if it were down. */
const resolve = async (name: string): Promise<ReadonlyArray<ResolvedAddress>> => {
  if (name === "mirror.test") return [{ address: "127.0.0.62", family: 4 }]
  const error: NodeJS.ErrnoException = new Error(`getaddrinfo EAI_AGAIN ${name}`)
  error.code = "EAI_AGAIN"
  throw error
}

const options: CrawlOptions = {
  ...defaultCrawlOptions,
  allowPrivateAddresses: true,
  requestTimeoutMs: 1_000,
  retries: 0,
  resolve
}

const target = (url: string): CrawlTarget => ({
  hostId: HostId.make(1),
  categories: [
    {
      hostCategoryId: HostCategoryId.make(1),
      alwaysUpToDate: false,
      urls: [url],
      directories: [
        { directoryId: DirectoryId.make(1), path: "", files: [{ name: "a.rpm", size: 5 }], repomd: undefined }
      ]
    }
  ]
})

/** A node's crawler state, as its layers build it. */
const node = Effect.map(Layer.build(CrawlerStateLayer), (context) => ({
  mirrors: Context.get(context, MirrorClient),
  metrics: Context.get(context, CrawlMetrics)
}))

describe("each node's crawler state", () => {
  it.live("connections to mirrors: kept by the node that made them", () =>
    Effect.gen(function* () {
      const a = yield* node
      const b = yield* node
      const url = `http://mirror.test:${yield* Effect.promise(() => port)}/pub`
      const outcome = yield* Effect.promise(() => crawlHost(a.mirrors, target(url), options))
      assert.strictEqual(outcome.report.status, "ok")
      // The connection goes back to a's pool as its last answer ends.
      for (let i = 0; i < 100 && a.mirrors.idleConnections() === 0; i++) yield* Effect.sleep("10 millis")
      assert.isAbove(a.mirrors.idleConnections(), 0)
      assert.strictEqual(b.mirrors.idleConnections(), 0)
    }).pipe(Effect.scoped)
  )

  it.live("the resolver's memory: a name it answered lately is a control for one node only", () =>
    Effect.gen(function* () {
      const a = yield* node
      const b = yield* node
      const p = yield* Effect.promise(() => port)
      const down = target(`http://resolver-down.test:${p}/pub`)
      // a's resolver answered a name just now: its failing on another is that name's fault.
      yield* Effect.promise(() => crawlHost(a.mirrors, target(`http://mirror.test:${p}/pub`), options))
      const onA = yield* Effect.promise(() => crawlHost(a.mirrors, down, options))
      assert.strictEqual(onA.report.status, "failure")
      // b's has answered nothing yet: the failure may be b's own resolver, so nothing is known of the mirror.
      const onB = yield* Effect.promise(() => crawlHost(b.mirrors, down, options))
      assert.strictEqual(onB.report.status, "unknown")
      assert.match(onB.report.reason ?? "", /^could not check from here .*EAI_AGAIN/)
    }).pipe(Effect.scoped)
  )

  it.effect("crawl counters: counted by the node whose entity crawled", () =>
    Effect.gen(function* () {
      const a = yield* node
      const b = yield* node
      a.metrics.crawled("full", "ok", 7, { usable: 1, notUsable: 0, unknown: 0 })
      a.metrics.switchedOff++
      assert.deepStrictEqual(a.metrics.crawlCounts(), [['mode="full",status="ok"', 1]])
      assert.deepStrictEqual(
        [b.metrics.crawlCounts(), b.metrics.requests, b.metrics.switchedOff, b.metrics.baseUrls],
        [[], 0, 0, { usable: 0, notUsable: 0, unknown: 0 }]
      )
    }).pipe(Effect.scoped)
  )
})
