// The node's HTTP server closes connections that idle (kept alive between requests, or never sending a request)
// and refuses connections beyond its bound, so idle clients cannot hold the node's sockets.
import * as http from "node:http"
import * as net from "node:net"
import { afterAll, assert, describe, it } from "vitest"
import { FrontHttpServer } from "../../src/front/FrontServer.ts"

const server = new FrontHttpServer(
  (request, response) => {
    if (request.url !== "/hello") return false
    response.end("hello")
    return true
  },
  { keepAliveTimeoutMs: 300, headersTimeoutMs: 600, requestTimeoutMs: 1_000, maxConnections: 4 }
)
const port = new Promise<number>((resolve) =>
  server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port))
)
afterAll(() => {
  server.closeAllConnections()
  server.close()
})

/** A connection that sends `text` (or nothing); resolves with what it received once the server closed it. */
const connection = (text?: string) =>
  port.then(
    (p) =>
      new Promise<{ readonly received: string; readonly socket: net.Socket; readonly closed: Promise<string> }>(
        (resolve) => {
          const socket = net.connect(p, "127.0.0.1")
          let received = ""
          socket.setEncoding("utf8")
          socket.on("data", (chunk) => (received += chunk))
          socket.on("error", () => {})
          const closed = new Promise<string>((done) => socket.on("close", () => done(received)))
          socket.on("connect", () => {
            if (text !== undefined) socket.write(text)
            resolve({ received, socket, closed })
          })
        }
      )
  )

describe("the node's HTTP connections", () => {
  it("closes a connection that never sends a request, and one idle after its request", async () => {
    const silent = await connection()
    const partial = await connection("GET /hello HTTP/1.1\r\nHost: x\r\n")
    const kept = await connection("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    // Each is closed by the server (the test would time out otherwise): no bytes ever, half a header, kept alive.
    assert.match(await silent.closed, /^(HTTP\/1\.1 408 Request Timeout\r\n|$)/)
    assert.match(await partial.closed, /^(HTTP\/1\.1 408|$)/)
    const answer = await kept.closed
    assert.match(answer, /^HTTP\/1\.1 200 OK/)
    assert.match(answer, /keep-alive/i)
    assert.match(answer, /hello$/)
  }, 30_000)

  it("refuses connections beyond its bound and serves again once they are gone", async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => connection()))
    // Accepted connections are counted once the server has seen them.
    await new Promise<void>((resolve) => {
      const poll = () => server.getConnections((_, count) => (count >= 4 ? resolve() : setTimeout(poll, 20)))
      poll()
    })
    const refused = await connection("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert.strictEqual(await refused.closed, "", "the fifth connection is closed without an answer")
    for (const c of held) c.socket.destroy()
    await Promise.all(held.map((c) => c.closed))
    const p = await port
    const text = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: p, path: "/hello", agent: false }, (response) => {
          let body = ""
          response.on("data", (chunk) => (body += chunk))
          response.on("end", () => resolve(body))
        })
        .on("error", reject)
    })
    assert.strictEqual(text, "hello")
  }, 30_000)
})
