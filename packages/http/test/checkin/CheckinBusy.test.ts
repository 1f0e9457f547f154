// A node with more check-ins waiting to be read than its queue holds (docs/checkin.md#decoding): the one too many
// gets the XML-RPC fault "server busy, try again later", as Python's xmlrpc.client reads it; the others are read.
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { RegistryLayer } from "@mirrormanager/actors"
import { Checkins } from "@mirrormanager/actors/checkin"
import { CrawlerStateLayer } from "@mirrormanager/actors/crawler"
import { HostEntityLayer } from "@mirrormanager/actors/host"
import { freshDatabaseLayer, SingleRunnerLayer } from "@mirrormanager/actors/testing"
import { CheckinReplies, XmlRpcFaultCodes } from "@mirrormanager/domain/checkin"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { inject } from "vitest"
import { CHECKIN_DECODER_OPTIONS } from "../../src/checkin/CheckinDecoder.ts"
import { xmlRpcRoute } from "../../src/checkin/XmlRpcRoute.ts"
import { checkinPayload, methodCallBody, readResponseAsPython } from "../support/CheckinWire.ts"

/** `POST /xmlrpc` alone, read by one worker with room for one check-in waiting. */
const BusyNodeLayer = HttpRouter.serve(xmlRpcRoute({ ...CHECKIN_DECODER_OPTIONS, workers: 1, queued: 1 }), {
  disableLogger: true,
  disableListenLog: true
}).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provide(
    Layer.mergeAll(HostEntityLayer, Checkins.layer()).pipe(
      Layer.provide(CrawlerStateLayer),
      Layer.provideMerge(SingleRunnerLayer)
    )
  ),
  Layer.provide(RegistryLayer),
  Layer.provide(freshDatabaseLayer(inject("databaseUrl")))
)

layer(BusyNodeLayer, { excludeTestServices: true })("a node busy reading check-ins", (it) => {
  it.effect("answers the one too many with the fault 'server busy, try again later'", () =>
    Effect.gen(function* () {
      const server = yield* HttpServer.HttpServer
      if (server.address._tag === "UnixPathAddress") return yield* Effect.die("expected a TCP address")
      const url = `http://127.0.0.1:${server.address.port}/xmlrpc`
      // Each takes the worker a good part of a second: the three arrive while the first is read.
      const dirtree: Record<string, object> = {}
      for (let i = 0; i < 50_000; i++) dirtree[`releases/${i % 40}/Everything/x86_64/os/d${i}`] = {}
      const body = methodCallBody("checkin", [
        checkinPayload({
          version: 0,
          global: { enabled: "1", server: url },
          site: { enabled: "1", name: "no such site", password: "no such password" },
          host: { enabled: "1", name: "mirror.example.org" },
          stats: {},
          "fedora linux": { enabled: "1", dirtree }
        })
      ])
      const replies = yield* Effect.promise(() =>
        Promise.all(
          [0, 1, 2].map(async () => {
            const response = await fetch(url, { method: "POST", headers: { "content-type": "text/xml" }, body })
            assert.strictEqual(response.status, 200)
            return readResponseAsPython(await response.text())
          })
        )
      )
      const busy = replies.filter((reply) => reply.fault !== undefined)
      assert.deepStrictEqual(busy, [{ fault: [XmlRpcFaultCodes.serverBusy, "server busy, try again later"] }])
      // The two read were checked in as usual (and refused: the site does not exist).
      assert.deepStrictEqual(
        replies.filter((reply) => reply.fault === undefined),
        [{ value: CheckinReplies.badCredentials }, { value: CheckinReplies.badCredentials }]
      )
    })
  )
})
