import { assert, describe, it } from "@effect/vitest"
import { isChecksumFile, parseChecksumFile } from "../../src/masterscan/ChecksumFile.ts"

// Digests of the 6 bytes "hello\n", as coreutils prints them.
const MD5 = "b1946ac92492d2347c6235b4d2611184"
const SHA1 = "f572d396fae9206628714fb2ce00f72e94f2258f"
const SHA256 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
const SHA512 =
  "e7c22b994c59d9cf2b48e549b1e24666636045930d3da7c1acb299d1c3b7f931f94aae41edda2c2b207a36e10f8bcb8d45223e54878f5b316e7ce3b6bc019629"
// Synthetic SHA-256 values for the Fedora-style files.
const ISO_SHA256 = "2a1d6f7ac1d2c1a7e4dbc4b64e4a06e8a7a6d5e83b8b0a5c0c6e5f7f36c7bb1e"
const NETINST_SHA256 = "9b1c1f2b0f8b7a3d4e5f60718293a4b5c6d7e8f90123456789abcdef01234567"

describe("isChecksumFile", () => {
  it.each([
    "Fedora-Workstation-40-1.14-x86_64-CHECKSUM",
    "Fedora-Everything-40-1.14-x86_64-CHECKSUM",
    "Fedora-Cloud-40-1.14-x86_64-CHECKSUM",
    "SHA256SUM",
    "SHA512SUM",
    "SHA1SUM",
    "MD5SUM",
    "sha256sum.txt",
    "sha512sum.txt",
    "sha1sum.txt",
    "md5sum.txt",
    "x.iso.sha256sum",
    "x.sha512sum",
    "x.sha1sum",
    "image.raw.xz.md5sum",
    // As other distributions name them: CentOS Stream and Rocky, Debian and Ubuntu, Arch.
    "CHECKSUM",
    "SHA256SUMS",
    "SHA512SUMS",
    "sha256sums.txt"
  ])("accepts %s", (name) => {
    assert.isTrue(isChecksumFile(name))
  })

  it.each([
    "CHECKSUM.txt",
    "x.CHECKSUM",
    "repomd.xml",
    "foo.sha256",
    "foo.md5",
    "sha256sum",
    "x.SHA256SUM",
    "x-sha256sum.txt",
    "SHA256SUM.asc",
    "sha256sum.txt.gpg",
    "x.sha384sum",
    "Fedora-40-x86_64-CHECKSUM.sig",
    "sha256sum.TXT",
    ""
  ])("rejects %j", (name) => {
    assert.isFalse(isChecksumFile(name))
  })
})

describe("parseChecksumFile, GNU lines", () => {
  it("reads sha256sum text-mode output", () => {
    const parsed = parseChecksumFile(`${SHA256}  a.iso\n${NETINST_SHA256}  Fedora-netinst.iso\n`)
    assert.deepStrictEqual(parsed, {
      hashes: [
        { filename: "a.iso", algorithm: "sha256", hex: SHA256 },
        { filename: "Fedora-netinst.iso", algorithm: "sha256", hex: NETINST_SHA256 }
      ],
      badLines: []
    })
  })

  it("reads binary-mode lines (`<hex> *<file>`)", () => {
    assert.deepStrictEqual(parseChecksumFile(`${SHA256} *a.iso\n`), {
      hashes: [{ filename: "a.iso", algorithm: "sha256", hex: SHA256 }],
      badLines: []
    })
  })

  it("tells the algorithm by the length of the hex digest", () => {
    const parsed = parseChecksumFile(
      [`${MD5}  a.iso`, `${SHA1}  a.iso`, `${SHA256}  a.iso`, `${SHA512}  a.iso`].join("\n")
    )
    assert.deepStrictEqual(
      parsed.hashes.map((hash) => [hash.algorithm, hash.hex]),
      [
        ["md5", MD5],
        ["sha1", SHA1],
        ["sha256", SHA256],
        ["sha512", SHA512]
      ]
    )
    assert.deepStrictEqual(parsed.badLines, [])
  })

  it("lowercases uppercase hex", () => {
    const parsed = parseChecksumFile(`${SHA256.toUpperCase()}  a.iso\n${MD5.toUpperCase()} *b.iso\n`)
    assert.deepStrictEqual(parsed.hashes, [
      { filename: "a.iso", algorithm: "sha256", hex: SHA256 },
      { filename: "b.iso", algorithm: "md5", hex: MD5 }
    ])
  })

  it("skips sha224 and sha384 digests quietly (a file detail has no field for them) and reports truncated ones", () => {
    const sha224 = "f8e1b5b9c0ad3b2ac3f2ab6b7e5e6e4ba7ca2b5bdcd2ef6e4c1e1f7d"
    const sha384 = "1d0f284efe3edea4b9ca3bd514fa134b17eae361ccc7a1eefeff801b9bd6604e01f21f6bf249ef030599f0c218f2ba8c"
    const parsed = parseChecksumFile(
      [`${sha224}  a.iso`, `${sha384}  a.iso`, `${SHA256.slice(1)}  a.iso`, `${SHA256}  ok.iso`].join("\n")
    )
    assert.deepStrictEqual(parsed.badLines, [3])
    assert.deepStrictEqual(parsed.hashes, [{ filename: "ok.iso", algorithm: "sha256", hex: SHA256 }])
  })

  it("keeps a leading space of a name (the third character after the digest starts the name)", () => {
    assert.deepStrictEqual(parseChecksumFile(`${SHA256}   spaced.iso`).hashes, [
      { filename: " spaced.iso", algorithm: "sha256", hex: SHA256 }
    ])
  })

  it("unescapes backslash-marked lines (names holding a backslash or a newline)", () => {
    // Exactly what coreutils 9.1 `sha256sum 'back\slash.iso' $'new\nline.iso'` prints.
    const escaped = (name: string) => `\\${SHA256}  ${name}\n`
    const text =
      escaped(String.raw`back\\slash.iso`) + escaped(String.raw`new\nline.iso`) + escaped(String.raw`both\\n\n.iso`)
    assert.strictEqual(text.split("\n")[0], `\\${SHA256}  back\\\\slash.iso`)
    assert.deepStrictEqual(parseChecksumFile(text), {
      hashes: [
        { filename: "back\\slash.iso", algorithm: "sha256", hex: SHA256 },
        { filename: "new\nline.iso", algorithm: "sha256", hex: SHA256 },
        { filename: "both\\n\n.iso", algorithm: "sha256", hex: SHA256 }
      ],
      badLines: []
    })
  })

  it("takes backslashes literally on lines without the leading backslash", () => {
    assert.deepStrictEqual(parseChecksumFile(String.raw`${SHA256}  a\\b\n.iso`).hashes, [
      { filename: String.raw`a\\b\n.iso`, algorithm: "sha256", hex: SHA256 }
    ])
  })
})

describe("parseChecksumFile, BSD lines", () => {
  it("reads `--tag` output of every supported algorithm", () => {
    const text = [
      `MD5 (a.iso) = ${MD5}`,
      `SHA1 (a.iso) = ${SHA1}`,
      `SHA256 (a.iso) = ${SHA256}`,
      `SHA512 (a.iso) = ${SHA512}`
    ].join("\n")
    assert.deepStrictEqual(parseChecksumFile(text), {
      hashes: [
        { filename: "a.iso", algorithm: "md5", hex: MD5 },
        { filename: "a.iso", algorithm: "sha1", hex: SHA1 },
        { filename: "a.iso", algorithm: "sha256", hex: SHA256 },
        { filename: "a.iso", algorithm: "sha512", hex: SHA512 }
      ],
      badLines: []
    })
  })

  it("lowercases uppercase hex", () => {
    assert.deepStrictEqual(parseChecksumFile(`SHA256 (a.iso) = ${SHA256.toUpperCase()}`).hashes, [
      { filename: "a.iso", algorithm: "sha256", hex: SHA256 }
    ])
  })

  it("accepts OpenSSL's spacing (`SHA256(a.iso)= <hex>`)", () => {
    assert.deepStrictEqual(parseChecksumFile(`SHA256(a.iso)= ${SHA256}`).hashes, [
      { filename: "a.iso", algorithm: "sha256", hex: SHA256 }
    ])
  })

  it("keeps names with spaces and parentheses", () => {
    assert.deepStrictEqual(parseChecksumFile(`SHA256 (my image (final).iso) = ${SHA256}`).hashes, [
      { filename: "my image (final).iso", algorithm: "sha256", hex: SHA256 }
    ])
  })

  it("reports a line whose digest length does not fit its tag", () => {
    const text = [
      `SHA256 (a.iso) = ${MD5}`,
      `MD5 (b.iso) = ${SHA256}`,
      `SHA512 (c.iso) = ${SHA256}`,
      `SHA1 (d.iso) = ${SHA1}`,
      `SHA256 (sub/e.iso) = ${SHA1}`
    ].join("\n")
    assert.deepStrictEqual(parseChecksumFile(text), {
      hashes: [{ filename: "d.iso", algorithm: "sha1", hex: SHA1 }],
      badLines: [1, 2, 3, 5]
    })
  })

  it("skips SHA384 lines quietly and reports tags it does not know", () => {
    const sha384 = "1d0f284efe3edea4b9ca3bd514fa134b17eae361ccc7a1eefeff801b9bd6604e01f21f6bf249ef030599f0c218f2ba8c"
    const parsed = parseChecksumFile(`SHA384 (a.iso) = ${sha384}\nsha256 (a.iso) = ${SHA256}\nBLAKE2 (a.iso) = ab\n`)
    assert.deepStrictEqual(parsed, { hashes: [], badLines: [2, 3] })
  })

  it("unescapes backslash-marked --tag lines and carriage returns in names", () => {
    // `sha256sum --tag 'back\slash.iso'` and a name with a carriage return, as coreutils 9.1 prints them.
    const parsed = parseChecksumFile(`\\SHA256 (back\\\\slash.iso) = ${SHA256}\n\\${SHA256}  cr\\r.iso\n`)
    assert.deepStrictEqual(parsed, {
      hashes: [
        { filename: "back\\slash.iso", algorithm: "sha256", hex: SHA256 },
        { filename: "cr\r.iso", algorithm: "sha256", hex: SHA256 }
      ],
      badLines: []
    })
  })
})

describe("parseChecksumFile, Fedora CHECKSUM files", () => {
  const signed = [
    "-----BEGIN PGP SIGNED MESSAGE-----",
    "Hash: SHA256",
    "",
    "# Fedora-Workstation-Live-x86_64-40-1.14.iso: 2295853056 bytes",
    `SHA256 (Fedora-Workstation-Live-x86_64-40-1.14.iso) = ${ISO_SHA256}`,
    "-----BEGIN PGP SIGNATURE-----",
    "",
    "iQIzBAEBCAAdFiEEEV35rO/Jt4Dsvyq/UUByUyDE1ewFAmYbmNUACgkQUUByUyDE",
    "1eyq4A//bGdNqE3S2wLQF9aYF0Wc2t4Hq3A5sN0N9Yf5t+q4oGx1lV0CzK8X2mF5",
    "=tZkw",
    "-----END PGP SIGNATURE-----",
    ""
  ]

  it("reads a clear-signed file, skipping the armour header, comments and the signature", () => {
    assert.deepStrictEqual(parseChecksumFile(signed.join("\n")), {
      hashes: [{ filename: "Fedora-Workstation-Live-x86_64-40-1.14.iso", algorithm: "sha256", hex: ISO_SHA256 }],
      badLines: []
    })
  })

  it("reads the same file with CRLF line endings", () => {
    assert.deepStrictEqual(parseChecksumFile(signed.join("\r\n")), {
      hashes: [{ filename: "Fedora-Workstation-Live-x86_64-40-1.14.iso", algorithm: "sha256", hex: ISO_SHA256 }],
      badLines: []
    })
  })

  it("reads an unsigned multi-image file", () => {
    const text = [
      "# Fedora-Everything-netinst-x86_64-40-1.14.iso: 838467584 bytes",
      `SHA256 (Fedora-Everything-netinst-x86_64-40-1.14.iso) = ${NETINST_SHA256}`,
      "# Fedora-Workstation-Live-x86_64-40-1.14.iso: 2295853056 bytes",
      `SHA256 (Fedora-Workstation-Live-x86_64-40-1.14.iso) = ${ISO_SHA256}`
    ].join("\n")
    assert.deepStrictEqual(
      parseChecksumFile(text).hashes.map((hash) => hash.filename),
      ["Fedora-Everything-netinst-x86_64-40-1.14.iso", "Fedora-Workstation-Live-x86_64-40-1.14.iso"]
    )
  })

  it("numbers bad lines from 1, counting armour lines", () => {
    const text = [
      "-----BEGIN PGP SIGNED MESSAGE-----",
      "Hash: SHA256",
      "",
      "# a comment",
      "this is not a checksum",
      `SHA256 (a.iso) = ${SHA256}`,
      "",
      `${SHA256}a.iso`,
      "-----BEGIN PGP SIGNATURE-----",
      "not a checksum either, but inside the signature",
      "-----END PGP SIGNATURE-----",
      "trailing garbage"
    ].join("\r\n")
    assert.deepStrictEqual(parseChecksumFile(text), {
      hashes: [{ filename: "a.iso", algorithm: "sha256", hex: SHA256 }],
      badLines: [5, 8, 12]
    })
  })

  it("skips every line of the armour header up to the first blank line", () => {
    const text = [
      "-----BEGIN PGP SIGNED MESSAGE-----",
      "Hash: SHA256",
      "Hash: SHA512",
      "  ",
      `SHA256 (a.iso) = ${SHA256}`
    ].join("\n")
    assert.deepStrictEqual(parseChecksumFile(text), {
      hashes: [{ filename: "a.iso", algorithm: "sha256", hex: SHA256 }],
      badLines: []
    })
  })

  it("unescapes dash-escaped lines", () => {
    const text = [
      "-----BEGIN PGP SIGNED MESSAGE-----",
      "Hash: SHA256",
      "",
      "- # ---- images ----",
      `- SHA256 (a.iso) = ${SHA256}`,
      `- ${MD5}  b.iso`,
      "- not a checksum",
      "-----BEGIN PGP SIGNATURE-----",
      "-----END PGP SIGNATURE-----"
    ].join("\n")
    assert.deepStrictEqual(parseChecksumFile(text), {
      hashes: [
        { filename: "a.iso", algorithm: "sha256", hex: SHA256 },
        { filename: "b.iso", algorithm: "md5", hex: MD5 }
      ],
      badLines: [7]
    })
  })
})

describe("parseChecksumFile, other lines", () => {
  it("ignores comments, blank and whitespace-only lines", () => {
    const text = ["# SHA256 (x.iso) = nothing", "", "   ", "\t", "   # indented comment", `  ${SHA256}  a.iso  `].join(
      "\n"
    )
    assert.deepStrictEqual(parseChecksumFile(text), {
      hashes: [{ filename: "a.iso", algorithm: "sha256", hex: SHA256 }],
      badLines: []
    })
  })

  it("returns nothing for an empty file", () => {
    assert.deepStrictEqual(parseChecksumFile(""), { hashes: [], badLines: [] })
    assert.deepStrictEqual(parseChecksumFile("\n\r\n\n"), { hashes: [], badLines: [] })
  })

  it("reports garbage lines by their 1-based number", () => {
    const text = [
      `${SHA256}  a.iso`,
      "<html><body>404 Not Found</body></html>",
      `${SHA256}  `,
      `zz${SHA256.slice(2)}  a.iso`,
      `${SHA256}  b.iso`
    ].join("\n")
    assert.deepStrictEqual(parseChecksumFile(text), {
      hashes: [
        { filename: "a.iso", algorithm: "sha256", hex: SHA256 },
        { filename: "b.iso", algorithm: "sha256", hex: SHA256 }
      ],
      badLines: [2, 3, 4]
    })
  })

  it("accepts `./name` and ignores names of files elsewhere without reporting them", () => {
    const text = [
      `${SHA256}  ./a.iso`,
      `SHA256 (./b.iso) = ${SHA256}`,
      `${SHA256}  sub/c.iso`,
      `${SHA256}  ./sub/d.iso`,
      `${SHA256}  ../e.iso`,
      `${SHA256}  /srv/f.iso`,
      `SHA256 (images/g.iso) = ${SHA256}`,
      `${SHA256}  .`,
      `${SHA256}  ..`,
      `${SHA256}  ./`,
      `${SHA256}  ./.hidden`
    ].join("\n")
    assert.deepStrictEqual(parseChecksumFile(text), {
      hashes: [
        { filename: "a.iso", algorithm: "sha256", hex: SHA256 },
        { filename: "b.iso", algorithm: "sha256", hex: SHA256 },
        { filename: ".hidden", algorithm: "sha256", hex: SHA256 }
      ],
      badLines: []
    })
  })

  it("mixes GNU and BSD lines and keeps their order", () => {
    const text = `SHA512 (a.iso) = ${SHA512}\n${SHA256}  a.iso\nMD5 (a.iso) = ${MD5}\n${SHA1} *a.iso\n`
    assert.deepStrictEqual(
      parseChecksumFile(text).hashes.map((hash) => hash.algorithm),
      ["sha512", "sha256", "md5", "sha1"]
    )
  })
})
