// The wire formats dnf and yum read (docs/redirector.md#formats): the plain mirrorlist and Metalink 3.0, byte for byte.
import {
  DEFAULT_SCHEMES,
  type FileDetailSource,
  type HostUrlSource,
  type SelectedHost,
  type Selection
} from "@mirrormanager/actors/redirector"
import type { MirrorUrlScheme } from "@mirrormanager/domain/registry"

/** A host category URL plus the directory's subpath: the directory's URL on that mirror, without a final `/`. */
export const directoryUrl = (url: string, subpath: string) => (subpath === "" ? url : `${url}/${subpath}`)

export interface MirrorlistHeader {
  /** `repo = R arch = A ` or `path = P ` (without the leading `# `). */
  readonly subject: string
  readonly protocols: ReadonlyArray<MirrorUrlScheme> | undefined
  /** `time` was asked for: the index build epoch. */
  readonly databaseTime: number | undefined
  /** Comment lines after the header (why the list is empty, what of the request was ignored), without `# `. */
  readonly notes: ReadonlyArray<string>
}

export const mirrorlistHeader = (header: MirrorlistHeader, selection: Selection): string => {
  let text = `# ${header.subject}`
  if (selection.netblock) text += "Using preferred netblock "
  if (selection.asn !== undefined) text += `Using ASN ${selection.asn} `
  if (selection.researchNetwork) text += "Using R&E network "
  for (const country of selection.countries) text += `country = ${country} `
  if (selection.global) text += "country = global "
  if (header.protocols !== undefined) text += `protocol = ${header.protocols.join(",")}`
  if (header.databaseTime !== undefined) text += `\n# database creation time: ${header.databaseTime}`
  for (const note of header.notes) text += `\n# ${note}`
  return `${text}\n`
}

/** The best URL of a host among the allowed schemes (https > http > ftp > rsync); its URLs come https first. */
export const bestUrl = (
  urls: ReadonlyArray<HostUrlSource>,
  allowed: ReadonlyArray<MirrorUrlScheme>
): HostUrlSource | undefined => {
  for (const url of urls) if (allowed.includes(url.scheme)) return url
  return undefined
}

/** One URL per host; `tail` is `/` for a directory or `/<file>` for a file. */
export const mirrorlistBody = (
  header: string,
  hosts: ReadonlyArray<SelectedHost>,
  subpath: string,
  tail: string,
  protocols: ReadonlyArray<MirrorUrlScheme> | undefined
): string => {
  const allowed = protocols ?? DEFAULT_SCHEMES
  let body = header
  for (const { urls } of hosts) {
    const url = bestUrl(urls, allowed)
    if (url !== undefined) body += `${directoryUrl(url.url, subpath)}${tail}\n`
  }
  return body
}

const XML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" }
const XML_SPECIAL = /[&<>"']/
export const escapeXml = (text: string) =>
  XML_SPECIAL.test(text) ? text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!) : text

/** `Www, DD Mon YYYY HH:MM:SS GMT` */
let dateSecond = -1
let dateText = ""
export const httpDate = (epochMs: number) => {
  const second = Math.floor(epochMs / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateText = new Date(second * 1000).toUTCString()
  }
  return dateText
}

const METALINK_HEAD =
  '<?xml version="1.0" encoding="utf-8"?>\n<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" pubdate="'
const metalinkOpen = (pubdate: string, generator: string) =>
  `${METALINK_HEAD}${pubdate}" generator="${escapeXml(generator)}" xmlns:mm0="http://fedorahosted.org/mirrormanager">\n`

/** Text for an XML comment: no `--` left in it. */
const commentText = (text: string) => text.replace(/-(?=-)/g, "- ")

/** The failure envelope: declaration and root, and a comment holding the message. */
export const metalinkFailure = (pubdate: string, generator: string, text: string) =>
  `${metalinkOpen(pubdate, generator)}<!-- ${commentText(text)}\n-->\n</metalink>\n`

/** A note among a metalink's resources (why there is no URL), as a comment clients skip. */
const metalinkNote = (text: string) => `    <!-- ${commentText(text)} -->\n`

const verification = (detail: FileDetailSource, indent: string) => {
  let text = `${indent}<verification>\n`
  for (const [type, value] of [
    ["md5", detail.md5],
    ["sha1", detail.sha1],
    ["sha256", detail.sha256],
    ["sha512", detail.sha512]
  ] as const) {
    if (value !== null && value !== "") text += `${indent} <hash type="${type}">${value.toLowerCase()}</hash>\n`
  }
  return `${text}${indent}</verification>\n`
}

const METALINK_ORDER: ReadonlyArray<MirrorUrlScheme> = ["https", "http", "ftp", "rsync"]

export interface MetalinkFile {
  readonly name: string
  /** Newest first; the first is the current file, the rest the alternates already cut to the window. */
  readonly details: ReadonlyArray<FileDetailSource>
  readonly subpath: string
  /** The path from the directory's URL to the file: `/repomd.xml`. */
  readonly tail: string
  /** Said in a comment where the URLs would be when there is none. */
  readonly emptyNote?: string | undefined
}

/**
 * A metalink in two parts around its pubdate, as bytes ready to send: the text before the pubdate (the same for every
 * metalink), and the rest. Whole, it is `head + pubdate + rest`.
 */
export interface MetalinkParts {
  readonly head: Buffer
  readonly rest: Buffer
}

/** Bytes of their own, outside Node's shared pool (a kept slice of the pool would keep all 8 KiB of it). */
export const ownBytes = (text: string): Buffer => {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, "utf8"))
  bytes.write(text, 0, "utf8")
  return bytes
}

const METALINK_HEAD_BYTES = Buffer.from(METALINK_HEAD, "utf8")
const METALINK_CLOSE = Buffer.from("   </resources>\n  </file>\n </files>\n</metalink>\n", "utf8")

/** The digits of a preference (100 for the first host, one less for each next one, 1 at least), as bytes. */
const DIGIT_0 = 0x30
const DIGIT_1 = 0x31
const preferenceDigits = (preference: number) => (preference >= 100 ? 3 : preference >= 10 ? 2 : 1)

/**
 * A host's lines in a metalink under one protocol filter (its URLs', https first), as bytes but their preference and
 * the path below the mirror's URL: for each line the part up to the preference's value, then the part from its closing
 * quote to the end of the mirror's URL, escaped. All in one block of bytes, the parts views into it.
 */
export interface HostLines {
  readonly country: string
  readonly private: boolean
  readonly allowed: ReadonlyArray<MirrorUrlScheme>
  /** Two per line: before the preference, after it. */
  readonly parts: ReadonlyArray<Buffer>
  /** The bytes of the parts. */
  readonly bytes: number
}

/**
 * Each host's lines, made once per URL list and protocol filter (the filters are the few lists requests resolve to):
 * a metalink lists about 130 URLs at Fedora's size, and escaping each afresh, then putting together a string of several
 * hundred pieces, was most of a fresh answer's time; a metalink is written as bytes, copied from these, with one lookup
 * per host. Weak: a URL list the index let go takes its lines along. A host's country or private flag can change
 * without its URLs being replaced: the lines are made again then.
 */
const hostLines = new WeakMap<ReadonlyArray<HostUrlSource>, HostLines>()
const hostLinesOf = (
  urls: ReadonlyArray<HostUrlSource>,
  host: SelectedHost["host"],
  allowed: ReadonlyArray<MirrorUrlScheme>
): HostLines => {
  const known = hostLines.get(urls)
  if (
    known !== undefined &&
    known.allowed === allowed &&
    known.country === host.country &&
    known.private === host.private
  ) {
    return known
  }
  const texts: Array<string> = []
  const location = escapeXml(host.country.toUpperCase())
  for (const scheme of METALINK_ORDER) {
    if (!allowed.includes(scheme)) continue
    for (const url of urls) {
      if (url.scheme !== scheme) continue
      texts.push(
        `    <url protocol="${url.scheme}" type="${url.scheme}" location="${location}" preference="`,
        `"${host.private ? ' mm0:private="True"' : ""}>${escapeXml(url.url)}`
      )
    }
  }
  const block = ownBytes(texts.join(""))
  const parts: Array<Buffer> = []
  let at = 0
  for (const text of texts) {
    const length = Buffer.byteLength(text, "utf8")
    parts.push(block.subarray(at, at + length))
    at += length
  }
  const made: HostLines = {
    country: host.country,
    private: host.private,
    allowed,
    parts,
    bytes: block.length
  }
  hostLines.set(urls, made)
  return made
}

/** The parts of a metalink that are the same for every answer to one request (see `metalinkFrame`). */
interface MetalinkFrame {
  readonly generator: string
  readonly file: Omit<MetalinkFile, "details" | "emptyNote">
  /** Between the pubdate and the first mirror's line: the file, its hashes and alternates. */
  readonly open: Buffer
  /** What follows each mirror's URL: the path below it and the line's end. */
  readonly after: Buffer
}

/**
 * The parts of a metalink that are the same for every answer, as bytes: made once per list of details (kept with the
 * request resolved to them), so that kept drafts share them (a small Buffer of its own would hold a slice of Node's
 * shared pool, and with it all of the pool).
 */
const metalinkFrames = new WeakMap<ReadonlyArray<FileDetailSource>, MetalinkFrame>()
const metalinkFrame = (generator: string, file: MetalinkFile): MetalinkFrame => {
  const known = metalinkFrames.get(file.details)
  if (
    known !== undefined &&
    known.generator === generator &&
    known.file.name === file.name &&
    known.file.subpath === file.subpath &&
    known.file.tail === file.tail
  ) {
    return known
  }
  const [newest, ...alternates] = file.details
  let open = `" generator="${escapeXml(generator)}" xmlns:mm0="http://fedorahosted.org/mirrormanager">\n <files>\n  <file name="${escapeXml(file.name)}">\n`
  open += `   <mm0:timestamp>${newest!.timestamp}</mm0:timestamp>\n   <size>${newest!.size}</size>\n`
  open += verification(newest!, "   ")
  if (alternates.length > 0) {
    open += "   <mm0:alternates>\n"
    for (const alternate of alternates) {
      open += `    <mm0:alternate>\n     <mm0:timestamp>${alternate.timestamp}</mm0:timestamp>\n     <size>${alternate.size}</size>\n`
      open += verification(alternate, "     ")
      open += "    </mm0:alternate>\n"
    }
    open += "   </mm0:alternates>\n"
  }
  open += `   <resources maxconnections="1">\n`
  // Escaping goes character by character, so the URL and the path below it are escaped apart.
  const after = `${file.subpath === "" ? "" : `/${escapeXml(file.subpath)}`}${escapeXml(file.tail)}</url>\n`
  const made: MetalinkFrame = {
    generator,
    file: { name: file.name, subpath: file.subpath, tail: file.tail },
    open: ownBytes(open),
    after: ownBytes(after)
  }
  metalinkFrames.set(file.details, made)
  return made
}

/**
 * A metalink as its selection left it, ready to be written: the text around the mirrors, and each listed host's lines
 * in order (the first gets preference 100, each next one less, 1 at least). An answer cache keeps this instead of
 * the bytes — about a kilobyte instead of 26 KB at the median at Fedora's size (44 KB on average) — and writes it for
 * each answer sent.
 */
export interface MetalinkDraft {
  /** The file, its hashes and alternates: between the pubdate and the first mirror's line. */
  readonly open: Buffer
  /** What follows each mirror's URL: the path below it and the line's end. */
  readonly after: Buffer
  readonly hosts: ReadonlyArray<HostLines>
  /** Said where the URLs would be when there is none. */
  readonly note: string
  /** Bytes of the whole written but its head and pubdate (`MetalinkParts.rest`). */
  readonly size: number
}

export const metalinkDraft = (
  generator: string,
  file: MetalinkFile,
  hosts: ReadonlyArray<SelectedHost>,
  protocols: ReadonlyArray<MirrorUrlScheme> | undefined
): MetalinkDraft => {
  const { open, after } = metalinkFrame(generator, file)
  const allowed = protocols ?? DEFAULT_SCHEMES
  const listed: Array<HostLines> = []
  let size = open.length + METALINK_CLOSE.length
  for (const { host, urls } of hosts) {
    const each = hostLinesOf(urls, host, allowed)
    const count = each.parts.length / 2
    if (count === 0) continue
    size += each.bytes + count * (preferenceDigits(preferenceAt(listed.length)) + after.length)
    listed.push(each)
  }
  const note = listed.length === 0 && file.emptyNote !== undefined ? metalinkNote(file.emptyNote) : ""
  return { open, after, hosts: listed, note, size: size + Buffer.byteLength(note, "utf8") }
}

/** The preference of the listed host at `rank` (from 0). */
const preferenceAt = (rank: number) => Math.max(1, 100 - rank)

/** A draft written out, in its two parts around the pubdate. */
export const writeMetalink = (draft: MetalinkDraft): MetalinkParts => {
  const { open, after, hosts } = draft
  // Bytes of their own (see AnswerCache: a kept slice of Node's shared pool would keep all of it).
  const rest = Buffer.allocUnsafeSlow(draft.size)
  rest.set(open, 0)
  let at = open.length
  const afterLength = after.length
  for (let rank = 0; rank < hosts.length; rank++) {
    const parts = hosts[rank]!.parts
    // The preference's digits are put in byte by byte: cheaper than copying a piece of one to three bytes.
    const preference = preferenceAt(rank)
    const tens = (preference / 10) | 0
    for (let i = 0; i < parts.length; i += 2) {
      const before = parts[i]!
      rest.set(before, at)
      at += before.length
      if (preference === 100) {
        rest[at++] = DIGIT_1
        rest[at++] = DIGIT_0
        rest[at++] = DIGIT_0
      } else {
        if (tens > 0) rest[at++] = DIGIT_0 + tens
        rest[at++] = DIGIT_0 + (preference % 10)
      }
      const urlPart = parts[i + 1]!
      rest.set(urlPart, at)
      at += urlPart.length
      rest.set(after, at)
      at += afterLength
    }
  }
  at += rest.write(draft.note, at, "utf8")
  rest.set(METALINK_CLOSE, at)
  return { head: METALINK_HEAD_BYTES, rest }
}

export const metalinkBody = (
  pubdate: string,
  generator: string,
  file: MetalinkFile,
  hosts: ReadonlyArray<SelectedHost>,
  protocols: ReadonlyArray<MirrorUrlScheme> | undefined
): string => {
  const parts = writeMetalink(metalinkDraft(generator, file, hosts, protocols))
  return `${parts.head.toString("utf8")}${pubdate}${parts.rest.toString("utf8")}`
}
