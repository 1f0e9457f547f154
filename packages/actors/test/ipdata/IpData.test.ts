import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import ipaddr from "ipaddr.js"
import {
  type ClientAddress,
  netblockContains,
  parseClientAddress,
  parseNetblockBytes,
  parseNetblockOrError,
  scanDecimal128,
  scanIPv4,
  scanIPv6
} from "../../src/ipdata/IpAddress.ts"
import { PrefixTrie } from "../../src/ipdata/PrefixTrie.ts"
import { parsePrefixList, parseRangeCsv, RangeTable, readTableFiles } from "../../src/ipdata/RangeTable.ts"
import { pseudoRandom } from "../../src/testing/index.ts"

const address = (text: string): ClientAddress => {
  const parsed = parseClientAddress(text)
  if (parsed === undefined) throw new Error(`test address ${text} does not parse`)
  return parsed
}

const netblock = (text: string) => {
  const parsed = parseNetblockBytes(text)
  if (parsed === undefined) throw new Error(`test netblock ${text} does not parse`)
  return parsed
}

const randomBytes = (next: () => number, n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256))

describe("IpAddress", () => {
  it("parses IPv4 and IPv6 client addresses and normalises them", () => {
    assert.deepStrictEqual(parseClientAddress("192.0.2.1"), {
      family: 4,
      bytes: Uint8Array.of(192, 0, 2, 1),
      text: "192.0.2.1"
    })
    const v6 = address(" 2001:DB8:0:0:1:0:0:1 ")
    assert.strictEqual(v6.family, 6)
    assert.strictEqual(v6.text, "2001:db8::1:0:0:1")
    assert.strictEqual(v6.bytes.length, 16)
    assert.strictEqual(address("[2001:db8::1]").text, "2001:db8::1")
    assert.strictEqual(address("::").text, "::")
  })

  it("turns IPv4-mapped IPv6 into IPv4", () => {
    const mapped = address("::ffff:89.160.20.113")
    assert.strictEqual(mapped.family, 4)
    assert.strictEqual(mapped.text, "89.160.20.113")
    assert.deepStrictEqual(mapped.bytes, Uint8Array.of(89, 160, 20, 113))
    assert.strictEqual(address("::ffff:5aa0:1471").text, "90.160.20.113")
  })

  it("refuses what is not one address", () => {
    for (const text of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "010.0.0.1",
      "1.2.3.04",
      "0x7f.0.0.1",
      "fe80::1%eth0",
      "2001:db8::/32",
      "1::2::3",
      "example.org",
      "[1.2.3.4"
    ]) {
      assert.strictEqual(parseClientAddress(text), undefined, text)
    }
  })

  it("parses netblocks with the domain's rules: host bits cleared, bare addresses, masks, mapped", () => {
    const block = netblock("10.1.2.3/16")
    assert.deepStrictEqual(
      { family: block.family, bytes: [...block.bytes], prefixLength: block.prefixLength, text: block.text },
      { family: 4, bytes: [10, 1, 0, 0], prefixLength: 16, text: "10.1.0.0/16" }
    )
    assert.strictEqual(netblock("2001:db8:ffff::/32").text, "2001:db8::/32")
    assert.strictEqual(netblock("192.0.2.7").prefixLength, 32)
    assert.strictEqual(netblock("2001:db8::1").prefixLength, 128)
    assert.strictEqual(netblock("10.0.0.0/255.255.0.0").text, "10.0.0.0/16")
    assert.strictEqual(netblock("::ffff:10.0.0.0/104").text, "10.0.0.0/8")
    assert.strictEqual(parseNetblockOrError("10.0.0.0/33"), "prefix length /33 is larger than 32")
    assert.match(String(parseNetblockOrError("mirror.example.org")), /DNS name/)
    assert.strictEqual(parseNetblockBytes("nonsense/8"), undefined)
  })

  it("knows which addresses a netblock contains", () => {
    assert.isTrue(netblockContains(netblock("10.1.0.0/17"), address("10.1.127.255")))
    assert.isFalse(netblockContains(netblock("10.1.0.0/17"), address("10.1.128.0")))
    assert.isTrue(netblockContains(netblock("0.0.0.0/0"), address("203.0.113.9")))
    assert.isFalse(netblockContains(netblock("0.0.0.0/0"), address("2001:db8::1")))
    assert.isTrue(netblockContains(netblock("2001:db8::/33"), address("2001:db8:7fff::1")))
    assert.isFalse(netblockContains(netblock("2001:db8::/33"), address("2001:db8:8000::1")))
  })

  it("scans IPv6 text the way ipaddr.js reads it, in every spelling", () => {
    const next = pseudoRandom(6)
    const words = new Uint32Array(4)
    for (let n = 0; n < 2000; n++) {
      const bytes = randomBytes(next, 16)
      // Runs of zero groups, so that :: appears in many places.
      for (let g = 0; g < 8; g++) if (next() < 0.4) bytes[2 * g] = bytes[2 * g + 1] = 0
      const parsed = ipaddr.fromByteArray([...bytes]) as ipaddr.IPv6
      const expected = [0, 1, 2, 3].map((w) => new DataView(bytes.buffer).getUint32(4 * w))
      const fixedLength = parsed.parts.map((part) => part.toString(16).padStart(4, "0").toUpperCase()).join(":")
      for (const text of [parsed.toString(), parsed.toNormalizedString(), fixedLength]) {
        assert.isTrue(scanIPv6(text, 0, text.length, words, 0), text)
        assert.deepStrictEqual([...words], expected, text)
      }
    }
    assert.isTrue(scanIPv6("::ffff:1.2.3.4", 0, 14, words, 0))
    assert.deepStrictEqual([...words], [0, 0, 0xffff, 0x01020304])
    for (const bad of [
      ":",
      ":::",
      "1:2",
      "1::2::3",
      "12345::",
      "1:2:3:4:5:6:7:8:9",
      "::1.2.3",
      "1:2:3:4:5:6:7:1.2.3.4",
      "g::"
    ]) {
      assert.isFalse(scanIPv6(bad, 0, bad.length, words, 0), bad)
    }
  })

  it("scans dotted quads and 128-bit decimals", () => {
    assert.strictEqual(scanIPv4("x255.255.255.255x", 1, 16), 4294967295)
    assert.strictEqual(scanIPv4("0.0.0.0", 0, 7), 0)
    for (const bad of ["1.2.3", "1.2.3.4.", "01.2.3.4", "1.2.3.256", "1..2.3", ""]) {
      assert.strictEqual(scanIPv4(bad, 0, bad.length), -1, bad)
    }
    const words = new Uint32Array(4)
    const max = "340282366920938463463374607431768211455"
    assert.isTrue(scanDecimal128(max, 0, max.length, words, 0))
    assert.deepStrictEqual([...words], [4294967295, 4294967295, 4294967295, 4294967295])
    const v6 = "42540766411282592856903984951653826560" // 2001:db8::
    assert.isTrue(scanDecimal128(v6, 0, v6.length, words, 0))
    assert.deepStrictEqual([...words], [0x20010db8, 0, 0, 0])
    assert.isFalse(scanDecimal128("340282366920938463463374607431768211456", 0, 39, words, 0))
  })
})

describe("PrefixTrie", () => {
  it("returns every containing prefix, most specific first", () => {
    const trie = new PrefixTrie<number>()
    trie.insert(netblock("10.0.0.0/8"), 1)
    trie.insert(netblock("10.1.0.0/16"), 2)
    trie.insert(netblock("10.1.2.0/24"), 3)
    trie.insert(netblock("10.1.2.0/24"), 4)
    trie.insert(netblock("0.0.0.0/0"), 9)
    trie.insert(netblock("10.1.2.3/32"), 5)
    trie.insert(netblock("10.2.0.0/16"), 6)
    assert.deepStrictEqual(trie.matches(address("10.1.2.3")), [
      { prefixLength: 32, values: [5] },
      { prefixLength: 24, values: [3, 4] },
      { prefixLength: 16, values: [2] },
      { prefixLength: 8, values: [1] },
      { prefixLength: 0, values: [9] }
    ])
    assert.deepStrictEqual(trie.matches(address("10.1.3.0")), [
      { prefixLength: 16, values: [2] },
      { prefixLength: 8, values: [1] },
      { prefixLength: 0, values: [9] }
    ])
    assert.deepStrictEqual(trie.matches(address("11.0.0.0")), [{ prefixLength: 0, values: [9] }])
    assert.deepStrictEqual(trie.longestMatch(address("10.1.2.200")), { prefixLength: 24, values: [3, 4] })
    assert.deepStrictEqual(trie.matches(address("2001:db8::1")), [])
    assert.strictEqual(trie.size, 7)
  })

  it("removes values, counts repeated inserts and prunes empty nodes", () => {
    const trie = new PrefixTrie<number>()
    const empty = trie.nodes
    trie.insert(netblock("10.1.2.0/24"), 3)
    trie.insert(netblock("10.1.2.0/24"), 4)
    trie.insert(netblock("10.1.2.0/24"), 4)
    trie.insert(netblock("10.0.0.0/8"), 1)
    const before = trie.matches(address("10.1.2.3"))
    assert.isTrue(trie.remove(netblock("10.1.2.0/24"), 3))
    assert.isFalse(trie.remove(netblock("10.1.2.0/24"), 3))
    assert.isFalse(trie.remove(netblock("10.1.0.0/16"), 4))
    assert.deepStrictEqual(before[0], { prefixLength: 24, values: [3, 4] }, "handed-out values are snapshots")
    assert.isTrue(trie.remove(netblock("10.1.2.0/24"), 4))
    assert.deepStrictEqual(trie.matches(address("10.1.2.3"))[0], { prefixLength: 24, values: [4] }, "inserted twice")
    assert.isTrue(trie.remove(netblock("10.1.2.0/24"), 4))
    assert.deepStrictEqual(trie.matches(address("10.1.2.3")), [{ prefixLength: 8, values: [1] }])
    assert.strictEqual(trie.nodes, empty + 8, "only the /8 path is left")
    assert.isTrue(trie.remove(netblock("10.0.0.0/8"), 1))
    assert.strictEqual(trie.nodes, empty)
    assert.strictEqual(trie.size, 0)
    // Freed nodes are reused.
    trie.insert(netblock("192.168.0.0/16"), 7)
    assert.deepStrictEqual(trie.matches(address("192.168.4.4")), [{ prefixLength: 16, values: [7] }])
  })

  it("keeps IPv6 apart and matches up to /128", () => {
    const trie = new PrefixTrie<string>()
    trie.insert(netblock("2001:db8::/32"), "doc")
    trie.insert(netblock("2001:db8:1::/48"), "site")
    trie.insert(netblock("2001:db8:1::1/128"), "host")
    trie.insert(netblock("0.0.0.0/0"), "v4")
    assert.deepStrictEqual(
      trie.matches(address("2001:db8:1::1")).map((m) => [m.prefixLength, ...m.values]),
      [
        [128, "host"],
        [48, "site"],
        [32, "doc"]
      ]
    )
    assert.deepStrictEqual(
      trie.matches(address("2001:db8:2::1")).map((m) => m.prefixLength),
      [32]
    )
    assert.deepStrictEqual(trie.matches(address("2001:db9::")), [])
    assert.deepStrictEqual(trie.matches(address("::ffff:8.8.8.8")), [{ prefixLength: 0, values: ["v4"] }])
  })

  it("agrees with a linear scan on random prefixes", () => {
    const next = pseudoRandom(1)
    const trie = new PrefixTrie<number>()
    const stored: Array<{ block: ReturnType<typeof netblock>; value: number }> = []
    for (let i = 0; i < 600; i++) {
      const v6 = next() < 0.4
      const bytes = randomBytes(next, v6 ? 16 : 4)
      // Few distinct high bits, so that prefixes nest often.
      bytes[0] = v6 ? 0x20 : 10
      bytes[1] = Math.floor(next() * 4)
      const length = v6 ? 8 + Math.floor(next() * 121) : 8 + Math.floor(next() * 25)
      const block = netblock(`${ipaddr.fromByteArray([...bytes]).toString()}/${length}`)
      stored.push({ block, value: i })
      trie.insert(block, i)
    }
    // Remove a third, so pruning is part of what is checked.
    const kept = stored.filter(({ block, value }) => (value % 3 === 0 ? !trie.remove(block, value) : true))
    for (let n = 0; n < 3000; n++) {
      const v6 = next() < 0.4
      const bytes = randomBytes(next, v6 ? 16 : 4)
      bytes[0] = v6 ? 0x20 : 10
      bytes[1] = Math.floor(next() * 4)
      const client = address(ipaddr.fromByteArray([...bytes]).toString())
      const expected = new Map<number, Array<number>>()
      for (const { block, value } of kept) {
        if (netblockContains(block, client))
          expected.set(block.prefixLength, [...(expected.get(block.prefixLength) ?? []), value])
      }
      const wanted = [...expected.entries()]
        .sort((a, b) => b[0] - a[0])
        .map(([prefixLength, values]) => ({ prefixLength, values }))
      assert.deepStrictEqual(trie.matches(client), wanted, client.text)
    }
  })
})

describe("RangeTable", () => {
  it("flattens nested prefixes: the longest prefix wins, up to the range edges", () => {
    const table = RangeTable.fromPrefixes(
      [
        ["10.0.0.0/8", 1],
        ["10.1.0.0/16", 2],
        ["10.1.2.0/24", 3],
        ["11.0.0.0/8", 4],
        ["10.0.0.0/16", 5],
        ["10.255.255.255/32", 6],
        ["255.255.255.255/32", 7]
      ].map(([text, value]) => ({ netblock: netblock(text as string), value: value as number }))
    )
    const expectations: Array<[string, number | undefined]> = [
      ["9.255.255.255", undefined],
      ["10.0.0.0", 5],
      ["10.0.255.255", 5],
      ["10.1.0.0", 2],
      ["10.1.1.255", 2],
      ["10.1.2.0", 3],
      ["10.1.2.255", 3],
      ["10.1.3.0", 2],
      ["10.1.255.255", 2],
      ["10.2.0.0", 1],
      ["10.255.255.254", 1],
      ["10.255.255.255", 6],
      ["11.0.0.0", 4],
      ["11.255.255.255", 4],
      ["12.0.0.0", undefined],
      ["255.255.255.254", undefined],
      ["255.255.255.255", 7],
      ["2001:db8::", undefined]
    ]
    for (const [text, value] of expectations) assert.strictEqual(table.lookup(address(text)), value, text)
    // 10.0/16; 10.1/16 in two pieces around 10.1.2/24, and that /24; the rest of 10/8; the two /32s; 11/8.
    assert.strictEqual(table.size, 8)
  })

  it("flattens nested IPv6 prefixes and reaches the top of the address space", () => {
    const table = RangeTable.fromPrefixes(
      [
        ["2001:db8::/32", 1],
        ["2001:db8:1::/48", 2],
        ["2001:db8:1:2::/64", 3],
        ["8000::/1", 8],
        ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", 9]
      ].map(([text, value]) => ({ netblock: netblock(text as string), value: value as number }))
    )
    const expectations: Array<[string, number | undefined]> = [
      ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", undefined],
      ["2001:db8::", 1],
      ["2001:db8:0:ffff:ffff:ffff:ffff:ffff", 1],
      ["2001:db8:1::", 2],
      ["2001:db8:1:1:ffff:ffff:ffff:ffff", 2],
      ["2001:db8:1:2::", 3],
      ["2001:db8:1:2:ffff:ffff:ffff:ffff", 3],
      ["2001:db8:1:3::", 2],
      ["2001:db8:2::", 1],
      ["2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1],
      ["2001:db9::", undefined],
      ["7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", undefined],
      ["8000::", 8],
      ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 8],
      ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 9],
      ["10.0.0.1", undefined]
    ]
    for (const [text, value] of expectations) assert.strictEqual(table.lookup(address(text)), value, text)
  })

  it("gives the same answers as the longest match of a trie on random nested prefixes", () => {
    const next = pseudoRandom(2)
    const trie = new PrefixTrie<number>()
    const entries: Array<{ netblock: ReturnType<typeof netblock>; value: number }> = []
    for (let i = 0; i < 800; i++) {
      const v6 = next() < 0.5
      const bytes = randomBytes(next, v6 ? 16 : 4)
      bytes[0] = v6 ? 0x20 : 100
      bytes[1] = Math.floor(next() * 3)
      const length = v6 ? 8 + Math.floor(next() * 121) : 8 + Math.floor(next() * 25)
      const block = netblock(`${ipaddr.fromByteArray([...bytes]).toString()}/${length}`)
      // The same prefix again replaces the value (the last one wins), as in the trie below.
      const old = entries.findLast((e) => e.netblock.text === block.text)
      if (old !== undefined) trie.remove(old.netblock, old.value)
      entries.push({ netblock: block, value: i })
      trie.insert(block, i)
    }
    const table = RangeTable.fromPrefixes(entries)
    for (let n = 0; n < 5000; n++) {
      const v6 = next() < 0.5
      const bytes = randomBytes(next, v6 ? 16 : 4)
      bytes[0] = v6 ? 0x20 : 100
      bytes[1] = Math.floor(next() * 3)
      const client = address(ipaddr.fromByteArray([...bytes]).toString())
      assert.strictEqual(table.lookup(client), trie.longestMatch(client)?.values[0], client.text)
    }
  })

  it("builds from start/end ranges in any order, merges neighbours, refuses overlaps", () => {
    const range = (start: string, end: string, value: number) => ({ start: address(start), end: address(end), value })
    const table = RangeTable.fromRanges([
      range("2001:db8::", "2001:db8::ffff", 64500),
      range("192.0.2.128", "192.0.2.255", 64497),
      range("192.0.2.0", "192.0.2.127", 64496),
      range("198.51.100.0", "198.51.100.9", 64496),
      range("2001:db8::1:0", "2001:db8::1:ffff", 64500)
    ])
    assert.strictEqual(table.lookup(address("192.0.2.127")), 64496)
    assert.strictEqual(table.lookup(address("192.0.2.128")), 64497)
    assert.strictEqual(table.lookup(address("198.51.100.10")), undefined)
    assert.strictEqual(table.lookup(address("2001:db8::1:8000")), 64500)
    assert.strictEqual(table.lookup(address("2001:db8::2:0")), undefined)
    assert.strictEqual(table.v6.count, 1, "two adjacent IPv6 ranges with one ASN become one")
    assert.throws(
      () => RangeTable.fromRanges([range("192.0.2.0", "192.0.2.200", 1), range("192.0.2.100", "192.0.2.255", 2)]),
      /overlaps/
    )
    assert.throws(() => RangeTable.fromRanges([range("192.0.2.9", "192.0.2.1", 1)]), /192.0.2.9 > 192.0.2.1/)
  })
})

describe("prefix lists and range CSVs", () => {
  it("reads `<prefix>/<len> <asn>` lines and reports every line it does not use", () => {
    const { table, report } = parsePrefixList(
      [
        "# global netblocks",
        "",
        "134.108.0.0/16 553",
        "0.0.0.0/0 3356",
        "134.108.1.0/24\t64500   # a more specific route",
        "2001:638::/32 680\r",
        "10.0.0.0/33 1",
        "10.0.0.0 1",
        "10.0.0.0/8",
        "10.0.0.0/8 AS1",
        "10.0.0.0/8 1 2",
        "300.0.0.0/8 1",
        "2001:db8::/129 1",
        "192.0.2.77/24 64496",
        "192.0.2.0/24 64497",
        "::ffff:198.51.100.0/120 64498",
        "::/0 1"
      ].join("\n"),
      "global_netblocks.txt"
    )
    assert.strictEqual(table.lookup(address("134.108.2.1")), 553)
    assert.strictEqual(table.lookup(address("134.108.1.1")), 64500)
    assert.strictEqual(table.lookup(address("8.8.8.8")), undefined, "/0 is ignored")
    assert.strictEqual(table.lookup(address("2001:638:1::1")), 680)
    assert.strictEqual(table.lookup(address("192.0.2.1")), 64497, "the later line for the same prefix wins")
    assert.strictEqual(table.lookup(address("198.51.100.200")), 64498)
    assert.deepStrictEqual(
      report.problems.map((p) => [p.line, p.reason.replace(/:.*/, "")]),
      [
        [7, "the IPv4 prefix length is not 0 to 32"],
        [8, "the prefix has no /length"],
        [9, "expected `<prefix>/<length> <asn>`"],
        [10, "the ASN is not a number from 0 to 4294967295"],
        [11, "expected `<prefix>/<length> <asn>`"],
        [12, "not an IPv4 address"],
        [13, "the IPv6 prefix length is not 0 to 128"],
        [14, "192.0.2.0/24 is given again at line 15, which wins"]
      ]
    )
    assert.strictEqual(report.problems[0]?.source, "global_netblocks.txt")
    assert.match(report.problems[0]!.reason, /"10\.0\.0\.0\/33 1"$/)
    assert.deepStrictEqual(
      { ...report, problems: report.problems.length },
      {
        sources: ["global_netblocks.txt"],
        format: "prefixes",
        lines: 17,
        entries: 5,
        defaultRoutes: 2,
        problems: 8,
        problemCount: 8,
        ranges: { v4: 5, v6: 1 }
      }
    )
  })

  it("reads @ip-location-db/asn CSV rows, address or numeric, with quoted organisations", () => {
    const { table, report } = parseRangeCsv(
      [
        '1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."',
        "1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd",
        '16777216,16777471,13335,"Cloudflare, Inc."',
        "16778240,16778241,1",
        "2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project",
        '42540528727329395276160870415022948352,42540528727330604201980485044197654527,24047,"Internet Systems Consortium, Inc."',
        "1.0.16.0,1.0.16.255,2519",
        "1.0.8.0,1.0.8.9,x,Bad ASN",
        "1.0.9.9,1.0.9.0,1,Backwards",
        "1.0.10.0,2001:db8::,1,Mixed",
        "just text"
      ].join("\n")
    )
    assert.strictEqual(table.lookup(address("1.0.0.128")), 13335)
    assert.strictEqual(table.lookup(address("1.0.5.5")), 38803)
    assert.strictEqual(table.lookup(address("1.0.16.200")), 2519)
    assert.strictEqual(table.lookup(address("1.0.3.0")), undefined)
    assert.strictEqual(table.lookup(address("2001:200:1b9::1")), 2500)
    assert.strictEqual(table.lookup(address("2001:200:1ba::1")), 24047)
    assert.deepStrictEqual(
      report.problems.map((p) => [p.line, p.reason.replace(/[:(].*/, "").trim()]),
      [
        [3, "range 1.0.0.0-1.0.0.255 overlaps line 1"],
        [4, "range 1.0.4.0-1.0.4.1 overlaps line 2"],
        [8, "the ASN is not a number from 0 to 4294967295"],
        [9, "start is after end"],
        [10, "start or end is not an IPv4 address"],
        [11, "expected `start,end,asn,organisation`"]
      ]
    )
    assert.strictEqual(report.entries, 5)
    assert.strictEqual(report.format, "ranges")
  })

  it("streams files across chunk boundaries and keeps line numbers", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mm-ranges-"))
    const v4 = path.join(dir, "asn-ipv4.csv")
    const v6 = path.join(dir, "asn-ipv6.csv")
    const rows: Array<string> = []
    for (let i = 0; i < 20_000; i++) {
      // /24s with a multi-byte organisation name, so chunks split inside lines and inside characters.
      rows.push(`10.${i >> 8}.${i & 255}.0,10.${i >> 8}.${i & 255}.255,${64512 + (i % 7)},"Réseau ${i}, ÅS"`)
    }
    rows[12_345] = "10.48.57.0,10.48.57.255,oops"
    fs.writeFileSync(v4, `${rows.join("\r\n")}\r\n`)
    fs.writeFileSync(v6, "2001:db8::,2001:db8::ffff,64500,Doc\n2001:db8:1::,2001:db8:1::ffff,64501,Doc")
    assert.isAbove(fs.statSync(v4).size, 3 * 256 * 1024)
    const { table, report } = await readTableFiles([v4, v6])
    assert.strictEqual(table.lookup(address("10.0.0.1")), 64512)
    assert.strictEqual(table.lookup(address("10.78.31.77")), 64512 + (19_999 % 7))
    assert.strictEqual(table.lookup(address("10.48.57.1")), undefined)
    assert.strictEqual(table.lookup(address("10.48.58.1")), 64512 + (12_346 % 7))
    assert.strictEqual(table.lookup(address("2001:db8:1::1")), 64501)
    assert.deepStrictEqual(
      report.problems.map((p) => [p.source, p.line]),
      [[v4, 12_346]]
    )
    assert.strictEqual(report.entries, 20_001)
    assert.strictEqual(report.lines, 20_002)

    const prefixes = path.join(dir, "global_netblocks.txt")
    fs.writeFileSync(prefixes, "# comment, with a comma\n10.0.0.0/8 1\n")
    assert.strictEqual((await readTableFiles([prefixes])).table.lookup(address("10.9.9.9")), 1)
    try {
      await readTableFiles([v4, prefixes])
      assert.fail("files of two formats were accepted")
    } catch (error) {
      assert.match(
        String(error),
        /global_netblocks\.txt holds `<prefix>\/<length> <asn>` lines but .*asn-ipv4\.csv holds/
      )
    }
    fs.rmSync(dir, { recursive: true })
  })
})
