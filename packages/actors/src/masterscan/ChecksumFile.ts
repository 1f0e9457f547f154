// Checksum files published next to ISOs and images (`*-CHECKSUM`, `SHA256SUM`, `*.sha256sum`, ...): which file
// has which hash. GNU (`<hex>  <file>`, `<hex> *<file>`) and BSD (`SHA256 (<file>) = <hex>`) lines, PGP armour skipped.

export type HashAlgorithm = "md5" | "sha1" | "sha256" | "sha512"

export interface ListedHash {
  readonly filename: string
  readonly algorithm: HashAlgorithm
  readonly hex: string
}

export interface ChecksumFileContent {
  readonly hashes: ReadonlyArray<ListedHash>
  /** 1-based numbers of lines that are neither a checksum, a comment nor armour. */
  readonly badLines: ReadonlyArray<number>
}

// Fedora's `*-CHECKSUM` and the coreutils names, also as other distributions spell them (`CHECKSUM`, `SHA256SUMS`).
const CHECKSUM_FILE_NAMES =
  /(^|-)CHECKSUM$|\.(sha256|sha512|sha1|md5)sum$|^(SHA256|SHA512|SHA1|MD5)SUMS?$|^(sha256|sha512|sha1|md5)sums?\.txt$/

export const isChecksumFile = (name: string) => CHECKSUM_FILE_NAMES.test(name)

const byLength: Readonly<Record<number, HashAlgorithm>> = { 32: "md5", 40: "sha1", 64: "sha256", 128: "sha512" }
const byTag: Readonly<Record<string, HashAlgorithm>> = { MD5: "md5", SHA1: "sha1", SHA256: "sha256", SHA512: "sha512" }
/** Hashes a checksum file may also carry and a file detail has no field for: not an error, just not used. */
const UNUSED_TAGS = new Set(["SHA224", "SHA384"])
const UNUSED_LENGTHS = new Set([56, 96])

const BSD_LINE = /^\\?(MD5|SHA1|SHA224|SHA256|SHA384|SHA512) ?\((.+)\) ?= ?([0-9a-fA-F]+)$/
const GNU_LINE = /^\\?([0-9a-fA-F]+) [ *](.+)$/

/** GNU coreutils escapes names holding a backslash, newline or carriage return and marks the line with a backslash. */
const unescapeName = (line: string, name: string) =>
  line.startsWith("\\") ? name.replace(/\\(\\|n|r)/g, (_, c) => (c === "n" ? "\n" : c === "r" ? "\r" : "\\")) : name

/** A name in a checksum file refers to a file of the same directory; `./x` is `x`, anything with a `/` is elsewhere. */
const localName = (name: string): string | undefined => {
  const bare = name.startsWith("./") ? name.slice(2) : name
  return bare.length === 0 || bare.includes("/") || bare === "." || bare === ".." ? undefined : bare
}

export const parseChecksumFile = (text: string): ChecksumFileContent => {
  const hashes: Array<ListedHash> = []
  const badLines: Array<number> = []
  const lines = text.split("\n")
  // A clear-signed file: armour header lines up to the first blank line, the signature block at the end.
  let inArmourHeader = false
  let inSignature = false
  lines.forEach((raw, index) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
    if (line === "-----BEGIN PGP SIGNED MESSAGE-----") {
      inArmourHeader = true
      return
    }
    if (inArmourHeader) {
      if (line.trim() === "") inArmourHeader = false
      return
    }
    if (line === "-----BEGIN PGP SIGNATURE-----") {
      inSignature = true
      return
    }
    if (inSignature) {
      if (line === "-----END PGP SIGNATURE-----") inSignature = false
      return
    }
    // Clear-signed text escapes lines that start with a dash.
    const content = (line.startsWith("- ") ? line.slice(2) : line).trim()
    if (content === "" || content.startsWith("#")) return
    const bsd = BSD_LINE.exec(content)
    if (bsd !== null) {
      if (UNUSED_TAGS.has(bsd[1]!)) return
      const algorithm = byTag[bsd[1]!]!
      const hex = bsd[3]!.toLowerCase()
      const filename = localName(unescapeName(content, bsd[2]!))
      if (byLength[hex.length] !== algorithm) badLines.push(index + 1)
      else if (filename !== undefined) hashes.push({ filename, algorithm, hex })
      return
    }
    const gnu = GNU_LINE.exec(content)
    if (gnu !== null && UNUSED_LENGTHS.has(gnu[1]!.length)) return
    const algorithm = gnu === null ? undefined : byLength[gnu[1]!.length]
    if (gnu === null || algorithm === undefined) {
      badLines.push(index + 1)
      return
    }
    const filename = localName(unescapeName(content, gnu[2]!))
    if (filename !== undefined) hashes.push({ filename, algorithm, hex: gnu[1]!.toLowerCase() })
  })
  return { hashes, badLines }
}
