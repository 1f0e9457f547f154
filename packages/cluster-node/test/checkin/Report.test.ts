// `mirrormanager report`, the check-in client: its bz2 decoded by libbzip2 (Python's bz2, as upstream's server) and by
// seek-bzip (ours); its request read as upstream's server reads it; check-ins accepted by a real node, directly and
// through a real forward proxy on loopback (plain HTTP, and HTTPS through CONNECT); and the failures a mirror admin
// meets (wrong password, unreachable server or proxy, a fault, a malformed config), each with its exit status.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { readCheckinPayload } from "@mirrormanager/http/checkin"
import { createProxy } from "proxy"
import { assert, beforeAll, describe, it } from "vitest"
import { bzip2 } from "../../src/checkin/ReportBzip2.ts"
import { getValue, parseIni, pythonJson, ReportConfigError, reportConfigOf } from "../../src/checkin/ReportConfig.ts"
import { encodePayload } from "../../src/checkin/ReportSend.ts"
import { addCampusMirror, mirrorlist, newDatabase, setUpContent, TOKEN } from "../support/Nodes.ts"
import { type RunningNode, runCommand, startNode, tempDir } from "../support/Process.ts"

const CHECKIN_WIRE = path.resolve(import.meta.dirname, "../../../../test-support/checkin_wire.py")

/** No proxy from the test's own environment. */
const NO_PROXIES = { HTTP_PROXY: "", HTTPS_PROXY: "", NO_PROXY: "", http_proxy: "", https_proxy: "", no_proxy: "" }

const report = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  runCommand(["report", ...args], { ...NO_PROXIES, ...env })

const python = (script: string, input: Buffer | string) => {
  const run = spawnSync("python3", ["-c", script], { input, maxBuffer: 1 << 30 })
  if (run.status !== 0) throw new Error(`python3 failed: ${run.stderr}`)
  return run.stdout
}

/** What upstream's server does with a request body: the XML-RPC call's one parameter, base64, then bz2. */
const decodeAsUpstream = (body: string) =>
  JSON.parse(
    python(
      "import base64,bz2,json,sys,xmlrpc.client\n(p,),m=xmlrpc.client.loads(sys.stdin.read())\nassert m=='checkin',m\nsys.stdout.write(bz2.decompress(base64.urlsafe_b64decode(p)).decode())",
      body
    ).toString("utf8")
  )

/** A loopback server that records requests and answers each with `reply`. */
const recorder = async (reply: (res: http.ServerResponse) => void) => {
  const requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = []
  const server = http.createServer((req, res) => {
    let body = ""
    req.on("data", (chunk) => (body += chunk))
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body })
      reply(res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { server, url, requests }
}

const xmlrpcString = (text: string) =>
  `<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><string>${text}</string></value>\n</param>\n</params>\n</methodResponse>\n`

interface ConfOptions {
  readonly server: string
  readonly root: string
  readonly password?: string
  readonly extra?: string
}

const writeConf = (dir: string, o: ConfOptions) => {
  const file = path.join(dir, `report_mirror-${Math.random().toString(36).slice(2)}.conf`)
  fs.writeFileSync(
    file,
    [
      "# as upstream's example",
      "[global]",
      "enabled=1",
      `server=${o.server}`,
      "[site]",
      "enabled=1",
      "name=Campus",
      `password=${o.password ?? "campus-password-1234"}`,
      "[host]",
      "enabled=1",
      "name=mirror.campus.example",
      "[stats]",
      "[Fedora EPEL]",
      "enabled=1",
      `path=${o.root}`,
      o.extra ?? ""
    ].join("\n")
  )
  return file
}

/** The mirror's copy of the EPEL tree: the five directories of the master, one more, and a link not followed. */
const mirrorTree = (dir: string) => {
  const root = path.join(dir, "srv/epel")
  for (const d of ["9/Everything/x86_64/repodata", "9/Everything/x86_64/debug/repodata", "9/Everything/source"]) {
    fs.mkdirSync(path.join(root, d), { recursive: true })
  }
  fs.writeFileSync(path.join(root, "9/Everything/x86_64/repodata/repomd.xml"), "<repomd/>")
  fs.symlinkSync(path.join(root, "9"), path.join(root, "latest"))
  return root
}

const FULL_TREE = [
  "",
  "9",
  "9/Everything",
  "9/Everything/source",
  "9/Everything/x86_64",
  "9/Everything/x86_64/debug",
  "9/Everything/x86_64/debug/repodata",
  "9/Everything/x86_64/repodata"
]

describe("bz2 of the check-in payload", () => {
  const inputs: Array<[string, Buffer]> = [
    ["nothing", Buffer.alloc(0)],
    ["one byte", Buffer.from("{")],
    [
      "runs of 4, 255 and 256 equal bytes",
      Buffer.concat([Buffer.alloc(4, 1), Buffer.alloc(255, 2), Buffer.alloc(256, 3)])
    ],
    ["every byte value", Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
    [
      "bytes with no pattern",
      Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7919 + (i >> 3) * 104729) & 0xff))
    ],
    [
      "a dirtree of 60,000 directories (three bz2 blocks)",
      Buffer.from(
        pythonJson(
          Object.fromEntries(
            Array.from({ length: 60_000 }, (_, i) => [`pub/fedora/linux/releases/${i % 40}/Everything/dir-${i}`, {}])
          )
        )
      )
    ]
  ]
  for (const [name, data] of inputs) {
    it(`decodes with libbzip2 (Python's bz2): ${name}`, () => {
      const compressed = Buffer.from(bzip2(data))
      assert.strictEqual(compressed.toString("latin1", 0, 4), "BZh9")
      const byPython = python(
        "import bz2,sys; sys.stdout.buffer.write(bz2.decompress(sys.stdin.buffer.read()))",
        compressed
      )
      assert.isTrue(byPython.equals(data), "Python's bz2 (libbzip2) gives back the input")
    })
  }

  it("is read by our server's payload reader: a check-in of 60,000 directories", () => {
    const directories = Array.from({ length: 60_000 }, (_, i) => `9/Everything/x86_64/d${i}/\u00e9`)
    const document = {
      version: 0,
      global: { enabled: "1", server: "https://mm.example/xmlrpc" },
      site: { enabled: "1", name: "Campus", password: "pw" },
      host: { enabled: "1", name: "h" },
      stats: {},
      "fedora epel": { enabled: "1", dirtree: Object.fromEntries(directories.map((d) => [d, {}])) }
    }
    const read = readCheckinPayload(encodePayload(pythonJson(document)))
    assert.strictEqual(read._tag, "Report", read._tag === "Invalid" ? read.reason : "")
    if (read._tag !== "Report") return
    assert.strictEqual(read.report.hostName, "h")
    assert.deepStrictEqual(read.report.categories[0]?.directories, directories)
  })
})

describe("report_mirror.conf as configparser reads it", () => {
  const conf = (text: string) => reportConfigOf(parseIni(text, "t.conf"))
  const BASE =
    "[global]\nenabled=1\nserver=https://mm.example/xmlrpc\n[site]\nenabled=1\nname=S\npassword=p\n[host]\nenabled=1\nname=h\n"

  it("reads ':' and '=', comments, continuation lines, [DEFAULT] and %-interpolation", () => {
    const ini = parseIni(
      "[DEFAULT]\nbase = /srv\n[global]\nenabled: 1\n; a comment\nserver = https://mm.example/xmlrpc\n[site]\nenabled=1\nName=S\npassword = 50%% off\n[host]\nenabled=1\nname=h\nuser_active=0\n[Fedora Linux]\nenabled=1\npath=%(base)s/fedora\nnotes = one\n  two\n",
      "t.conf"
    )
    assert.strictEqual(getValue(ini, "site", "password"), "50% off")
    assert.strictEqual(getValue(ini, "site", "name"), "S")
    assert.strictEqual(getValue(ini, "Fedora Linux", "path"), "/srv/fedora")
    assert.strictEqual(getValue(ini, "Fedora Linux", "notes"), "one\ntwo")
    const config = reportConfigOf(ini)
    assert.deepStrictEqual(config.fixed, {
      version: 0,
      global: { enabled: "1", server: "https://mm.example/xmlrpc" },
      site: { enabled: "1", name: "S", password: "50% off" },
      host: { enabled: "1", name: "h", user_active: "0" },
      stats: {}
    })
    assert.deepStrictEqual(config.categories, [{ section: "Fedora Linux", path: "/srv/fedora", enabled: true }])
  })

  it("refuses what configparser or report_mirror refuse, saying where", () => {
    const refused = (text: string, message: RegExp) => {
      try {
        conf(text)
      } catch (error) {
        assert.instanceOf(error, ReportConfigError)
        assert.match((error as Error).message, message)
        return
      }
      assert.fail(`accepted: ${text}`)
    }
    refused("enabled=1\n[global]", /t\.conf line 1: .* before any \[section\]/)
    refused(`${BASE}[site]\nenabled=1`, /section \[site\] appears twice/)
    refused(BASE.replace("name=S", "name=S\nname=T"), /name is set twice in \[site\]/)
    refused(BASE.replace("[host]\nenabled=1\nname=h\n", ""), /no \[host\] section/)
    refused(BASE.replace("password=p", "password=100%"), /\[site\] password: .* must be written %%/)
    refused(BASE.replace("server=https://mm.example/xmlrpc", "server=mm.example"), /server=mm\.example is not a URL/)
    refused(BASE.replace("[site]\nenabled=1", "[site]\nenabled=0"), /\[site\] enabled=0: check-ins are switched off/)
    refused(`${BASE}[EPEL]\nenabled=1\n`, /\[EPEL\] has no path=/)
    refused(`${BASE}[EPEL]\nenabled=1\npath=/a\n[epel]\nenabled=1\npath=/b\n`, /\[EPEL\] and \[epel\] name the same/)
    refused(`${BASE}just words\n`, /line 11: "just words" is not a "key = value" line/)
  })
})

describe("mirrormanager report", () => {
  let node: RunningNode
  let dir: string
  let root: string
  const campus = "repo=epel-9&arch=x86_64&ip=198.51.100.7"
  const listed = "https://mirror.campus.example/epel/9/Everything/x86_64/"

  beforeAll(async () => {
    const database = await newDatabase()
    dir = tempDir()
    node = await startNode({ DATABASE_URL: database, MM_ADMIN_TOKEN: TOKEN, MM_ACCESS_LOG: "off", MM_DATA_DIR: dir })
    const categoryId = await setUpContent(node)
    // A private mirror for the clients of its netblock: up to date on what its check-ins say.
    await addCampusMirror(node, categoryId)
    root = mirrorTree(dir)
  })

  it("--dry-run prints the payload as upstream's server decodes it, and sends nothing", async () => {
    const server = await recorder((res) => res.end(xmlrpcString("checked in successful")))
    const conf = writeConf(dir, { server: `${server.url}/xmlrpc`, root })
    const dry = await report(["--config", conf, "--dry-run"])
    assert.strictEqual(dry.code, 0, dry.stderr)
    assert.lengthOf(server.requests, 0)
    const printed = JSON.parse(dry.stdout)
    assert.strictEqual(printed.site.password, "(hidden)")
    assert.deepStrictEqual(Object.keys(printed["fedora epel"].dirtree).sort(), FULL_TREE)
    assert.match(dry.stderr, /dry run: 1 category, 8 directories for mirror\.campus\.example of site Campus/)

    // Sent: the request is what upstream's client sends, and decodes to what the dry run printed.
    const sent = await report(["-c", conf, "--debug"])
    assert.strictEqual(sent.code, 0, sent.stderr)
    assert.strictEqual(sent.stdout, "checked in successful\n")
    // --debug shows the payload on stderr, without the password (cron mails stderr).
    assert.include(sent.stderr, '"password": "(hidden)"')
    assert.notInclude(sent.stderr, decodeAsUpstream(server.requests[0]!.body).site.password)
    const [request] = server.requests
    assert.strictEqual(request?.method, "POST")
    assert.strictEqual(request?.url, "/xmlrpc")
    assert.strictEqual(request?.headers["content-type"], "text/xml")
    assert.match(request!.body, /<string>QlpoOTFBWSZTW[A-Za-z0-9_=-]+<\/string>/)
    const decoded = decodeAsUpstream(request!.body)
    assert.deepStrictEqual({ ...decoded, site: { ...decoded.site, password: "(hidden)" } }, printed)
    // ... and the same document as report_mirror's own reading of the config sends (test-support/checkin_wire.py).
    // (Not spawnSync: the recording server runs in this process and must answer.)
    const byPython = await new Promise<number | null>((resolve) =>
      spawn("python3", [CHECKIN_WIRE, "report", conf], { stdio: "ignore" }).on("exit", resolve)
    )
    assert.strictEqual(byPython, 0)
    assert.deepStrictEqual(decoded, decodeAsUpstream(server.requests[1]!.body))
    server.server.close()
  })

  it("checks in to a running node: the reply is printed, the mirror is listed, exclusions apply", async () => {
    const exclude = path.join(dir, "exclude")
    fs.writeFileSync(exclude, "# not carried here\n/debug/\n/source/\n")
    const conf = writeConf(dir, { server: `${node.url}/xmlrpc`, root })
    const result = await report(["--config", conf, "--exclude-from", exclude])
    assert.strictEqual(result.code, 0, result.stderr)
    // The master has five of the directories; the mirror's other ones are not the category's and are ignored.
    assert.strictEqual(
      result.stdout,
      "Category Fedora EPEL directories updated: 0  added: 5  deleted 0\nchecked in successful\n"
    )
    assert.include((await mirrorlist(node, campus)).text, listed)
  })

  it("goes through a forward proxy: HTTP_PROXY for http://, and NO_PROXY bypasses it", async () => {
    const proxy = createProxy(http.createServer())
    const seen: Array<string> = []
    proxy.on("request", (req: http.IncomingMessage) => seen.push(`${req.method} ${req.url}`))
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve))
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    const conf = writeConf(dir, { server: `${node.url}/xmlrpc`, root })

    const through = await report(["--config", conf], { http_proxy: proxyUrl })
    assert.strictEqual(through.code, 0, through.stderr)
    assert.match(through.stdout, /checked in successful\n$/)
    assert.deepStrictEqual(seen, [`POST ${node.url}/xmlrpc`])

    // NO_PROXY names the server: sent directly, so a dead proxy does not matter.
    const deadProxy = "http://127.0.0.1:9"
    const bypassed = await report(["--config", conf], { HTTP_PROXY: deadProxy, NO_PROXY: "localhost,127.0.0.1" })
    assert.strictEqual(bypassed.code, 0, bypassed.stderr)
    assert.lengthOf(seen, 1)

    // The proxy cannot be reached: a network failure (2) that says a proxy was in the way.
    const down = await report(["--config", conf], { HTTP_PROXY: deadProxy })
    assert.strictEqual(down.code, 2)
    assert.match(down.stderr, /cannot reach .* \(through the proxy of HTTPS_PROXY\/HTTP_PROXY or \[global\] proxy=\)/)
    proxy.close()
  })

  it("[global] proxy= with credentials in its URL goes ahead of the environment; a proxy's 407 is exit 2", async () => {
    const server = await recorder((res) => res.end(xmlrpcString("checked in successful")))
    const proxy = createProxy(http.createServer())
    proxy.authenticate = (req) =>
      req.headers["proxy-authorization"] === `Basic ${Buffer.from("mirror:p w").toString("base64")}`
    const seen: Array<string> = []
    proxy.on("request", (req: http.IncomingMessage) => seen.push(`${req.method} ${req.url}`))
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve))
    const port = (proxy.address() as AddressInfo).port
    // %% is configparser's % (the URL's %20 is the space of the password).
    const withProxy = (credentials: string) => {
      const file = writeConf(dir, { server: `${server.url}/xmlrpc`, root })
      const text = fs
        .readFileSync(file, "utf8")
        .replace("[site]", `proxy=http://${credentials}@127.0.0.1:${port}\n[site]`)
      fs.writeFileSync(file, text)
      return file
    }
    const good = await report(["--config", withProxy("mirror:p%%20w")], { HTTP_PROXY: "http://127.0.0.1:9" })
    assert.strictEqual(good.code, 0, good.stderr)
    assert.deepStrictEqual(seen, [`POST ${server.url}/xmlrpc`])
    assert.lengthOf(server.requests, 1)

    const refused = await report(["--config", withProxy("mirror:wrong")])
    assert.strictEqual(refused.code, 2)
    assert.include(refused.stderr, "the proxy wants credentials (HTTP 407): put them in the proxy URL")
    assert.lengthOf(server.requests, 1)
    proxy.close()
    server.server.close()
  })

  it("goes through a forward proxy to an https:// server, by CONNECT", async (context) => {
    const key = path.join(dir, "tls.key")
    const cert = path.join(dir, "tls.crt")
    const made = spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1"
    ])
    if (made.error !== undefined) return context.skip("openssl is not installed")
    // A TLS front for the node, as a real deployment has.
    const front = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
      const upstream = http.request(`${node.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      req.pipe(upstream)
    })
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve))
    const proxy = createProxy(http.createServer())
    const tunnels: Array<string> = []
    proxy.on("connect", (req: http.IncomingMessage) => tunnels.push(req.url ?? ""))
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve))
    const frontAddress = `127.0.0.1:${(front.address() as AddressInfo).port}`
    const conf = writeConf(dir, { server: `https://${frontAddress}/xmlrpc`, root })

    const result = await report(["--config", conf], {
      HTTPS_PROXY: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      NODE_EXTRA_CA_CERTS: cert
    })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.match(
      result.stdout,
      /^Category Fedora EPEL directories updated: 5 {2}added: 0 {2}deleted 0\nchecked in successful\n$/
    )
    assert.deepStrictEqual(tunnels, [frontAddress])

    // Without the CA the certificate is refused, with a hint.
    const untrusted = await report(["--config", conf])
    assert.strictEqual(untrusted.code, 2)
    assert.match(untrusted.stderr, /certificate is not trusted \(NODE_EXTRA_CA_CERTS=FILE adds a CA\)/)
    proxy.close()
    front.close()
  })

  it("a wrong password: the server's reply, exit 3, and what to check", async () => {
    const conf = writeConf(dir, { server: `${node.url}/xmlrpc`, root, password: "not-the-password" })
    const result = await report(["--config", conf])
    assert.strictEqual(result.code, 3)
    assert.strictEqual(result.stdout, "Config file site name or password incorrect.\nerror checking in\n")
    assert.include(result.stderr, `check [site] name and password in ${conf}`)
  })

  it("an unreachable server: exit 2, naming the server", async () => {
    const conf = writeConf(dir, { server: "http://127.0.0.1:9/xmlrpc", root })
    const result = await report(["--config", conf])
    assert.strictEqual(result.code, 2)
    assert.strictEqual(result.stdout, "")
    assert.match(result.stderr, /cannot reach http:\/\/127\.0\.0\.1:9\/xmlrpc: .*ECONNREFUSED.*nothing listens there/)
  })

  it("a fault, or a server that is not an XML-RPC endpoint: exit 3", async () => {
    const faulty = await recorder((res) =>
      res.end(
        "<?xml version='1.0'?>\n<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-32601</int></value></member><member><name>faultString</name><value><string>unknown method checkin</string></value></member></struct></value></fault></methodResponse>"
      )
    )
    const fault = await report(["--config", writeConf(dir, { server: `${faulty.url}/xmlrpc`, root })])
    assert.strictEqual(fault.code, 3)
    assert.include(fault.stderr, "XML-RPC fault -32601: unknown method checkin")
    faulty.server.close()

    const wrongUrl = await report(["--config", writeConf(dir, { server: `${node.url}/api/xmlrpc`, root })])
    assert.strictEqual(wrongUrl.code, 3)
    assert.match(wrongUrl.stderr, /answered HTTP 404.*is \[global\] server the check-in URL/)
  })

  it("a malformed config or a missing tree: exit 1, a message that says what to fix, nothing sent", async () => {
    const server = await recorder((res) => res.end(xmlrpcString("checked in successful")))
    const good = writeConf(dir, { server: `${server.url}/xmlrpc`, root })
    const cases: Array<[string, string, RegExp]> = [
      [
        "no file",
        path.join(dir, "missing.conf"),
        /the config file .*missing\.conf does not exist \(give the file with --config FILE\)/
      ],
      ["no [site]", good, /there is no \[site\] section/],
      ["a bare %", good, /\[site\] password: "%!" — a % in a value must be written %%/],
      [
        "a tree that is not there",
        good,
        /\[Fedora EPEL\] path=.*nope does not exist; nothing was sent .* mount or fix the path/
      ]
    ]
    const texts = [
      undefined,
      fs.readFileSync(good, "utf8").replace(/\[site\][^[]*/, ""),
      fs.readFileSync(good, "utf8").replace("password=campus-password-1234", "password=50%!"),
      fs.readFileSync(good, "utf8").replace(`path=${root}`, `path=${root}/nope`)
    ]
    for (const [i, [what, file, message]] of cases.entries()) {
      const text = texts[i]
      const conf = text === undefined ? file : path.join(dir, `malformed-${i}.conf`)
      if (text !== undefined) fs.writeFileSync(conf, text)
      const result = await report(["--config", conf])
      assert.strictEqual(result.code, 1, `${what}: ${result.stderr}`)
      assert.match(result.stderr, message, what)
    }
    assert.lengthOf(server.requests, 0)
    server.server.close()
  })
})
