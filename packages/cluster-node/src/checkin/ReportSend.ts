// Sends a check-in payload as report_mirror does (docs/checkin.md#payload): the XML-RPC call `checkin(payload)` POSTed
// as text/xml to the configured server, over HTTP or HTTPS, through the proxy of HTTPS_PROXY/HTTP_PROXY (or lower-case)
// unless NO_PROXY names the server, by Node's own proxy support (http.Agent `proxyEnv`: absolute-form requests for
// http://, CONNECT tunnels for https://).
import * as http from "node:http"
import * as https from "node:https"
import { bzip2 } from "./ReportBzip2.ts"

/** The payload of a check-in: URL-safe base64 (with padding) of bz2 of the JSON text. */
export const encodePayload = (json: string) =>
  Buffer.from(bzip2(Buffer.from(json, "utf8")))
    .toString("base64")
    .replace(/\+/g, "-")
    .replace(/\//g, "_")

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** The method call, laid out as Python's xmlrpc.client writes it. */
const checkinCall = (payload: string) =>
  `<?xml version='1.0'?>\n<methodCall>\n<methodName>checkin</methodName>\n<params>\n<param>\n<value><string>${escapeXml(payload)}</string></value>\n</param>\n</params>\n</methodCall>\n`

const unescapeXml = (text: string) =>
  text.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, entity: string) => {
    if (entity === "lt") return "<"
    if (entity === "gt") return ">"
    if (entity === "amp") return "&"
    if (entity === "quot") return '"'
    if (entity === "apos") return "'"
    const code = entity.startsWith("#x") ? Number.parseInt(entity.slice(2), 16) : Number.parseInt(entity.slice(1), 10)
    return String.fromCodePoint(code)
  })

export type CheckinAnswer =
  | { readonly _tag: "Reply"; readonly text: string }
  | { readonly _tag: "Fault"; readonly code: number; readonly message: string }

/** The server (or a proxy) answered, but not with an XML-RPC reply. */
export class CheckinSendError extends Error {
  override readonly name = "CheckinSendError"
  /** True when the server did not get to judge the check-in (a proxy's refusal, a server error): try again later. */
  readonly unavailable: boolean
  constructor(message: string, unavailable = false) {
    super(message)
    this.unavailable = unavailable
  }
}

/** Reads an XML-RPC methodResponse: one string value, or a fault. */
const readMethodResponse = (body: string): CheckinAnswer | undefined => {
  const fault = /<fault>\s*<value>\s*<struct>([\s\S]*)<\/struct>/.exec(body)
  if (fault !== null) {
    const member = (name: string) =>
      new RegExp(
        `<name>${name}</name>\\s*<value>\\s*(?:<(?:int|i4|string)>)?([\\s\\S]*?)(?:</(?:int|i4|string)>)?\\s*</value>`
      ).exec(fault[1]!)?.[1]
    return {
      _tag: "Fault",
      code: Number(member("faultCode") ?? Number.NaN),
      message: unescapeXml(member("faultString") ?? "")
    }
  }
  const value = /<params>\s*<param>\s*<value>(?:\s*<string>([\s\S]*?)<\/string>\s*|([^<]*))<\/value>/.exec(body)
  if (value === null) return undefined
  return { _tag: "Reply", text: unescapeXml(value[1] ?? value[2] ?? "") }
}

export interface SendOptions {
  /** The environment whose HTTPS_PROXY/HTTP_PROXY/NO_PROXY (any case) apply. */
  readonly env: NodeJS.ProcessEnv
  /** `[global] proxy=`: used for both schemes, ahead of the environment's proxies (NO_PROXY still applies). */
  readonly proxy?: string | undefined
  /** Milliseconds without any traffic after which the attempt is given up. */
  readonly idleTimeoutMs: number
}

const REPLY_LIMIT = 1024 * 1024

/** The proxy variables Node's agent reads; `[global] proxy=` replaces the environment's. */
const proxyEnvOf = (options: Pick<SendOptions, "env" | "proxy">): http.ProxyEnv => {
  const pick = (name: string) => options.env[name.toLowerCase()] || options.env[name] || undefined
  const proxy = options.proxy
  return {
    HTTP_PROXY: proxy ?? pick("HTTP_PROXY"),
    HTTPS_PROXY: proxy ?? pick("HTTPS_PROXY"),
    NO_PROXY: pick("NO_PROXY")
  }
}

/** The proxy a check-in to `server` goes through (NO_PROXY aside), or undefined: for what an error message says. */
export const proxyOf = (server: string, options: Pick<SendOptions, "env" | "proxy">): string | undefined => {
  const env = proxyEnvOf(options)
  return new URL(server).protocol === "https:" ? env.HTTPS_PROXY : env.HTTP_PROXY
}

/** Calls `checkin(payload)` on `server`. */
export const sendCheckin = (server: string, payload: string, options: SendOptions) =>
  new Promise<CheckinAnswer>((resolve, reject) => {
    const url = new URL(server)
    const secure = url.protocol === "https:"
    const proxyEnv = proxyEnvOf(options)
    const agent = secure ? new https.Agent({ proxyEnv }) : new http.Agent({ proxyEnv })
    const body = Buffer.from(checkinCall(payload), "utf8")
    const headers: Record<string, string> = {
      "content-type": "text/xml",
      "content-length": String(body.length),
      "user-agent": "mirrormanager-report/0.1.0"
    }
    if (url.username !== "") {
      const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
      headers.authorization = `Basic ${Buffer.from(credentials).toString("base64")}`
    }
    const done = (outcome: () => void) => {
      agent.destroy()
      outcome()
    }
    const request = (secure ? https : http).request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port === "" ? undefined : Number(url.port),
        // As xmlrpc.client: a server URL without a path calls /RPC2.
        path: /^[a-z+.-]+:\/\/[^/?#]*$/i.test(server) ? "/RPC2" : `${url.pathname}${url.search}`,
        method: "POST",
        headers,
        agent
      },
      (response) => {
        const chunks: Array<Buffer> = []
        let size = 0
        response.on("data", (chunk: Buffer) => {
          size += chunk.length
          if (size > REPLY_LIMIT) {
            response.destroy()
            done(() => reject(new CheckinSendError(`the server's reply is larger than ${REPLY_LIMIT} bytes`)))
            return
          }
          chunks.push(chunk)
        })
        response.on("error", (error) => done(() => reject(error)))
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          const status = response.statusCode ?? 0
          if (status !== 200) {
            const answered = `${server} answered HTTP ${status} ${response.statusMessage ?? ""}`.trimEnd()
            const error =
              status === 407
                ? new CheckinSendError(
                    `the proxy wants credentials (HTTP 407): put them in the proxy URL, http://user:password@proxy:port`,
                    true
                  )
                : status >= 500
                  ? new CheckinSendError(`${answered}: the server (or a proxy) is not available; try again later`, true)
                  : new CheckinSendError(`${answered}: is [global] server the check-in URL (it ends in /xmlrpc)?`)
            return done(() => reject(error))
          }
          const answer = readMethodResponse(text)
          if (answer === undefined) {
            return done(() =>
              reject(
                new CheckinSendError(
                  `${server} did not answer with an XML-RPC response (is [global] server the check-in URL, ending in /xmlrpc?): ${text.slice(0, 200)}`
                )
              )
            )
          }
          done(() => resolve(answer))
        })
      }
    )
    request.setTimeout(options.idleTimeoutMs, () =>
      request.destroy(new Error(`no answer for ${Math.round(options.idleTimeoutMs / 1000)} s`))
    )
    request.on("error", (error) => done(() => reject(error)))
    request.end(body)
  })
