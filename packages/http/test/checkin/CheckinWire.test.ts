// The check-in's wire format (docs/checkin.md#payload): XML-RPC calls as Python's xmlrpc.client writes them, replies
// as it reads them, and payloads as the upstream client builds them; every malformed input refused with a reason.
import { CheckinReplies, XmlRpcFaultCodes } from "@mirrormanager/domain/checkin"
import { Redacted } from "effect"
import { assert, describe, it } from "vitest"
import { CHECKIN_PAYLOAD_LIMITS, type CheckinPayload, readCheckinPayload } from "../../src/checkin/CheckinPayload.ts"
import { faultResponse, isXmlRpcFault, methodResponse, readMethodCall } from "../../src/checkin/XmlRpc.ts"
import { bz2Payload, checkinPayload, methodCallBody, readResponseAsPython } from "../support/CheckinWire.ts"

/** The request body of docs/checkin.md#payload, which decodes to the JSON printed there. */
const SPEC_BODY = `<?xml version='1.0'?>
<methodCall>
<methodName>checkin</methodName>
<params>
<param>
<value><string>QlpoOTFBWSZTWXnsGTMAALpfgEAAUAXlcAIAAAC_993qMAD6psJRIanoam2po1NAAxA0mqbU9pB6gAAAaCU0qbU2UPUA8oGnqGRpnMIAkCEyTLemYz1tgogUCvtPZ7LF91cKfWiSBQRY92yC9dFcCkjEbJk0bFJXBzOx1Ny4BqSZ9JOfRjyiJyhkVvy7BdYqxeQnoJCj4NVD4QugFKttFoqYPWaPaviimqQYm6c4SMwlB5F5fypUWXA6w2SkbfRW6RuZ1TtHXyFjk7BVBzOFcJ1DmMAc2P-x4Q6yoiN8CejVNIEgUHMbSwIQYNj9Ykzj_xdyRThQkHnsGTM=</string></value>
</param>
</params>
</methodCall>
`

const config = (extra: Record<string, unknown> = {}, host: Record<string, string> = {}) => ({
  version: 0,
  global: { enabled: "1", server: "https://mirrors.example.org/xmlrpc" },
  site: { enabled: "1", name: "Example.com", password: "s3cret pass" },
  host: { enabled: "1", name: "mirror.example.com", ...host },
  stats: {},
  "fedora epel": { enabled: "1", dirtree: { "": {}, "9": {}, "9/Everything": {} } },
  ...extra
})

const report = (result: CheckinPayload) => {
  if (result._tag !== "Report") throw new Error(`refused: ${result.reason}`)
  return result.report
}

const refused = (result: CheckinPayload, reason: RegExp) => {
  assert.strictEqual(result._tag, "Invalid")
  if (result._tag === "Invalid") assert.match(result.reason, reason)
}

describe("XML-RPC method calls", () => {
  it("reads docs/checkin.md#payload's request, and its payload decodes to the JSON printed there", () => {
    const call = readMethodCall(SPEC_BODY)
    if (isXmlRpcFault(call)) throw new Error(call.faultString)
    assert.strictEqual(call.methodName, "checkin")
    assert.strictEqual(call.params.length, 1)
    const param = call.params[0]!
    assert.strictEqual(param.type, "string")
    const read = report(readCheckinPayload(param.type === "string" ? param.value : ""))
    assert.strictEqual(read.siteName, "Example.com")
    assert.strictEqual(Redacted.value(read.sitePassword), "password")
    assert.strictEqual(read.hostName, "mirror.example.com")
    assert.isUndefined(read.userActive)
    // Directories are a set: JSON objects put integer-like keys ("9") first.
    assert.deepStrictEqual(
      read.categories.map((c) => ({ ...c, directories: c.directories.toSorted() })),
      [
        {
          key: "fedora epel",
          enabled: true,
          directories: ["", "9", "9/Everything", "9/Everything/x86_64", "9/Everything/x86_64/repodata"]
        }
      ]
    )
  })

  it("reads calls as Python's xmlrpc.client writes them, typed and untyped strings alike", () => {
    const call = readMethodCall(methodCallBody("checkin", ["a < b & c", "  spaced  "]))
    assert.deepStrictEqual(call, {
      methodName: "checkin",
      params: [
        { type: "string", value: "a < b & c" },
        { type: "string", value: "  spaced  " }
      ]
    })
    const untyped = readMethodCall(
      "<methodCall><methodName>checkin</methodName><params><param><value> raw text </value></param></params></methodCall>"
    )
    assert.deepStrictEqual(untyped, { methodName: "checkin", params: [{ type: "string", value: " raw text " }] })
    const other = readMethodCall(methodCallBody("checkin", [42, true, { a: 1 }]))
    assert.deepStrictEqual(other, {
      methodName: "checkin",
      params: [
        { type: "int", value: 42 },
        { type: "boolean", value: true },
        { type: "other", name: "struct" }
      ]
    })
    assert.deepStrictEqual(readMethodCall("<methodCall><methodName>x</methodName></methodCall>"), {
      methodName: "x",
      params: []
    })
  })

  it("answers malformed calls with the fault codes of the XML-RPC fault interoperability list", () => {
    const code = (xml: string) => {
      const call = readMethodCall(xml)
      return isXmlRpcFault(call) ? call.faultCode : "no fault"
    }
    assert.strictEqual(code("<methodCall><methodName>checkin</methodName>"), XmlRpcFaultCodes.parseError)
    assert.strictEqual(code("not xml at all"), XmlRpcFaultCodes.parseError)
    assert.strictEqual(code(""), XmlRpcFaultCodes.parseError)
    // No DTDs, so no entity expansion (billion laughs, external entities).
    assert.strictEqual(
      code(
        '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><methodCall><methodName>&b;</methodName></methodCall>'
      ),
      XmlRpcFaultCodes.parseError
    )
    assert.strictEqual(
      code('<!DOCTYPE m SYSTEM "file:///etc/passwd"><methodCall><methodName>x</methodName></methodCall>'),
      XmlRpcFaultCodes.parseError
    )
    assert.strictEqual(code("<methodResponse><params/></methodResponse>"), XmlRpcFaultCodes.invalidRequest)
    assert.strictEqual(code("<methodCall><params/></methodCall>"), XmlRpcFaultCodes.invalidRequest)
    assert.strictEqual(
      code("<methodCall><methodName>a</methodName><methodName>b</methodName></methodCall>"),
      XmlRpcFaultCodes.invalidRequest
    )
    assert.strictEqual(
      code("<methodCall><methodName>a</methodName><params><param/></params></methodCall>"),
      XmlRpcFaultCodes.invalidRequest
    )
    assert.strictEqual(
      code(
        "<methodCall><methodName>a</methodName><params><param><value><int>x</int></value></param></params></methodCall>"
      ),
      XmlRpcFaultCodes.invalidRequest
    )
    assert.strictEqual(
      code(
        `<methodCall><methodName>a</methodName><params>${"<param><value>x</value></param>".repeat(5000)}</params></methodCall>`
      ),
      XmlRpcFaultCodes.invalidRequest
    )
  })

  it("writes replies and faults that Python's xmlrpc.client reads back exactly", () => {
    const reply = `Category Fedora EPEL directories updated: 5  added: 0  deleted 0\n<&>\u0001\n${CheckinReplies.success}`
    assert.deepStrictEqual(readResponseAsPython(methodResponse(reply)), { value: reply.replace("\u0001", "?") })
    assert.deepStrictEqual(
      readResponseAsPython(
        faultResponse({ faultCode: XmlRpcFaultCodes.unknownMethod, faultString: "no <such> method" })
      ),
      { fault: [XmlRpcFaultCodes.unknownMethod, "no <such> method"] }
    )
  })
})

describe("check-in payloads", () => {
  it("reads what the client sends: lower-cased sections, user_active, disabled sections, paths stripped", () => {
    const read = report(
      readCheckinPayload(
        checkinPayload(
          config(
            {
              "fedora linux": { enabled: "0", dirtree: { "/releases/": {}, releases: {}, "": {} } },
              "fedora epel": { dirtree: { "9/": { "ignored value": {} }, "/9/Everything/x86_64//": {} } }
            },
            { user_active: "Yes" }
          )
        )
      )
    )
    assert.strictEqual(Redacted.value(read.sitePassword), "s3cret pass")
    assert.isTrue(read.userActive)
    assert.deepStrictEqual(
      read.categories.map((c) => ({ ...c, directories: c.directories.toSorted() })),
      [
        { key: "fedora epel", enabled: true, directories: ["9", "9/Everything/x86_64"] },
        { key: "fedora linux", enabled: false, directories: ["", "releases"] }
      ]
    )
    for (const [value, active] of [
      ["1", true],
      ["TRUE", true],
      ["t", true],
      ["y", true],
      ["0", false],
      ["no", false],
      ["", false]
    ] as const) {
      assert.strictEqual(
        report(readCheckinPayload(checkinPayload(config({}, { user_active: value })))).userActive,
        active
      )
    }
  })

  it("accepts the standard base64 alphabet, missing padding and line breaks", () => {
    const payload = checkinPayload(config())
    const standard = payload.replace(/-/g, "+").replace(/_/g, "/")
    const unpadded = payload.replace(/=+$/, "")
    const wrapped = payload.replace(/(.{76})/g, "$1\n")
    for (const variant of [standard, unpadded, wrapped]) {
      assert.strictEqual(report(readCheckinPayload(variant)).hostName, "mirror.example.com")
    }
  })

  it("refuses what is not base64, not bz2, not UTF-8 JSON, or too large when decompressed", () => {
    refused(readCheckinPayload("not base64!"), /not base64/)
    refused(readCheckinPayload("QUJD="), /not base64|not bz2/)
    refused(readCheckinPayload(Buffer.from("plain text, no bz2").toString("base64url")), /not bz2/)
    const good = Buffer.from(checkinPayload(config()), "base64url")
    const corrupt = Buffer.from(good)
    corrupt[good.length >> 1] ^= 0xff
    refused(readCheckinPayload(corrupt.toString("base64url")), /not valid bz2/)
    refused(readCheckinPayload(good.subarray(0, good.length >> 1).toString("base64url")), /not valid bz2/)
    refused(readCheckinPayload(bz2Payload(Buffer.from([0xff, 0xfe, 0x7b]))), /not UTF-8 JSON/)
    refused(readCheckinPayload(bz2Payload(Buffer.from("{'version': 0}"))), /not UTF-8 JSON/)
    // A bomb: 64 MiB of zeros in about a hundred bytes; decompression stops at the limit.
    const bomb = bz2Payload(Buffer.alloc(64 * 1024 * 1024, 0x30))
    assert.isBelow(bomb.length, 1_000)
    const began = performance.now()
    refused(readCheckinPayload(bomb), new RegExp(`more than ${CHECKIN_PAYLOAD_LIMITS.decompressedBytes} bytes`))
    assert.isBelow(performance.now() - began, 10_000)
  })

  it("refuses payloads that are not a report_mirror config (docs/checkin.md#server-rules) and paths outside the rules", () => {
    const check = (value: unknown, reason: RegExp) => refused(readCheckinPayload(checkinPayload(value)), reason)
    check([1, 2], /not a JSON object/)
    check({ ...config(), version: 1 }, /version is not 0/)
    check({ ...config(), version: "0" }, /version is not 0/)
    const { site: _site, ...noSite } = config()
    check(noSite, /global, site or host is missing/)
    check({ ...config(), global: { enabled: "0" } }, /global.enabled is not 1/)
    check({ ...config(), site: { name: "Example.com", password: "" } }, /is empty/)
    check({ ...config(), host: { name: 42 } }, /is empty/)
    check(config({}, { user_active: 1 as unknown as string }), /user_active is not a string/)
    check(config({ extra: { enabled: "1" } }), /category extra has no dirtree object/)
    check(config({ extra: "text" }), /category extra has no dirtree object/)
    check(config({ extra: { enabled: 1, dirtree: {} } }), /enabled is not a string/)
    check(config({ extra: { dirtree: { "a/../../etc": {} } } }), /\.\. segment/)
    check(config({ extra: { dirtree: { "a\u0000b": {} } } }), /NUL/)
    check(config({ extra: { dirtree: { ["x".repeat(4097)]: {} } } }), /longer than 4096 bytes/)
    let nested: Record<string, unknown> = {}
    for (let i = 0; i < 10; i++) nested = { n: nested }
    check(config({ extra: { dirtree: { a: nested } } }), /nests deeper than 8/)
    const small = { ...CHECKIN_PAYLOAD_LIMITS, directories: 3 }
    refused(
      readCheckinPayload(checkinPayload(config({ extra: { dirtree: { a: {}, b: {} } } })), small),
      /more than 3 directories/
    )
    assert.strictEqual(readCheckinPayload(checkinPayload(config()), small)._tag, "Report")
  })
})
