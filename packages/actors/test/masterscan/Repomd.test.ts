import { assert, describe, it } from "@effect/vitest"
import { type RepomdTimestamp, repomdTimestamp } from "../../src/masterscan/Repomd.ts"

// As createrepo_c 1.x writes it for a Fedora Everything tree (checksums shortened to keep the file readable).
const CREATEREPO_C = `<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1713180000</revision>
  <tags>
    <distro cpeid="cpe:/o:fedoraproject:fedora:40">Fedora 40</distro>
  </tags>
  <data type="primary">
    <checksum type="sha256">8c0b3a0a1f2e9d8d9b7c1e5e0a4e5f2b1c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f</checksum>
    <open-checksum type="sha256">1f2e3d4c5b6a79880f1e2d3c4b5a69788f9e0d1c2b3a4958677f8e9d0c1b2a39</open-checksum>
    <location href="repodata/8c0b3a0a1f2e9d8d9b7c1e5e0a4e5f2b1c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f-primary.xml.zst"/>
    <timestamp>1713134476</timestamp>
    <size>17654032</size>
    <open-size>151873204</open-size>
  </data>
  <data type="filelists">
    <checksum type="sha256">2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a</checksum>
    <open-checksum type="sha256">3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b</open-checksum>
    <location href="repodata/2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a-filelists.xml.zst"/>
    <timestamp>1713134590</timestamp>
    <size>54870513</size>
    <open-size>708422553</open-size>
  </data>
  <data type="other">
    <checksum type="sha256">4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c</checksum>
    <open-checksum type="sha256">5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d</open-checksum>
    <location href="repodata/4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c-other.xml.zst"/>
    <timestamp>1713134501</timestamp>
    <size>7350117</size>
    <open-size>99651218</open-size>
  </data>
  <data type="primary_db">
    <checksum type="sha256">6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e</checksum>
    <open-checksum type="sha256">708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f</open-checksum>
    <location href="repodata/6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e-primary.sqlite.zst"/>
    <timestamp>1713134523</timestamp>
    <size>25123890</size>
    <open-size>182935552</open-size>
    <database_version>10</database_version>
  </data>
  <data type="group">
    <checksum type="sha256">8192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70</checksum>
    <location href="repodata/8192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70-comps-Everything.x86_64.xml"/>
    <timestamp>1713133001</timestamp>
    <size>1618213</size>
  </data>
  <data type="group_zck">
    <checksum type="sha256">92a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081</checksum>
    <open-checksum type="sha256">8192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70</open-checksum>
    <header-checksum type="sha256">a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192</header-checksum>
    <location href="repodata/92a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081-comps-Everything.x86_64.xml.zck"/>
    <timestamp>1713133040</timestamp>
    <size>288115</size>
    <open-size>1618213</open-size>
    <header-size>2174</header-size>
  </data>
</repomd>
`

const repomd = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo">${body}</repomd>`

const malformedReason = (result: RepomdTimestamp): string => {
  assert.strictEqual(result._tag, "Malformed", JSON.stringify(result))
  return result._tag === "Malformed" ? result.reason : ""
}

describe("repomdTimestamp", () => {
  it("is the newest <data><timestamp> of a createrepo_c repomd.xml, not its <revision>", () => {
    assert.deepStrictEqual(repomdTimestamp(CREATEREPO_C), { _tag: "Timestamp", timestamp: 1713134590 })
  })

  it("does not depend on the order of the <data> elements", () => {
    const xml = repomd(
      [1700000300, 1700000100, 1700000900, 1700000200]
        .map((t) => `<data type="t${t}"><timestamp>${t}</timestamp></data>`)
        .join("")
    )
    assert.deepStrictEqual(repomdTimestamp(xml), { _tag: "Timestamp", timestamp: 1700000900 })
  })

  it("floors float timestamps", () => {
    const xml = repomd(`<data type="primary"><timestamp>1700000000.5</timestamp></data>`)
    assert.deepStrictEqual(repomdTimestamp(xml), { _tag: "Timestamp", timestamp: 1700000000 })
    const two = repomd(
      `<data type="a"><timestamp>1700000000.9</timestamp></data><data type="b"><timestamp>1700000000</timestamp></data>`
    )
    assert.deepStrictEqual(repomdTimestamp(two), { _tag: "Timestamp", timestamp: 1700000000 })
  })

  it("trims whitespace around the number", () => {
    const xml = repomd(`<data type="primary"><timestamp>\n      1700000042\n    </timestamp></data>`)
    assert.deepStrictEqual(repomdTimestamp(xml), { _tag: "Timestamp", timestamp: 1700000042 })
  })

  it("ignores <timestamp> elements that are not direct children of <data>", () => {
    const xml = repomd(`
      <revision>1800000000</revision>
      <timestamp>1900000000</timestamp>
      <tags><timestamp>not even a number</timestamp></tags>
      <data type="primary">
        <timestamp>1700000000</timestamp>
        <extra><timestamp>2000000000</timestamp></extra>
      </data>`)
    assert.deepStrictEqual(repomdTimestamp(xml), { _tag: "Timestamp", timestamp: 1700000000 })
  })

  it("matches elements by local name, whatever their namespace prefix", () => {
    const xml = `<?xml version="1.0"?>
<repo:repomd xmlns:repo="http://linux.duke.edu/metadata/repo">
  <repo:revision>1800000000</repo:revision>
  <repo:data type="primary">
    <repo:location href="repodata/primary.xml.gz"/>
    <repo:timestamp>1700000123</repo:timestamp>
  </repo:data>
</repo:repomd>`
    assert.deepStrictEqual(repomdTimestamp(xml), { _tag: "Timestamp", timestamp: 1700000123 })
  })

  it("expands XML's predefined entities and character references", () => {
    const xml = repomd(
      `<revision>a &amp; b &lt;c&gt;</revision><data type="x"><timestamp>&#49;7000000&#x30;0</timestamp></data>`
    )
    assert.deepStrictEqual(repomdTimestamp(xml), { _tag: "Timestamp", timestamp: 1700000000 })
  })

  it("is NoTimestamp when no <data> has a timestamp", () => {
    assert.deepStrictEqual(repomdTimestamp(repomd("")), { _tag: "NoTimestamp" })
    assert.deepStrictEqual(repomdTimestamp("<repomd/>"), { _tag: "NoTimestamp" })
    assert.deepStrictEqual(
      repomdTimestamp(repomd(`<revision>1700000000</revision><timestamp>1700000000</timestamp><data type="primary"/>`)),
      { _tag: "NoTimestamp" }
    )
  })

  describe("Malformed", () => {
    it("for an empty document", () => {
      assert.match(malformedReason(repomdTimestamp("")), /root/)
    })

    it("for text that is not XML", () => {
      assert.isNotEmpty(malformedReason(repomdTimestamp("this is not xml")))
    })

    it("for an unclosed tag", () => {
      const reason = malformedReason(
        repomdTimestamp(`<repomd><data type="primary"><timestamp>1700000000</timestamp></data>`)
      )
      assert.match(reason, /unclosed tag/)
    })

    it("for mismatched tags", () => {
      assert.isNotEmpty(malformedReason(repomdTimestamp(repomd(`<data><timestamp>1700000000</data></timestamp>`))))
    })

    it("for garbage after the root element", () => {
      const data = `<data><timestamp>1700000000</timestamp></data>`
      assert.isNotEmpty(malformedReason(repomdTimestamp(`${repomd(data)}\ngarbage`)))
      assert.isNotEmpty(malformedReason(repomdTimestamp(`${repomd(data)}<repomd/>`)))
    })

    it("for a document cut short", () => {
      assert.isNotEmpty(malformedReason(repomdTimestamp(CREATEREPO_C.slice(0, CREATEREPO_C.length / 2))))
    })

    it("for another root element", () => {
      const reason = malformedReason(
        repomdTimestamp(`<metalink><data><timestamp>1700000000</timestamp></data></metalink>`)
      )
      assert.include(reason, "<metalink>")
      assert.match(malformedReason(repomdTimestamp("<html><body>404 Not Found</body></html>")), /<html>/)
    })

    it("for a <data><timestamp> that is not a non-negative number", () => {
      for (const value of ["yesterday", "", "   ", "-5", "Infinity", "NaN", "17e"]) {
        const xml = repomd(`<data type="primary"><timestamp>${value}</timestamp></data>`)
        assert.match(malformedReason(repomdTimestamp(xml)), /timestamp/, `<timestamp>${value}</timestamp>`)
      }
      assert.include(
        malformedReason(repomdTimestamp(repomd(`<data type="primary"><timestamp>yesterday</timestamp></data>`))),
        "yesterday"
      )
      assert.isNotEmpty(malformedReason(repomdTimestamp(repomd(`<data type="primary"><timestamp/></data>`))))
    })

    it("for a bad timestamp even next to good ones", () => {
      const xml = repomd(
        `<data type="a"><timestamp>1700000000</timestamp></data><data type="b"><timestamp>soon</timestamp></data>`
      )
      assert.include(malformedReason(repomdTimestamp(xml)), "soon")
    })

    it("for an undefined entity", () => {
      const xml = repomd(`<data type="primary"><timestamp>&foo;</timestamp></data>`)
      assert.match(malformedReason(repomdTimestamp(xml)), /entity/)
      assert.match(malformedReason(repomdTimestamp(repomd(`<revision>&foo;</revision>`))), /entity/)
    })

    it("for an unbound namespace prefix", () => {
      const xml = `<repo:repomd><repo:data><repo:timestamp>1700000000</repo:timestamp></repo:data></repo:repomd>`
      assert.match(malformedReason(repomdTimestamp(xml)), /prefix/)
    })
  })

  describe("DTD entities are never expanded", () => {
    const lol = [
      `<!ENTITY lol "lol">`,
      ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? "" : i};`.repeat(10)}">`)
    ].join("\n  ")

    it("a billion laughs is Malformed, quickly", () => {
      const xml = `<?xml version="1.0"?>
<!DOCTYPE repomd [
  ${lol}
]>
<repomd xmlns="http://linux.duke.edu/metadata/repo">
  <revision>&lol9;</revision>
  <data type="primary"><timestamp>1700000000</timestamp></data>
</repomd>`
      const before = process.memoryUsage().heapUsed
      const started = performance.now()
      const reason = malformedReason(repomdTimestamp(xml))
      assert.isBelow(performance.now() - started, 1000)
      assert.isBelow(process.memoryUsage().heapUsed - before, 64 * 1024 * 1024)
      assert.match(reason, /entity/)
    })

    it("an entity inside a timestamp is Malformed, not its replacement text", () => {
      const xml = `<!DOCTYPE repomd [<!ENTITY t "1900000000">]>
<repomd><data type="primary"><timestamp>&t;</timestamp></data></repomd>`
      assert.match(malformedReason(repomdTimestamp(xml)), /entity/)
    })

    it("an external entity is Malformed, nothing is read", () => {
      const xml = `<!DOCTYPE repomd [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<repomd><revision>&xxe;</revision><data type="primary"><timestamp>1700000000</timestamp></data></repomd>`
      const reason = malformedReason(repomdTimestamp(xml))
      assert.match(reason, /entity/)
      assert.notInclude(reason, "root:")
    })

    it("a DOCTYPE whose entities are not used is harmless", () => {
      const xml = `<?xml version="1.0"?>
<!DOCTYPE repomd [
  ${lol}
]>
<repomd><data type="primary"><timestamp>1700000000</timestamp></data></repomd>`
      assert.deepStrictEqual(repomdTimestamp(xml), { _tag: "Timestamp", timestamp: 1700000000 })
    })
  })
})
