// Waiting for a node's readiness probe: until its status is one waited for, and no longer than the deadline or than
// the caller's reason to give up.
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, assert, describe, it } from "vitest"
import { waitUntilReady } from "../../src/node/WaitUntilReady.ts"
import { freePort } from "../support/Process.ts"

const servers: Array<http.Server> = []
afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))))

/** A /healthz/ready answering `answers` in turn (the last one from then on); its URL and the requests it had. */
const probe = async (answers: ReadonlyArray<{ readonly code: number; readonly status: string }>) => {
  let requests = 0
  const server = http.createServer((request, response) => {
    const answer = answers[Math.min(requests++, answers.length - 1)]!
    if (request.url !== "/healthz/ready") return void response.writeHead(404).end()
    response
      .writeHead(answer.code, { "content-type": "application/json" })
      .end(JSON.stringify({ status: answer.status }))
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests }
}

describe("waitUntilReady", () => {
  it("waits while the node starts, until it says ready", async () => {
    const node = await probe([
      { code: 503, status: "starting" },
      { code: 503, status: "starting" },
      { code: 200, status: "ready" }
    ])
    assert.isTrue(await waitUntilReady(node.url, Date.now() + 60_000))
    assert.strictEqual(node.requests(), 3)
  })

  it("takes degraded only when asked to", async () => {
    const node = await probe([{ code: 200, status: "degraded" }])
    assert.isTrue(await waitUntilReady(node.url, Date.now() + 60_000, { accept: ["degraded"] }))
    assert.isFalse(await waitUntilReady(node.url, Date.now() + 600))
  })

  it("gives up when the caller says so, and at the deadline when nothing answers", async () => {
    const node = await probe([{ code: 503, status: "starting" }])
    assert.isFalse(await waitUntilReady(node.url, Date.now() + 60_000, { giveUp: () => node.requests() >= 2 }))
    assert.strictEqual(node.requests(), 2)
    assert.isFalse(await waitUntilReady(`http://127.0.0.1:${await freePort()}`, Date.now() + 600))
  })
})
