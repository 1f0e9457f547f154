// Golden tests of the redirector's answers (docs/redirector.md#formats): the exact status, headers and bytes of
// mirrorlists, metalinks, errors and redirects for a fixed index, clock and random seed.

import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, layer } from "@effect/vitest"
import { GeoIp, NetworkData, parseNetblockBytes } from "@mirrormanager/actors/ipdata"
import type { FileDetailSource, IndexSource } from "@mirrormanager/actors/redirector"
import { defaultRedirectorSettings, endpointOf, Redirector, seededRandom } from "@mirrormanager/actors/redirector"
import { indexHost as host } from "@mirrormanager/actors/testing"
import { Effect, Layer } from "effect"
import type { Answer } from "../../src/redirector/Answer.ts"
import { AnswerCache } from "../../src/redirector/AnswerCache.ts"
import { metalinkBody } from "../../src/redirector/MirrorlistFormat.ts"
import { answer } from "../../src/redirector/RedirectorAnswer.ts"

// ---- The world ----

const NOW = Date.UTC(2024, 9, 27, 6, 0, 0) // Sun, 27 Oct 2024 06:00:00 GMT
const BUILT_AT = 1_730_000_000_000
const PUBDATE = "Sun, 27 Oct 2024 06:00:00 GMT"

const detail = (timestamp: number, hashes: Partial<FileDetailSource> = {}): FileDetailSource => ({
  filename: "repomd.xml",
  timestamp,
  size: 42,
  md5: null,
  sha1: null,
  sha256: null,
  sha512: null,
  ...hashes
})

const NEWEST = detail(1_729_990_000, {
  md5: "D55795E3C829AD5A803F028C7FA905B9",
  sha1: "e269c7c1bf8de6b35f053cce24841edd3fceee04",
  sha256: "8f4e883b0b5de0158e9508f9d898525ff3813f0db2f9e896a6d3bcab66ed2230",
  sha512:
    "65f29bc6c9810aeb522d0eb72e4c9e5eb756a81b28abe00e4190badf4cc7a9791fdc7c1913c6dd051793359f799fc400974f183ce5efc9a6ec7bd5ddbcbdc688"
})
// 90,000 s older: inside the 4-day window.
const ALTERNATE = detail(1_729_900_000, {
  size: 41,
  md5: "8b1e1becc4ef3a0e1b155cab06997bb4",
  sha1: "d36bda1c672f685e5599b35df6b4fe6ed4f8858a",
  sha256: "20d754d2f0750eccbe1a155ebd1c25b6696fcd74e2a0a1223c755b00acc4ef74",
  sha512:
    "6b7bf282373028752e5caebcae513cc6a9b0c17899f43b33e8dad9c6048761eb78c71f6c78233e0156435aeae69cfc7647dee71671833294dbc10ce43c74a3a8"
})
// 390,000 s older: outside the window.
const STALE = detail(1_729_600_000, { sha256: "c".repeat(64) })

const RPM = "epel-release-9-8.el9.noarch.rpm"

const world: IndexSource = {
  hosts: [
    host(1, "internal", "DE", ["https://mirror.internal.example.net/epel"], {
      private: true,
      netblocks: ["10.1.0.0/16"]
    }),
    host(
      2,
      "de",
      "DE",
      ["http://mirror.example.de/epel", "ftp://ftp.example.de/pub/epel", "https://mirror.example.de/epel"],
      {
        bandwidth: 1000,
        internet2: true
      }
    ),
    host(3, "at", "AT", ["https://mirror.example.at/a&b/epel"]),
    host(4, "us", "US", ["http://mirror.example.us/epel"], { asn: 64500 }),
    // Up to date on the x86_64 tree only.
    host(
      5,
      "jp",
      "JP",
      ["rsync://mirror.example.jp/epel", "https://mirror.example.jp/epel", "http://mirror.example.jp/epel"],
      {
        dirs: [2, 3, 6, 7]
      }
    )
  ],
  categories: [
    { id: 1, name: "Fedora EPEL", topdir: "pub/epel" },
    { id: 2, name: "Fedora Linux", topdir: "pub/fedora/linux" }
  ],
  directories: [
    { id: 1, name: "pub/epel", categories: [{ categoryId: 1, ordinal: 1 }], fileDetails: [] },
    { id: 2, name: "pub/epel/9/Everything/x86_64", categories: [{ categoryId: 1, ordinal: 2 }], fileDetails: [] },
    {
      id: 3,
      name: "pub/epel/9/Everything/x86_64/repodata",
      categories: [{ categoryId: 1, ordinal: 3 }],
      fileDetails: [STALE, NEWEST, ALTERNATE]
    },
    { id: 4, name: "pub/epel/9/Everything/source/tree", categories: [{ categoryId: 1, ordinal: 4 }], fileDetails: [] },
    {
      id: 5,
      name: "pub/epel/9/Everything/source/tree/repodata",
      categories: [{ categoryId: 1, ordinal: 5 }],
      fileDetails: [detail(1_729_000_000, { size: 1234, sha256: "ab".repeat(32) })]
    },
    {
      id: 6,
      name: "pub/epel/9/Everything/x86_64/Packages/e",
      categories: [{ categoryId: 1, ordinal: 6 }],
      fileDetails: [
        {
          ...NEWEST,
          filename: RPM,
          size: 17_000,
          sha256: "8F4E883B0B5DE0158E9508F9D898525FF3813F0DB2F9E896A6D3BCAB66ED2230"
        }
      ]
    },
    {
      id: 7,
      name: "pub/epel/9/Everything/x86_64/Packages/l",
      categories: [{ categoryId: 1, ordinal: 7 }],
      fileDetails: []
    },
    { id: 8, name: "pub/epel/7/x86_64", categories: [{ categoryId: 1, ordinal: 8 }], fileDetails: [] },
    {
      id: 9,
      name: "pub/epel/7/x86_64/repodata",
      categories: [{ categoryId: 1, ordinal: 9 }],
      fileDetails: [detail(1_600_000_000)]
    },
    { id: 10, name: "pub/epel/9/Everything/aarch64", categories: [{ categoryId: 1, ordinal: 10 }], fileDetails: [] },
    { id: 11, name: "pub/epel/old/x86_64", categories: [{ categoryId: 1, ordinal: 11 }], fileDetails: [] },
    {
      id: 20,
      name: "pub/fedora/linux/releases/40/Everything/x86_64/os",
      categories: [{ categoryId: 2, ordinal: 20 }],
      fileDetails: []
    },
    {
      id: 21,
      name: "pub/fedora/linux/releases/40/Everything/x86_64/os/repodata",
      categories: [{ categoryId: 2, ordinal: 21 }],
      fileDetails: [detail(1_713_000_000, { sha256: "cd".repeat(32) })]
    }
  ],
  repositories: [
    { prefix: "epel-9", arch: "aarch64", directoryId: 10, disabled: false },
    { prefix: "epel-9", arch: "x86_64", directoryId: 2, disabled: false },
    { prefix: "epel-archive-7", arch: "x86_64", directoryId: 8, disabled: false },
    { prefix: "epel-old-9", arch: "x86_64", directoryId: 11, disabled: true },
    { prefix: "epel-source-9", arch: "source", directoryId: 4, disabled: false },
    { prefix: "fedora-40", arch: "x86_64", directoryId: 20, disabled: false }
  ],
  redirects: [{ from: "epel-7", to: "epel-archive-7" }],
  overrides: {
    netblockCountries: [
      { netblock: "10.0.0.0/8", country: "DE" },
      { netblock: "192.0.2.0/24", country: "DE" }
    ],
    continentRedirects: []
  }
}

// ---- The redirector ----

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mm-golden-"))
const asnFile = path.join(dataDir, "asn.txt")
const reFile = path.join(dataDir, "re.txt")
fs.writeFileSync(asnFile, "10.0.0.0/8 64500\n203.0.113.0/24 64500\n")
fs.writeFileSync(reFile, "10.1.0.0/16 11537\n")
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

const trustedProxies = [parseNetblockBytes("127.0.0.0/8")!, parseNetblockBytes("::1/128")!]

// Every answer computed afresh, so that each is the one the seeded random source gives.
const redirectorLayer = Redirector.layer(
  { ...defaultRedirectorSettings, answerVariants: 0, trustedProxies },
  {
    random: () => seededRandom([1, 2, 3, 4]),
    now: () => NOW
  }
).pipe(
  Layer.provide([GeoIp.layer, NetworkData.layer({ asnFile, researchNetworksFile: reFile, watchInterval: "1 hour" })])
)

interface Ask {
  readonly peer?: string
  readonly forwardedFor?: string | undefined
  /** Where answers are kept (with a redirector that keeps them). */
  readonly answers?: AnswerCache
}

/** The redirector serving an index of these rows. */
const serve = (redirector: Redirector["Service"], rows: IndexSource) =>
  redirector.replaceIndex(rows, { origin: "database", builtAt: BUILT_AT })

/** The redirector with the world loaded. */
const loaded = Effect.gen(function* () {
  const redirector = yield* Redirector
  serve(redirector, world)
  return redirector
})

/** An answer with its body as text. */
type TextAnswer = Omit<Answer, "body"> & { readonly body: string }

const get = (redirector: Redirector["Service"], url: string, ask: Ask = {}): TextAnswer => {
  const q = url.indexOf("?")
  const reply = answer(redirector, ask.answers === undefined ? {} : { answers: ask.answers }, {
    path: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? "" : url.slice(q + 1),
    peer: ask.peer ?? "192.0.2.10",
    forwardedFor: ask.forwardedFor
  })
  return { ...reply, body: reply.body.map(String).join("") }
}

const TEXT = { "content-type": "text/plain; charset=utf-8", "cache-control": "private" }
const XML = { "content-type": "application/metalink+xml", "cache-control": "private" }

const expectAnswer = (
  actual: TextAnswer,
  status: number,
  headers: Record<string, string | ReadonlyArray<string>>,
  body: string
) => {
  assert.strictEqual(actual.body, body)
  assert.strictEqual(actual.status, status)
  assert.deepStrictEqual(actual.headers, headers)
}

const HEAD = `<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" pubdate="${PUBDATE}" generator="mirrormanager" xmlns:mm0="http://fedorahosted.org/mirrormanager">
`
const envelope = (message: string) => `${HEAD}<!-- ${message}
-->
</metalink>
`

const REPOMD_HEAD = `${HEAD} <files>
  <file name="repomd.xml">
   <mm0:timestamp>1729990000</mm0:timestamp>
   <size>42</size>
   <verification>
    <hash type="md5">d55795e3c829ad5a803f028c7fa905b9</hash>
    <hash type="sha1">e269c7c1bf8de6b35f053cce24841edd3fceee04</hash>
    <hash type="sha256">8f4e883b0b5de0158e9508f9d898525ff3813f0db2f9e896a6d3bcab66ed2230</hash>
    <hash type="sha512">65f29bc6c9810aeb522d0eb72e4c9e5eb756a81b28abe00e4190badf4cc7a9791fdc7c1913c6dd051793359f799fc400974f183ce5efc9a6ec7bd5ddbcbdc688</hash>
   </verification>
   <mm0:alternates>
    <mm0:alternate>
     <mm0:timestamp>1729900000</mm0:timestamp>
     <size>41</size>
     <verification>
      <hash type="md5">8b1e1becc4ef3a0e1b155cab06997bb4</hash>
      <hash type="sha1">d36bda1c672f685e5599b35df6b4fe6ed4f8858a</hash>
      <hash type="sha256">20d754d2f0750eccbe1a155ebd1c25b6696fcd74e2a0a1223c755b00acc4ef74</hash>
      <hash type="sha512">6b7bf282373028752e5caebcae513cc6a9b0c17899f43b33e8dad9c6048761eb78c71f6c78233e0156435aeae69cfc7647dee71671833294dbc10ce43c74a3a8</hash>
     </verification>
    </mm0:alternate>
   </mm0:alternates>
   <resources maxconnections="1">
`
const TAIL = `   </resources>
  </file>
 </files>
</metalink>
`

// ---- Tests ----

const ML = "/pub/mirrorlist"
const MK = "/pub/metalink"
const EPEL9 = "repo=epel-9&arch=x86_64"
const RPM_PATH = `pub/epel/9/Everything/x86_64/Packages/e/${RPM}`
const DIGEST = "j06IOwtd4BWOlQj52JhSX/OBPw2y+eiWptO8q2btIjA="

/** The mirrorlist of a client in DE (NetblockCountry 192.0.2.0/24) for epel-9. */
const DE_MIRRORLIST = `# repo = epel-9 arch = x86_64 country = DE country = AT country = global 
https://mirror.example.de/epel/9/Everything/x86_64/
https://mirror.example.at/a&b/epel/9/Everything/x86_64/
https://mirror.example.jp/epel/9/Everything/x86_64/
http://mirror.example.us/epel/9/Everything/x86_64/
`

/** The metalink of 10.1.2.3: private netblock host, ASN 64500, R&E, DE, AT, then the global fill. */
const RICH_METALINK = `${REPOMD_HEAD}    <url protocol="https" type="https" location="DE" preference="100" mm0:private="True">https://mirror.internal.example.net/epel/9/Everything/x86_64/repodata/repomd.xml</url>
    <url protocol="http" type="http" location="US" preference="99">http://mirror.example.us/epel/9/Everything/x86_64/repodata/repomd.xml</url>
    <url protocol="https" type="https" location="DE" preference="98">https://mirror.example.de/epel/9/Everything/x86_64/repodata/repomd.xml</url>
    <url protocol="http" type="http" location="DE" preference="98">http://mirror.example.de/epel/9/Everything/x86_64/repodata/repomd.xml</url>
    <url protocol="ftp" type="ftp" location="DE" preference="98">ftp://ftp.example.de/pub/epel/9/Everything/x86_64/repodata/repomd.xml</url>
    <url protocol="https" type="https" location="AT" preference="97">https://mirror.example.at/a&amp;b/epel/9/Everything/x86_64/repodata/repomd.xml</url>
    <url protocol="https" type="https" location="JP" preference="96">https://mirror.example.jp/epel/9/Everything/x86_64/repodata/repomd.xml</url>
    <url protocol="http" type="http" location="JP" preference="96">http://mirror.example.jp/epel/9/Everything/x86_64/repodata/repomd.xml</url>
${TAIL}`

const AVAILABLE = `# following repositories are available:
# repo=epel-9&arch=aarch64
# repo=epel-9&arch=x86_64
# repo=epel-archive-7&arch=x86_64
# repo=epel-old-9&arch=x86_64
# repo=epel-source-9&arch=source
# repo=fedora-40&arch=x86_64
`

layer(redirectorLayer, { excludeTestServices: true })("redirector golden answers", (it) => {
  it("endpoints: any path ending in /mirrorlist or /metalink, and /download/<path>", () => {
    assert.strictEqual(endpointOf("/mirrorlist"), "mirrorlist")
    assert.strictEqual(endpointOf("/pub/fedora/mirrorlist"), "mirrorlist")
    assert.strictEqual(endpointOf("/metalink"), "metalink")
    assert.strictEqual(endpointOf("/x/y/metalink"), "metalink")
    assert.strictEqual(endpointOf("/download/pub/epel/x"), "download")
    assert.isUndefined(endpointOf("/mirrorlist/x"))
    assert.isUndefined(endpointOf("/publiclist"))
    assert.isUndefined(endpointOf("/download"))
  })

  it.effect("plain mirrorlist: client country, continent, global fill; https preferred", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(get(r, `${ML}?${EPEL9}`), 200, TEXT, DE_MIRRORLIST)
      // The same through ip=.
      expectAnswer(get(r, `${ML}?${EPEL9}&ip=192.0.2.10`, { peer: "1.1.1.1" }), 200, TEXT, DE_MIRRORLIST)
      // countme and unknown parameters change nothing.
      expectAnswer(get(r, `${ML}?${EPEL9}&countme=1&foo=bar&&x`), 200, TEXT, DE_MIRRORLIST)
      assert.strictEqual(get(r, `${ML}?${EPEL9}&countme=3`).log.countme, "3")
      assert.notInclude(DE_MIRRORLIST, "\r")
    })
  )

  it.effect("plain mirrorlist with every header token: netblock, ASN, R&E, countries, global, protocol, time", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(
        get(r, `${ML}?${EPEL9}&ip=10.1.2.3&protocol=HTTPS,http,https&time&countme=1`),
        200,
        TEXT,
        `# repo = epel-9 arch = x86_64 Using preferred netblock Using ASN 64500 Using R&E network country = DE country = AT country = global protocol = https,http
# database creation time: 1730000000
https://mirror.internal.example.net/epel/9/Everything/x86_64/
http://mirror.example.us/epel/9/Everything/x86_64/
https://mirror.example.de/epel/9/Everything/x86_64/
https://mirror.example.at/a&b/epel/9/Everything/x86_64/
https://mirror.example.jp/epel/9/Everything/x86_64/
`
      )
      // The private host leaves with the netblock; netblock=0 turns off all three.
      expectAnswer(get(r, `${ML}?${EPEL9}&ip=10.1.2.3&netblock=0`), 200, TEXT, DE_MIRRORLIST)
      expectAnswer(get(r, `${ML}?${EPEL9}&ip=192.0.2.1`), 200, TEXT, DE_MIRRORLIST)
      // ASN only (203.0.113.0/24 is AS 64500; GeoIP puts it in AU, where nothing is).
      expectAnswer(
        get(r, `${ML}?${EPEL9}&ip=203.0.113.5`),
        200,
        TEXT,
        `# repo = epel-9 arch = x86_64 Using ASN 64500 country = global 
http://mirror.example.us/epel/9/Everything/x86_64/
https://mirror.example.de/epel/9/Everything/x86_64/
https://mirror.example.at/a&b/epel/9/Everything/x86_64/
https://mirror.example.jp/epel/9/Everything/x86_64/
`
      )
    })
  )

  it.effect("requested countries: case-insensitive, deduplicated, in request order, exact; global", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(
        get(r, `${ML}?country=at,US,AT&${EPEL9}&ip=10.1.2.3`),
        200,
        TEXT,
        `# repo = epel-9 arch = x86_64 country = AT country = US 
https://mirror.example.at/a&b/epel/9/Everything/x86_64/
http://mirror.example.us/epel/9/Everything/x86_64/
`
      )
      // cc= is an alias; path= is normalised in the header.
      expectAnswer(
        get(r, `${ML}?path=/pub//epel/9/Everything/x86_64/&cc=Global`),
        200,
        TEXT,
        `# path = pub/epel/9/Everything/x86_64 country = global 
https://mirror.example.de/epel/9/Everything/x86_64/
https://mirror.example.at/a&b/epel/9/Everything/x86_64/
https://mirror.example.jp/epel/9/Everything/x86_64/
http://mirror.example.us/epel/9/Everything/x86_64/
`
      )
      // Nobody in CH: the other countries of Europe that have carriers, alphabetically.
      expectAnswer(
        get(r, `${ML}?country=ch&${EPEL9}`),
        200,
        TEXT,
        `# repo = epel-9 arch = x86_64 country = AT country = DE 
https://mirror.example.at/a&b/epel/9/Everything/x86_64/
https://mirror.example.de/epel/9/Everything/x86_64/
`
      )
    })
  )

  it.effect("path= of a file: `+` stays literal, %2B is decoded; file URLs end with the file name", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      const expected = `# path = pub/epel/9/Everything/x86_64/Packages/l/libstdc++-devel-1.rpm country = AT 
https://mirror.example.at/a&b/epel/9/Everything/x86_64/Packages/l/libstdc++-devel-1.rpm
`
      expectAnswer(
        get(r, `${ML}?path=pub/epel/9/Everything/x86_64/Packages/l/libstdc++-devel-1.rpm&country=at`),
        200,
        TEXT,
        expected
      )
      expectAnswer(
        get(r, `${ML}?path=pub%2Fepel/9/Everything/x86_64/Packages/l/libstdc%2B%2B-devel-1.rpm&country=at`),
        200,
        TEXT,
        expected
      )
    })
  )

  it.effect("repository redirect, the source arch rule, and the protocol filter", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(
        get(r, `${ML}?repo=epel-7&arch=x86_64&country=de`),
        200,
        TEXT,
        `# repo = epel-archive-7 arch = x86_64 country = DE 
https://mirror.example.de/epel/7/x86_64/
`
      )
      expectAnswer(
        get(r, `${ML}?repo=epel-source-9&arch=x86_64`),
        200,
        TEXT,
        `# repo = epel-source-9 arch = source country = DE country = AT country = global 
https://mirror.example.de/epel/9/Everything/source/tree/
https://mirror.example.at/a&b/epel/9/Everything/source/tree/
http://mirror.example.us/epel/9/Everything/source/tree/
`
      )
      // Nobody carrying the source tree offers rsync: the header says so, and no URL follows.
      expectAnswer(
        get(r, `${ML}?repo=epel-source-9&arch=x86_64&protocol=rsync`),
        200,
        TEXT,
        `# repo = epel-source-9 arch = source protocol = rsync
# no mirror offers protocol(s) rsync
`
      )
      // rsync URLs only when asked for; hosts without one are dropped.
      expectAnswer(
        get(r, `${ML}?${EPEL9}&protocol=rsync`),
        200,
        TEXT,
        `# repo = epel-9 arch = x86_64 country = global protocol = rsync
rsync://mirror.example.jp/epel/9/Everything/x86_64/
`
      )
      expectAnswer(
        get(r, `${ML}?${EPEL9}&protocol=ftp,http&country=de`),
        200,
        TEXT,
        `# repo = epel-9 arch = x86_64 country = DE protocol = ftp,http
http://mirror.example.de/epel/9/Everything/x86_64/
`
      )
    })
  )

  it.effect("zero hosts: the header, then why in a comment; metalink: empty resources with the comment", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      const why = 'no mirror carries this yet: no active host has the category "Fedora Linux"'
      expectAnswer(
        get(r, `${ML}?repo=fedora-40&arch=x86_64`),
        200,
        TEXT,
        `# repo = fedora-40 arch = x86_64 \n# ${why}\n`
      )
      expectAnswer(
        get(r, `${ML}?path=pub/fedora/linux/releases/40/Everything/x86_64/os&time`),
        200,
        TEXT,
        `# path = pub/fedora/linux/releases/40/Everything/x86_64/os \n# database creation time: 1730000000\n# ${why}\n`
      )
      expectAnswer(
        get(r, `${MK}?repo=fedora-40&arch=x86_64`),
        200,
        XML,
        `${HEAD} <files>
  <file name="repomd.xml">
   <mm0:timestamp>1713000000</mm0:timestamp>
   <size>42</size>
   <verification>
    <hash type="sha256">cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd</hash>
   </verification>
   <resources maxconnections="1">
    <!-- ${why} -->
${TAIL}`
      )
    })
  )

  it.effect("zero hosts, each reason in plain words", () =>
    Effect.gen(function* () {
      const r = yield* Redirector
      const FEDORA_OS = "pub/fedora/linux/releases/40/Everything/x86_64/os"
      const fedoraHost = (id: number, urls: ReadonlyArray<string>, extra: Parameters<typeof host>[4] = {}) => {
        const made = host(id, `f${id}`, "DE", urls, extra)
        return { ...made, categories: made.categories.map((c) => ({ ...c, categoryId: 2 })) }
      }
      const withHosts = (hosts: IndexSource["hosts"]) => serve(r, { ...world, hosts })
      const note = (url: string) => get(r, url).body.split("\n").slice(1).join("\n")
      const mirrorlist = `${ML}?repo=fedora-40&arch=x86_64`

      // Hosts with the category, none up to date yet (or stale).
      withHosts([
        fedoraHost(31, ["https://f31.example.org/fedora"], { dirs: [] }),
        fedoraHost(32, ["https://f32.example.org/fedora"], { dirs: [] })
      ])
      assert.strictEqual(
        note(mirrorlist),
        '# no mirror carries this yet: none of the 2 hosts with the category "Fedora Linux" is up to date on it (stale, or not yet verified by a check-in or a crawl)\n'
      )
      // Up to date on the repository's directory, but its repodata/ is stale: left out, and said so.
      withHosts([fedoraHost(31, ["https://f31.example.org/fedora"], { dirs: [20] })])
      assert.strictEqual(
        note(mirrorlist),
        "# no mirror carries this repository: its repodata/ is stale or not yet verified on the 1 host up to date on its directory\n"
      )
      assert.include(
        get(r, `${MK}?repo=fedora-40&arch=x86_64`).body,
        '<!-- no mirror carries this yet: none of the 1 host with the category "Fedora Linux" is up to date on it'
      )
      // No usable URL (the loader leaves out private, unreachable and invalid-TLS URLs).
      withHosts([fedoraHost(31, [])])
      assert.strictEqual(
        note(mirrorlist),
        '# no mirror carries this: the 1 host with the category "Fedora Linux" have no usable URL (each private, unreachable or with an invalid TLS certificate)\n'
      )
      // Only a private host, and the client is not in its netblock.
      withHosts([fedoraHost(31, ["https://f31.example.org/fedora"], { private: true, netblocks: ["10.9.0.0/16"] })])
      assert.strictEqual(
        note(mirrorlist),
        "# no public mirror carries this; the private mirrors that do serve only clients in their own networks\n"
      )
      assert.include(get(r, `${mirrorlist}&ip=10.9.1.1`).body, "https://f31.example.org/fedora/")
      // Allowed-country lists.
      withHosts([fedoraHost(31, ["https://f31.example.org/fedora"], { countriesAllowed: ["FR"] })])
      assert.strictEqual(
        note(mirrorlist),
        "# every mirror carrying this serves only clients of the countries it lists, and DE is not one of them\n"
      )
      // The protocol filter: without protocol=, a host with only rsync is no mirror for a list or a redirect.
      withHosts([fedoraHost(31, ["rsync://f31.example.org/fedora"])])
      assert.strictEqual(note(mirrorlist), "# no mirror offers protocol(s) https,http,ftp\n")
      expectAnswer(
        get(r, `/download/${FEDORA_OS}/repodata/repomd.xml`),
        404,
        { "content-type": "text/plain; charset=utf-8", "cache-control": "private, no-cache" },
        "no mirror available\n# no mirror offers protocol(s) https,http (redirects go to https or http URLs only)\n"
      )
      assert.strictEqual(
        get(r, `/download/${FEDORA_OS}/repodata/repomd.xml?protocol=rsync`).body,
        "no mirror available\n# a redirect goes to an https or http URL, and protocol= allows neither\n"
      )
      assert.strictEqual(get(r, `${mirrorlist}&protocol=rsync`).body.split("\n").length, 3, "one URL after the header")
    })
  )

  it.effect("a repository counts a host only where its repodata/ is up to date too", () =>
    Effect.gen(function* () {
      const r = yield* Redirector
      // JP is up to date on the repository's directory (2) and its packages (6, 7), but not on repodata/ (3).
      const hosts = world.hosts.map((h) =>
        h.id === 5 ? host(5, "jp", "JP", ["https://mirror.example.jp/epel"], { dirs: [2, 6, 7] }) : h
      )
      serve(r, { ...world, hosts })
      const jp = "https://mirror.example.jp/epel/9/Everything/x86_64"
      const everyAnswer = () => [
        get(r, `${ML}?${EPEL9}&country=global`).body,
        get(r, `${ML}?path=pub/epel/9/Everything/x86_64&country=global`).body,
        get(r, `${MK}?${EPEL9}&country=global`).body,
        get(r, `${MK}?path=pub/epel/9/Everything/x86_64&country=global`).body,
        JSON.stringify(get(r, `${ML}?${EPEL9}&redirect&country=jp`).headers),
        JSON.stringify(get(r, `/download/pub/epel/9/Everything/x86_64/repodata/repomd.xml?country=jp`).headers),
        JSON.stringify(get(r, `/download/pub/epel/9/Everything/x86_64/repodata/x-primary.xml.gz?country=jp`).headers),
        JSON.stringify(get(r, `/download/pub/epel/9/Everything/x86_64/?country=jp`).headers)
      ]
      for (const answer of everyAnswer()) {
        assert.notInclude(answer, jp)
        assert.include(answer, "mirror.example.de")
      }
      // Directories that are not a repository's are not affected.
      assert.include(get(r, `${ML}?path=pub/epel/9/Everything/x86_64/Packages/e&country=jp`).body, `${jp}/Packages/e/`)
      // Its repodata/ catching up (an incremental change) brings it back everywhere; falling behind takes it out.
      r.applyChanges({
        hosts: { ids: [5], rows: [host(5, "jp", "JP", ["https://mirror.example.jp/epel"], { dirs: [2, 3, 6, 7] })] }
      })
      for (const answer of everyAnswer()) assert.include(answer, jp)
      r.applyChanges({
        hosts: { ids: [5], rows: [host(5, "jp", "JP", ["https://mirror.example.jp/epel"], { dirs: [2, 6, 7] })] }
      })
      for (const answer of everyAnswer()) assert.notInclude(answer, jp)
      // A repodata/ directory removed and created again is linked to its repository again.
      const repodata = world.directories.find((d) => d.id === 3)!
      r.applyChanges({ directories: { ids: [3], rows: [] } })
      assert.include(get(r, `${ML}?${EPEL9}&country=global`).body, jp, "no repodata/: nothing to require")
      r.applyChanges({ directories: { ids: [], rows: [repodata] } })
      assert.notInclude(get(r, `${ML}?${EPEL9}&country=global`).body, jp)
    })
  )

  it.effect("country=: a well-formed code that is no country is ignored, and the list says so", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      // As if country= were not given: netblock matching stays on.
      const plain = get(r, `${ML}?${EPEL9}&ip=10.1.2.3`).body.split("\n")
      const unknown = get(r, `${ML}?${EPEL9}&ip=10.1.2.3&country=zz`).body.split("\n")
      assert.deepStrictEqual(unknown, [plain[0], "# country = ZZ ignored: not a country code", ...plain.slice(1)])
      // The known codes of the list are used.
      expectAnswer(
        get(r, `${ML}?${EPEL9}&country=zz,at,qq`),
        200,
        TEXT,
        `# repo = epel-9 arch = x86_64 country = AT 
# country = ZZ,QQ ignored: not a country code
https://mirror.example.at/a&b/epel/9/Everything/x86_64/
`
      )
      // The metalink's URLs are the same as without it.
      assert.strictEqual(get(r, `${MK}?${EPEL9}&country=at,zz`).body, get(r, `${MK}?${EPEL9}&country=at`).body)
    })
  )

  it.effect("metalink: main block and alternates in the window, hashes in order, preferences, private mark", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(get(r, `${MK}?${EPEL9}&ip=10.1.2.3`), 200, XML, RICH_METALINK)
      // redirect is ignored on /metalink; countme and unknown parameters too.
      expectAnswer(get(r, `${MK}?${EPEL9}&ip=10.1.2.3&redirect&countme=2&what=ever`), 200, XML, RICH_METALINK)
      // The same document through path= of the repository's directory.
      expectAnswer(get(r, `${MK}?path=pub/epel/9/Everything/x86_64&ip=10.1.2.3`), 200, XML, RICH_METALINK)
    })
  )

  it.effect("metalink: rsync only when protocol= asks, after the host's other URLs; preferences count hosts", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(
        get(r, `${MK}?${EPEL9}&ip=10.1.2.3&protocol=rsync,https`),
        200,
        XML,
        `${REPOMD_HEAD}    <url protocol="https" type="https" location="DE" preference="100" mm0:private="True">https://mirror.internal.example.net/epel/9/Everything/x86_64/repodata/repomd.xml</url>
    <url protocol="https" type="https" location="DE" preference="99">https://mirror.example.de/epel/9/Everything/x86_64/repodata/repomd.xml</url>
    <url protocol="https" type="https" location="AT" preference="98">https://mirror.example.at/a&amp;b/epel/9/Everything/x86_64/repodata/repomd.xml</url>
    <url protocol="https" type="https" location="JP" preference="97">https://mirror.example.jp/epel/9/Everything/x86_64/repodata/repomd.xml</url>
    <url protocol="rsync" type="rsync" location="JP" preference="97">rsync://mirror.example.jp/epel/9/Everything/x86_64/repodata/repomd.xml</url>
${TAIL}`
      )
    })
  )

  it.effect("metalink: a single file detail has no alternates; missing hashes are omitted", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(
        get(r, `${MK}?path=pub/epel/9/Everything/source/tree`),
        200,
        XML,
        `${HEAD} <files>
  <file name="repomd.xml">
   <mm0:timestamp>1729000000</mm0:timestamp>
   <size>1234</size>
   <verification>
    <hash type="sha256">abababababababababababababababababababababababababababababababab</hash>
   </verification>
   <resources maxconnections="1">
    <url protocol="https" type="https" location="DE" preference="100">https://mirror.example.de/epel/9/Everything/source/tree/repodata/repomd.xml</url>
    <url protocol="http" type="http" location="DE" preference="100">http://mirror.example.de/epel/9/Everything/source/tree/repodata/repomd.xml</url>
    <url protocol="ftp" type="ftp" location="DE" preference="100">ftp://ftp.example.de/pub/epel/9/Everything/source/tree/repodata/repomd.xml</url>
    <url protocol="https" type="https" location="AT" preference="99">https://mirror.example.at/a&amp;b/epel/9/Everything/source/tree/repodata/repomd.xml</url>
    <url protocol="http" type="http" location="US" preference="98">http://mirror.example.us/epel/9/Everything/source/tree/repodata/repomd.xml</url>
${TAIL}`
      )
    })
  )

  it.effect("metalink: the newest detail is never dropped, however old", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(
        get(r, `${MK}?repo=epel-7&arch=x86_64&country=at`),
        200,
        XML,
        `${HEAD} <files>
  <file name="repomd.xml">
   <mm0:timestamp>1600000000</mm0:timestamp>
   <size>42</size>
   <verification>
   </verification>
   <resources maxconnections="1">
    <url protocol="https" type="https" location="AT" preference="100">https://mirror.example.at/a&amp;b/epel/7/x86_64/repodata/repomd.xml</url>
${TAIL}`
      )
    })
  )

  it.effect("metalink of a file given by path=: its own name and details, hashes lower-cased", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      const url = (base: string) => `${base}/9/Everything/x86_64/Packages/e/${RPM}`
      expectAnswer(
        get(r, `${MK}?path=${RPM_PATH}&country=de,at`),
        200,
        XML,
        `${HEAD} <files>
  <file name="${RPM}">
   <mm0:timestamp>1729990000</mm0:timestamp>
   <size>17000</size>
   <verification>
    <hash type="md5">d55795e3c829ad5a803f028c7fa905b9</hash>
    <hash type="sha1">e269c7c1bf8de6b35f053cce24841edd3fceee04</hash>
    <hash type="sha256">8f4e883b0b5de0158e9508f9d898525ff3813f0db2f9e896a6d3bcab66ed2230</hash>
    <hash type="sha512">65f29bc6c9810aeb522d0eb72e4c9e5eb756a81b28abe00e4190badf4cc7a9791fdc7c1913c6dd051793359f799fc400974f183ce5efc9a6ec7bd5ddbcbdc688</hash>
   </verification>
   <resources maxconnections="1">
    <url protocol="https" type="https" location="DE" preference="100">${url("https://mirror.example.de/epel")}</url>
    <url protocol="http" type="http" location="DE" preference="100">${url("http://mirror.example.de/epel")}</url>
    <url protocol="ftp" type="ftp" location="DE" preference="100">${url("ftp://ftp.example.de/pub/epel")}</url>
    <url protocol="https" type="https" location="AT" preference="99">${url("https://mirror.example.at/a&amp;b/epel")}</url>
${TAIL}`
      )
    })
  )

  it.effect("metalink preferences stop at 1", () =>
    Effect.gen(function* () {
      // A redirector of its own: its index holds 103 hosts, not the shared world.
      const r = yield* Effect.service(Redirector).pipe(Effect.provide(Layer.fresh(redirectorLayer)))
      r.replaceIndex(
        {
          ...world,
          hosts: Array.from({ length: 103 }, (_, i) =>
            host(100 + i, `m${i}`, "DE", [`https://m${i}.example.org/epel`, `http://m${i}.example.org/epel`])
          )
        },
        { origin: "database", builtAt: BUILT_AT }
      )
      const index = r.status().index!
      const hosts = Array.from({ length: 103 }, (_, i) => {
        const h = index.host(100 + i)!
        return { host: h, urls: h.byCategory.get(1)!.urls }
      })
      const body = metalinkBody(
        PUBDATE,
        "mirrormanager",
        { name: "repomd.xml", details: [NEWEST], subpath: "9/Everything/x86_64/repodata", tail: "/repomd.xml" },
        hosts,
        undefined
      )
      const preferences = [...body.matchAll(/preference="(\d+)"/g)].map((m) => Number(m[1]))
      assert.strictEqual(preferences.length, 206)
      assert.deepStrictEqual(preferences.slice(0, 4), [100, 100, 99, 99])
      assert.deepStrictEqual(preferences.slice(196, 200), [2, 2, 1, 1])
      assert.deepStrictEqual(preferences.slice(200), [1, 1, 1, 1, 1, 1])
    })
  )

  it.effect("errors of both endpoints (docs/redirector.md#errors)", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      const cases: ReadonlyArray<readonly [string, number, string]> = [
        ["arch=x86_64", 400, "# either path=, or repo= and arch= must be specified\n"],
        ["repo=epel-9", 400, "# either path=, or repo= and arch= must be specified\n"],
        ["path=&repo=&arch=x86_64", 400, "# either path=, or repo= and arch= must be specified\n"],
        ["", 400, "# either path=, or repo= and arch= must be specified\n"],
        ["path=pub/nothing/here", 404, "# path = pub/nothing/here error: invalid path\n"],
        ["path=pub/epel/../epel/9", 404, "# path = pub/epel/../epel/9 error: invalid path\n"],
        ["path=pub/epel/./9", 404, "# path = pub/epel/./9 error: invalid path\n"],
        ["path=pub/x--y", 404, "# path = pub/x--y error: invalid path\n"],
        ["repo=epel-10&arch=x86_64", 404, `# repo = epel-10 arch = x86_64 error: invalid repo or arch\n${AVAILABLE}`],
        ["repo=epel-9&arch=ppc64le", 404, `# repo = epel-9 arch = ppc64le error: invalid repo or arch\n${AVAILABLE}`],
        ["repo=epel-old-9&arch=x86_64", 200, "# repo = epel-old-9 arch = x86_64 error: repo disabled\n"],
        [`${EPEL9}&ip=999.1.1.1`, 400, "Cannot parse client IP address. Aborting."],
        [`${EPEL9}&ip=`, 400, "Cannot parse client IP address. Aborting."],
        [
          `${EPEL9}&country=${Array.from({ length: 33 }, (_, i) => `c${i}`).join(",")}`,
          400,
          "# at most 32 countries may be requested\n"
        ]
      ]
      for (const [query, status, body] of cases) {
        expectAnswer(get(r, `${ML}?${query}`), status, TEXT, body)
        const message = body.replace(/^# /, "").replace(/\n$/, "").replace(/--/g, "- -")
        expectAnswer(get(r, `${MK}?${query}`), status, XML, envelope(message))
      }
      assert.strictEqual(
        get(r, `${MK}?path=pub/x--y`).body,
        `${HEAD}<!-- path = pub/x- -y error: invalid path
-->
</metalink>
`
      )
      assert.strictEqual(
        get(r, `${MK}?repo=epel-10&arch=x86_64`).body,
        `${HEAD}<!-- repo = epel-10 arch = x86_64 error: invalid repo or arch
# following repositories are available:
# repo=epel-9&arch=aarch64
# repo=epel-9&arch=x86_64
# repo=epel-archive-7&arch=x86_64
# repo=epel-old-9&arch=x86_64
# repo=epel-source-9&arch=source
# repo=fedora-40&arch=x86_64
-->
</metalink>
`
      )
    })
  )

  it.effect("what an outsider controls cannot reach headers, lines or comments", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      // Control characters: refused before anything is echoed.
      assert.strictEqual(get(r, `${ML}?path=pub/epel/9/x%0A/evil`).status, 404)
      assert.notInclude(get(r, `${ML}?path=pub/epel/9/x%0A/evil`).body, "/evil")
      assert.strictEqual(get(r, `${ML}?repo=epel-9%0D%0AX-Evil:%201&arch=x86_64`).status, 400)
      assert.strictEqual(get(r, `/download/pub/epel/9/Everything/x86_64/x%0D%0AX-Evil:%201`).status, 404)
      // Any other character of a file name is percent-encoded in Location and Link.
      const euro = get(r, "/download/pub/epel/9/Everything/x86_64/%E2%82%AC%20x.iso?country=de")
      assert.strictEqual(euro.status, 302)
      assert.strictEqual(euro.headers.location, "https://mirror.example.de/epel/9/Everything/x86_64/%E2%82%AC%20x.iso")
      // `#` and `?` too: a decoded `%23@evil.example.com` must not become a fragment (or a query) of the mirror's URL.
      for (const [asked, sent] of [
        ["repomd.xml%23@evil.example.com", "repomd.xml%23@evil.example.com"],
        ["repomd.xml%3F@evil.example.com", "repomd.xml%3F@evil.example.com"],
        ["a%2525b%3B%2C%3E", "a%2525b%3B%2C%3E"]
      ] as const) {
        const reply = get(r, `/download/pub/epel/9/Everything/x86_64/repodata/${asked}?country=de`)
        const expected = `https://mirror.example.de/epel/9/Everything/x86_64/repodata/${sent}`
        assert.strictEqual(reply.status, 302, asked)
        assert.strictEqual(reply.headers.location, expected)
        assert.strictEqual(
          (reply.headers.link as ReadonlyArray<string>)[0],
          `<${expected}>; rel=duplicate; pri=1; geo=de`
        )
        const location = new URL(reply.headers.location as string)
        assert.strictEqual(location.host, "mirror.example.de")
        assert.strictEqual(location.hash, "")
        assert.strictEqual(location.search, "")
        // The mirror gets the file name that was asked for.
        assert.strictEqual(decodeURIComponent(location.pathname.split("/").pop()!), decodeURIComponent(asked))
        // A mirrorlist of that file lists the same URL.
        assert.include(
          get(r, `${ML}?path=pub/epel/9/Everything/x86_64/repodata/${asked}&country=de`).body,
          `\n${expected}\n`
        )
      }
      // No "--" survives into a metalink comment, however many dashes.
      assert.notInclude(get(r, `${MK}?path=pub/x---y`).body.split("<!--")[1]!.split("-->")[0]!, "--")
      // Unknown protocols and malformed country codes are refused, not turned into empty lists.
      for (const query of ["protocol=-", "protocol=gopher", "protocol=https,", "country=deu", "country=d1"]) {
        const reply = get(r, `${ML}?${EPEL9}&${query}`)
        if (query === "protocol=https,") assert.strictEqual(reply.status, 200, query)
        else assert.strictEqual(reply.status, 400, query)
      }
    })
  )

  it.effect("a repository whose directory is missing from the index: 500", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      r.applyChanges({
        repositories: {
          repositories: [
            ...world.repositories,
            { prefix: "broken", arch: "x86_64", directoryId: 999, disabled: false }
          ],
          redirects: world.redirects
        }
      })
      const message = "internal error: repository directory missing from index"
      expectAnswer(get(r, `${ML}?repo=broken&arch=x86_64`), 500, TEXT, message)
      expectAnswer(get(r, `${MK}?repo=broken&arch=x86_64`), 500, XML, envelope(message))
    })
  )

  it.effect("metalink without file details: 404 in the envelope", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(
        get(r, `${MK}?repo=epel-9&arch=aarch64`),
        404,
        XML,
        envelope("pub/epel/9/Everything/aarch64/repodata/repomd.xml not found or has not metalink")
      )
      expectAnswer(
        get(r, `${MK}?path=pub/epel/9/Everything/aarch64`),
        404,
        XML,
        envelope("pub/epel/9/Everything/aarch64/repodata/repomd.xml not found or has not metalink")
      )
      expectAnswer(
        get(r, `${MK}?path=pub/epel/9/Everything/x86_64/Packages/l/libstdc++-devel-1.rpm`),
        404,
        XML,
        envelope("pub/epel/9/Everything/x86_64/Packages/l/libstdc++-devel-1.rpm not found or has not metalink")
      )
      // The mirrorlist of that directory is fine.
      assert.strictEqual(get(r, `${ML}?repo=epel-9&arch=aarch64&country=at`).status, 200)
    })
  )

  it.effect("no index yet: 503 with Retry-After on both endpoints and downloads", () =>
    Effect.gen(function* () {
      // A redirector of its own, that has no index yet.
      const r = yield* Effect.service(Redirector).pipe(Effect.provide(Layer.fresh(redirectorLayer)))
      expectAnswer(get(r, `${ML}?${EPEL9}`), 503, { ...TEXT, "retry-after": "10" }, "service starting")
      expectAnswer(get(r, `${MK}?${EPEL9}`), 503, { ...XML, "retry-after": "10" }, envelope("service starting"))
      assert.strictEqual(get(r, `/download/${RPM_PATH}`).status, 503)
    })
  )

  it.effect("X-Forwarded-For is honoured from trusted proxies only, walked from the right", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      const ask = (peer: string, forwardedFor: string | undefined) => get(r, `${ML}?${EPEL9}`, { peer, forwardedFor })
      const netblockHeader = "# repo = epel-9 arch = x86_64 Using preferred netblock "
      // Untrusted peer: the header is ignored.
      let a = ask("192.0.2.10", "10.1.2.3")
      assert.strictEqual(a.log.client, "192.0.2.10")
      assert.strictEqual(a.body, DE_MIRRORLIST)
      // Trusted peer: the right-most untrusted entry is the client, not the left-most (spoofable) one.
      a = ask("127.0.0.1", "10.1.2.3, 192.0.2.10, 127.0.0.2")
      assert.strictEqual(a.log.client, "192.0.2.10")
      assert.strictEqual(a.body, DE_MIRRORLIST)
      a = ask("127.0.0.1", "192.0.2.10,10.1.2.3")
      assert.strictEqual(a.log.client, "10.1.2.3")
      assert.isTrue(a.body.startsWith(netblockHeader))
      // All trusted: the left-most.
      assert.strictEqual(ask("127.0.0.1", "127.0.0.5, 127.0.0.6").log.client, "127.0.0.5")
      // An entry that is no address ends the walk: what lies left of it is nobody's word.
      assert.strictEqual(ask("127.0.0.1", "10.1.2.3, unknown").log.client, "127.0.0.1")
      assert.strictEqual(ask("127.0.0.1", "10.1.2.3, 192.0.2.10:4711, 127.0.0.7").log.client, "127.0.0.7")
      // An IPv6 proxy, an IPv4-mapped peer and an IPv4-mapped client.
      a = ask("::1", "::ffff:10.1.2.3")
      assert.strictEqual(a.log.client, "10.1.2.3")
      assert.isTrue(a.body.startsWith(netblockHeader))
      assert.strictEqual(ask("::ffff:127.0.0.1", "10.1.2.3").log.client, "10.1.2.3")
      // ip= overrides both.
      assert.strictEqual(
        get(r, `${ML}?${EPEL9}&ip=192.0.2.10`, { peer: "127.0.0.1", forwardedFor: "10.1.2.3" }).body,
        DE_MIRRORLIST
      )
    })
  )

  it.effect("IPv4-mapped IPv6 clients are IPv4 (netblock, country)", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      const mapped = get(r, `${ML}?${EPEL9}`, { peer: "::ffff:10.1.2.3" })
      assert.strictEqual(mapped.log.client, "10.1.2.3")
      assert.strictEqual(mapped.body, get(r, `${ML}?${EPEL9}`, { peer: "10.1.2.3" }).body)
      assert.isTrue(mapped.body.startsWith("# repo = epel-9 arch = x86_64 Using preferred netblock "))
      assert.strictEqual(get(r, `${ML}?${EPEL9}&ip=::ffff:192.0.2.10`).body, DE_MIRRORLIST)
      // GeoIP: 89.160.20.113 is in SE, where nothing is: DE and AT are the rest of Europe.
      assert.strictEqual(get(r, `${ML}?${EPEL9}`, { peer: "::ffff:89.160.20.113" }).log.country, "SE")
    })
  )

  it.effect("download mode: 302 to the first candidate, Link headers, Digest, no-cache", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      const url = (base: string) => `${base}/9/Everything/x86_64/Packages/e/${RPM}`
      const de = url("https://mirror.example.de/epel")
      const at = url("https://mirror.example.at/a&b/epel")
      const jp = url("https://mirror.example.jp/epel")
      const us = url("http://mirror.example.us/epel")
      const digest = { digest: `SHA-256=${DIGEST}`, "repr-digest": `sha-256=:${DIGEST}:` }
      const expected = {
        location: de,
        "cache-control": "private, no-cache",
        link: [
          `<${de}>; rel=duplicate; pri=1; geo=de`,
          `<${at}>; rel=duplicate; pri=2; geo=at`,
          `<${jp}>; rel=duplicate; pri=3; geo=jp`,
          `<${us}>; rel=duplicate; pri=4; geo=us`
        ],
        ...digest
      }
      expectAnswer(get(r, `/download/${RPM_PATH}`), 302, expected, "")
      // HEAD (same headers, no body) is the HTTP server's part: see cluster-node/test/Redirector.test.ts.
      // protocol=https leaves out the http-only host.
      expectAnswer(
        get(r, `/download/${RPM_PATH}?protocol=https`),
        302,
        {
          location: de,
          "cache-control": "private, no-cache",
          link: [
            `<${de}>; rel=duplicate; pri=1; geo=de`,
            `<${at}>; rel=duplicate; pri=2; geo=at`,
            `<${jp}>; rel=duplicate; pri=3; geo=jp`
          ],
          ...digest
        },
        ""
      )
      // A file without details: no Digest.
      const pkg = `pub/epel/9/Everything/x86_64/Packages/l/libstdc++-devel-1.rpm`
      const plain = get(r, `/download/${pkg}?country=at`)
      expectAnswer(
        plain,
        302,
        {
          location: `https://mirror.example.at/a&b/epel/9/Everything/x86_64/Packages/l/libstdc++-devel-1.rpm`,
          "cache-control": "private, no-cache",
          link: [
            "<https://mirror.example.at/a&b/epel/9/Everything/x86_64/Packages/l/libstdc++-devel-1.rpm>; rel=duplicate; pri=1; geo=at"
          ]
        },
        ""
      )
    })
  )

  it.effect("redirect mode of /mirrorlist: top 5 Link headers, private hosts included via the netblock", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      const dir = (base: string) => `${base}/9/Everything/x86_64/`
      const urls = [
        [dir("https://mirror.internal.example.net/epel"), "de"],
        [dir("http://mirror.example.us/epel"), "us"],
        [dir("https://mirror.example.de/epel"), "de"],
        [dir("https://mirror.example.at/a&b/epel"), "at"],
        [dir("https://mirror.example.jp/epel"), "jp"]
      ] as const
      expectAnswer(
        get(r, `${ML}?${EPEL9}&redirect&ip=10.1.2.3`),
        302,
        {
          location: urls[0][0],
          "cache-control": "private, no-cache",
          link: urls.map(([u, geo], i) => `<${u}>; rel=duplicate; pri=${i + 1}; geo=${geo}`)
        },
        ""
      )
      // redirect with any value.
      assert.strictEqual(get(r, `${ML}?${EPEL9}&redirect=0&ip=10.1.2.3`).status, 302)
    })
  )

  it.effect("download mode without a mirror: 404 no mirror available; bad paths are invalid", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(
        get(r, "/download/pub/fedora/linux/releases/40/Everything/x86_64/os/x.iso"),
        404,
        { "content-type": "text/plain; charset=utf-8", "cache-control": "private, no-cache" },
        'no mirror available\n# no mirror carries this yet: no active host has the category "Fedora Linux"\n'
      )
      // Only rsync asked for: no http(s) candidate.
      assert.strictEqual(get(r, `/download/${RPM_PATH}?protocol=rsync`).status, 404)
      for (const bad of ["/download/pub/epel/../epel/9/x.rpm", "/download/nowhere/x.rpm", "/download/"]) {
        const a = get(r, bad)
        assert.strictEqual(a.status, 404, bad)
        assert.notProperty(a.headers, "location")
      }
    })
  )
})

const strictLayer = Redirector.layer(
  {
    minimum: 1,
    allowIpOverride: false,
    maxStaleDays: 1,
    generator: "mm&co",
    httpsOnly: true,
    answerVariants: 0,
    answerRefresh: 1,
    answerCacheBytes: 0,
    trustedProxies
  },
  { random: () => seededRandom([1, 2, 3, 4]), now: () => NOW }
).pipe(
  Layer.provide([GeoIp.layer, NetworkData.layer({ asnFile, researchNetworksFile: reFile, watchInterval: "1 hour" })])
)

layer(strictLayer, { excludeTestServices: true })("redirector golden answers, other settings", (it) => {
  it.effect("minimum 1: no global fill once the client's country and continent have a host", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(
        get(r, `${ML}?${EPEL9}`),
        200,
        TEXT,
        `# repo = epel-9 arch = x86_64 country = DE country = AT 
https://mirror.example.de/epel/9/Everything/x86_64/
https://mirror.example.at/a&b/epel/9/Everything/x86_64/
`
      )
    })
  )

  it.effect("ip= is ignored when the override is not allowed", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      const a = get(r, `${ML}?${EPEL9}&ip=10.1.2.3`)
      assert.strictEqual(a.log.client, "192.0.2.10")
      assert.isFalse(a.body.includes("netblock"))
    })
  )

  it.effect("the alternates window follows maxStaleDays; the generator is escaped", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      expectAnswer(
        get(r, `${MK}?${EPEL9}&country=at`),
        200,
        XML,
        `<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" pubdate="${PUBDATE}" generator="mm&amp;co" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>1729990000</mm0:timestamp>
   <size>42</size>
   <verification>
    <hash type="md5">d55795e3c829ad5a803f028c7fa905b9</hash>
    <hash type="sha1">e269c7c1bf8de6b35f053cce24841edd3fceee04</hash>
    <hash type="sha256">8f4e883b0b5de0158e9508f9d898525ff3813f0db2f9e896a6d3bcab66ed2230</hash>
    <hash type="sha512">65f29bc6c9810aeb522d0eb72e4c9e5eb756a81b28abe00e4190badf4cc7a9791fdc7c1913c6dd051793359f799fc400974f183ce5efc9a6ec7bd5ddbcbdc688</hash>
   </verification>
   <resources maxconnections="1">
    <url protocol="https" type="https" location="AT" preference="100">https://mirror.example.at/a&amp;b/epel/9/Everything/x86_64/repodata/repomd.xml</url>
${TAIL}`
      )
    })
  )

  it.effect("httpsOnly: redirects and Link headers use https URLs only", () =>
    Effect.gen(function* () {
      const r = yield* loaded
      const a = get(r, `/download/${RPM_PATH}?country=us,de`)
      assert.strictEqual(a.status, 302)
      assert.strictEqual(a.headers.location, `https://mirror.example.de/epel/9/Everything/x86_64/Packages/e/${RPM}`)
      assert.deepStrictEqual(a.headers.link, [
        `<https://mirror.example.de/epel/9/Everything/x86_64/Packages/e/${RPM}>; rel=duplicate; pri=1; geo=de`
      ])
      // The only US mirror has no https URL: it is no candidate, so the request is not "found" in the US and the
      // worldwide list (of https mirrors) is used.
      const us = get(r, `/download/${RPM_PATH}?country=us`)
      assert.strictEqual(us.status, 302)
      assert.strictEqual(us.headers.location, `https://mirror.example.de/epel/9/Everything/x86_64/Packages/e/${RPM}`)
    })
  )
})

// Answers kept as a node keeps them.
const keepingLayer = Redirector.layer(
  { ...defaultRedirectorSettings, answerVariants: 8, answerRefresh: 32, trustedProxies },
  { random: () => seededRandom([1, 2, 3, 4]), now: () => NOW }
).pipe(
  Layer.provide([GeoIp.layer, NetworkData.layer({ asnFile, researchNetworksFile: reFile, watchInterval: "1 hour" })])
)

layer(keepingLayer, { excludeTestServices: true })("redirector golden answers, kept", (it) => {
  it.effect("an empty answer is kept, and says anew why once a host, a directory or a category changes", () =>
    Effect.gen(function* () {
      const r = yield* Redirector
      const answers = new AnswerCache(16 * 1024 * 1024)
      const FEDORA_OS = "pub/fedora/linux/releases/40/Everything/x86_64/os"
      const os = world.directories.find((d) => d.id === 20)!
      const osRepodata = world.directories.find((d) => d.id === 21)!
      const fedoraHost = (dirs: ReadonlyArray<number>, urls = ["https://f31.example.org/fedora"]) => {
        const made = host(31, "f31", "DE", urls, { dirs })
        return { ...made, categories: made.categories.map((c) => ({ ...c, categoryId: 2 })) }
      }
      /** Asks `times` times; every answer is the same; how many were sent as kept, how many made afresh. */
      const ask = (url: string, times = 1) => {
        const [kept, fresh] = [answers.kept, answers.fresh]
        const first = get(r, url, { answers })
        for (let i = 1; i < times; i++) assert.strictEqual(get(r, url, { answers }).body, first.body)
        return { ...first, kept: answers.kept - kept, fresh: answers.fresh - fresh }
      }
      const note = (url: string, times = 1) => {
        const asked = ask(url, times)
        return { note: asked.body.split("\n").slice(1).join("\n"), kept: asked.kept, fresh: asked.fresh }
      }
      const mirrorlist = `${ML}?repo=fedora-40&arch=x86_64`
      serve(r, { ...world, directories: world.directories.filter((d) => d.id !== 21) })

      // No host has the category: made once, then sent as kept (a mirrorlist, a metalink, a redirect).
      const noHost = '# no mirror carries this yet: no active host has the category "Fedora Linux"\n'
      assert.deepStrictEqual(note(mirrorlist, 50), { note: noHost, kept: 49, fresh: 1 })
      const download = ask(`/download/${FEDORA_OS}/`, 20)
      assert.strictEqual(download.status, 404)
      assert.deepInclude(download, { kept: 19, fresh: 1 })
      // A host gains the category (up to date on nothing: the directory's carriers stay the same).
      r.applyChanges({ hosts: { ids: [], rows: [fedoraHost([])] } })
      assert.deepStrictEqual(note(mirrorlist, 50), {
        note: '# no mirror carries this yet: none of the 1 host with the category "Fedora Linux" is up to date on it (stale, or not yet verified by a check-in or a crawl)\n',
        kept: 49,
        fresh: 1
      })
      // Up to date on the repository's directory, which has no repodata/ yet: listed.
      r.applyChanges({ hosts: { ids: [31], rows: [fedoraHost([20])] } })
      assert.include(ask(mirrorlist).body, `https://f31.example.org/fedora/releases/40/Everything/x86_64/os/`)
      // A protocol filter that removes every carrier: kept too.
      assert.deepStrictEqual(note(`${mirrorlist}&protocol=rsync`, 30), {
        note: "# no mirror offers protocol(s) rsync\n",
        kept: 29,
        fresh: 1
      })
      // Its repodata/ appears, and the host is not up to date on it.
      r.applyChanges({ directories: { ids: [], rows: [osRepodata] } })
      assert.deepStrictEqual(note(mirrorlist, 30), {
        note: "# no mirror carries this repository: its repodata/ is stale or not yet verified on the 1 host up to date on its directory\n",
        kept: 29,
        fresh: 1
      })
      // Metalinks too.
      const metalink = ask(`${MK}?repo=fedora-40&arch=x86_64`, 10)
      assert.include(metalink.body, `pubdate="${PUBDATE}"`)
      assert.include(metalink.body, "<!-- no mirror carries this yet: none of the 1 host with the category")
      assert.deepInclude(metalink, { kept: 9, fresh: 1 })

      // A directory linked to no category, then to its category (no host changes meanwhile).
      r.applyChanges({ hosts: { ids: [31], rows: [] } })
      r.applyChanges({ directories: { ids: [20], rows: [{ ...os, categories: [] }] } })
      assert.deepStrictEqual(note(mirrorlist, 10), {
        note: "# no mirror carries this: it belongs to no category\n",
        kept: 9,
        fresh: 1
      })
      r.applyChanges({ directories: { ids: [20], rows: [os] } })
      assert.deepStrictEqual(note(mirrorlist, 10), { note: noHost, kept: 9, fresh: 1 })

      // The category renamed (a full build, as for any change to categories).
      serve(r, {
        ...world,
        categories: world.categories.map((c) => (c.id === 2 ? { ...c, name: "Fedora Linux (primary)" } : c))
      })
      assert.deepStrictEqual(note(mirrorlist, 10), {
        note: '# no mirror carries this yet: no active host has the category "Fedora Linux (primary)"\n',
        kept: 9,
        fresh: 1
      })
    })
  )
})
