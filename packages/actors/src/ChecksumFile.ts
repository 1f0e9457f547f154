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

const CHECKSUM_FILE_NAMES =
  /(-CHECKSUM|\.(sha256|sha512|sha1|md5)sum)$|^(SHA256SUM|SHA512SUM|SHA1SUM|MD5SUM|(sha256|sha512|sha1|md5)sum\.txt)$/

export const isChecksumFile = (name: string) => CHECKSUM_FILE_NAMES.test(name)

const byLength: Readonly<Record<number, HashAlgorithm>> = { 32: "md5", 40: "sha1", 64: "sha256", 128: "sha512" }
const byTag: Readonly<Record<string, HashAlgorithm>> = { MD5: "md5", SHA1: "sha1", SHA256: "sha256", SHA512: "sha512" }

const BSD_LINE = /^(MD5|SHA1|SHA256|SHA512) ?\((.+)\) ?= ?([0-9a-fA-F]+)$/
const GNU_LINE = /^\\?([0-9a-fA-F]+) [ *](.+)$/

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
      const algorithm = byTag[bsd[1]!]!
      const hex = bsd[3]!.toLowerCase()
      const filename = localName(bsd[2]!)
      if (byLength[hex.length] !== algorithm) badLines.push(index + 1)
      else if (filename !== undefined) hashes.push({ filename, algorithm, hex })
      return
    }
    const gnu = GNU_LINE.exec(content)
    const algorithm = gnu === null ? undefined : byLength[gnu[1]!.length]
    if (gnu === null || algorithm === undefined) {
      badLines.push(index + 1)
      return
    }
    // GNU coreutils escapes names holding a backslash or newline and marks the line with a leading backslash.
    const name = content.startsWith("\\") ? gnu[2]!.replace(/\\(\\|n)/g, (_, c) => (c === "n" ? "\n" : "\\")) : gnu[2]!
    const filename = localName(name)
    if (filename !== undefined) hashes.push({ filename, algorithm, hex: gnu[1]!.toLowerCase() })
  })
  return { hashes, badLines }
}
