// A node behind a reverse proxy (a real HTTP proxy on loopback adding X-Forwarded-For, as nginx does): with the proxy
// in MM_TRUSTED_PROXIES, check-ins are limited by the client's address, not the proxy's (ten wrong passwords from one
// client do not block every site's check-ins), and the access log and the admin API's log name the client. Clients
// come from different loopback addresses (127.0.0.2, 127.0.0.3, ...), as different hosts would.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { call, newDatabase, TOKEN } from "../support/Nodes.ts"
import { startNode, tempDir } from "../support/Process.ts"

const CHECKIN_WIRE = path.resolve(import.meta.dirname, "../../../../test-support/checkin_wire.py")
const wire = (command: string, input: unknown) => {
  const run = spawnSync("python3", [CHECKIN_WIRE, command], { input: JSON.stringify(input) })
  if (run.status !== 0) throw new Error(`checkin_wire.py ${command}: ${run.stderr}`)
  return run.stdout.toString("utf8")
}

/** A report_mirror check-in body (XML-RPC, as xmlrpc.client writes it) for a site and host. */
const checkinBody = (site: string, password: string, host: string) =>
  wire("call", {
    method: "checkin",
    params: [
      wire("payload", {
        version: 0,
        global: { enabled: "1", server: "http://mirrors.example/xmlrpc" },
        site: { enabled: "1", name: site, password },
        host: { enabled: "1", name: host },
        stats: {}
      })
    ]
  })

/** A request from `localAddress` (a loopback address of its own) to `url`. */
const send = (
  url: string,
  localAddress: string,
  options: { method?: string; path: string; body?: string; headers?: Record<string, string> }
) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = http.request(
      `${url}${options.path}`,
      { method: options.method ?? "GET", localAddress, headers: options.headers ?? {}, agent: false },
      (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk) => (text += chunk))
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }))
      }
    )
    request.on("error", reject)
    request.end(options.body)
  })

/** A reverse proxy as nginx's `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for` makes one. */
const startProxy = (upstream: string) =>
  new Promise<http.Server>((resolve) => {
    const target = new URL(upstream)
    const proxy = http.createServer((request, response) => {
      const before = request.headers["x-forwarded-for"]
      const forwarded = [before, request.socket.remoteAddress].filter((v) => v !== undefined).join(", ")
      const out = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: request.method,
          path: request.url,
          headers: { ...request.headers, "x-forwarded-for": forwarded },
          agent: false
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(response)
        }
      )
      out.on("error", () => {
        response.writeHead(502)
        response.end()
      })
      request.pipe(out)
    })
    proxy.listen(0, "127.0.0.1", () => resolve(proxy))
  })

let proxy: http.Server | undefined
afterAll(() => proxy?.close())

const SITE_PASSWORD = "site-password-123456"

describe("a node behind a reverse proxy", () => {
  it("limits check-ins, logs requests and writes the access log by the client's address", async () => {
    const dir = tempDir()
    const accessLog = path.join(dir, "access.log")
    const node = await startNode({
      DATABASE_URL: await newDatabase(),
      MM_DATA_DIR: dir,
      MM_ADMIN_TOKEN: TOKEN,
      MM_TRUSTED_PROXIES: "127.0.0.1/32",
      MM_ACCESS_LOG: accessLog
    })
    proxy = await startProxy(node.url)
    const front = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    await call(node, "POST", "/api/sites", { name: "Attacked", password: SITE_PASSWORD })
    await call(node, "POST", "/api/sites", { name: "Innocent", password: SITE_PASSWORD })
    const checkIn = (from: string, site: string, password: string, url = front, headers = {}) =>
      send(url, from, {
        method: "POST",
        path: "/xmlrpc",
        body: checkinBody(site, password, "no-such-host.example"),
        headers: { "content-type": "text/xml", ...headers }
      }).then((reply) => reply.text)

    // Ten wrong passwords from one client behind the proxy.
    for (let i = 0; i < 10; i++) {
      assert.include(await checkIn("127.0.0.2", "Attacked", "wrong-password"), "site name or password incorrect")
    }
    // That client is refused even with a right password; another client behind the same proxy is not (the reply
    // about the unknown host comes only after the password was accepted).
    assert.include(await checkIn("127.0.0.2", "Innocent", SITE_PASSWORD), "site name or password incorrect")
    assert.include(await checkIn("127.0.0.3", "Innocent", SITE_PASSWORD), "host name for site not found")
    // A client talking to the node directly cannot name another address: its X-Forwarded-For is not believed.
    assert.include(
      await checkIn("127.0.0.4", "Innocent", SITE_PASSWORD, node.url, { "x-forwarded-for": "127.0.0.2" }),
      "host name for site not found"
    )
    assert.match(node.output(), /check-in with a wrong site name or password.*address=127\.0\.0\.2/)
    assert.notMatch(node.output(), /check-in with a wrong site name or password.*address=127\.0\.0\.1\b/)

    // The admin API's request log names the client.
    const sites = await send(front, "127.0.0.5", { path: "/api/sites", headers: { authorization: `Bearer ${TOKEN}` } })
    assert.strictEqual(sites.status, 200, sites.text)
    const direct = await send(node.url, "127.0.0.6", {
      path: "/api/sites",
      headers: { authorization: `Bearer ${TOKEN}`, "x-forwarded-for": "198.51.100.9" }
    })
    assert.strictEqual(direct.status, 200, direct.text)
    // (The request log line is written as the response goes out: looked for until it is there.)
    const requestLogged = async (client: string) => {
      const logged = () =>
        node
          .output()
          .split("\n")
          .some(
            (line) =>
              line.includes('message="Sent HTTP response"') &&
              line.includes(`client=${client} `) &&
              line.includes("http.method=GET http.url=/api/sites ")
          )
      for (let i = 0; i < 50 && !logged(); i++) await new Promise((resolve) => setTimeout(resolve, 100))
      return logged()
    }
    assert.isTrue(await requestLogged("127.0.0.5"), node.output())
    assert.isTrue(await requestLogged("127.0.0.6"), node.output())
    assert.notMatch(node.output(), /client=198\.51\.100\.9/)

    // The redirector's access log, likewise (written in batches: looked for until it is there).
    await send(front, "127.0.0.7", { path: "/mirrorlist?repo=epel-9&arch=x86_64" })
    const deadline = Date.now() + 10_000
    while (
      Date.now() < deadline &&
      !(fs.existsSync(accessLog) && /IP: 127\.0\.0\.7;/.test(fs.readFileSync(accessLog, "utf8")))
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.match(fs.readFileSync(accessLog, "utf8"), /IP: 127\.0\.0\.7;/)
  }, 180_000)
})
