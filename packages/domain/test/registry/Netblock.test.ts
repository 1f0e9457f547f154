import { assert, describe, it } from "@effect/vitest"
import { defaultNetblockLimits, isWithinLimits, parseNetblock } from "../../src/registry/Netblock.ts"

const normalized = (input: string) => {
  const parsed = parseNetblock(input)
  assert.isTrue(parsed.ok, `${input} should parse`)
  return parsed.ok ? parsed.value : undefined
}

describe("parseNetblock", () => {
  it("clears host bits and keeps the prefix", () => {
    assert.strictEqual(normalized("10.1.2.3/8")?.normalized, "10.0.0.0/8")
    assert.strictEqual(normalized("2001:db8:1:2::1/32")?.normalized, "2001:db8::/32")
  })

  it("reads a bare address as a single host", () => {
    assert.deepStrictEqual(normalized("192.0.2.7"), {
      kind: "cidr",
      family: "ipv4",
      prefix: 32,
      normalized: "192.0.2.7/32"
    })
    assert.strictEqual(normalized("2001:db8::1")?.normalized, "2001:db8::1/128")
  })

  it("accepts a dotted subnet mask", () => {
    assert.strictEqual(normalized("192.168.1.7/255.255.255.0")?.normalized, "192.168.1.0/24")
  })

  it("turns IPv4-mapped IPv6 networks into IPv4", () => {
    assert.strictEqual(normalized("::ffff:10.0.0.1/104")?.normalized, "10.0.0.0/8")
  })

  it("keeps DNS names for resolution at index build time", () => {
    assert.deepStrictEqual(normalized("Mirror.Example.ORG"), { kind: "dns", normalized: "mirror.example.org" })
  })

  it("rejects garbage with a reason", () => {
    for (const bad of [
      "",
      "10.0.0.300/8",
      "10.0.0.0/33",
      "2001:db8::/129",
      "10.0.0.0/255.0.255.0",
      "foo",
      "10.0.0/8"
    ]) {
      const parsed = parseNetblock(bad)
      assert.isFalse(parsed.ok, bad)
      if (!parsed.ok) assert.isAbove(parsed.error.length, 5)
    }
  })

  it("limits site admins to /16 (IPv4) and /32 (IPv6)", () => {
    const within = (s: string) => isWithinLimits(normalized(s)!, defaultNetblockLimits)
    assert.isTrue(within("10.0.0.0/16"))
    assert.isFalse(within("10.0.0.0/15"))
    assert.isTrue(within("2001:db8::/32"))
    assert.isFalse(within("2001:db8::/31"))
    assert.isTrue(within("mirror.example.org"))
  })
})
