// The wire formats dnf and yum read (SPEC 3.2-3.5): the plain mirrorlist and Metalink 3.0, byte for byte.
import type { FileDetailSource, HostUrlSource } from "@mirrormanager/actors/IndexSource"
import type { SelectedHost, Selection } from "@mirrormanager/actors/Selection"
import type { MirrorUrlScheme } from "@mirrormanager/domain/MirrorUrl"

export const DEFAULT_SCHEMES: ReadonlyArray<MirrorUrlScheme> = ["https", "http", "ftp"]

/** A host category URL plus the directory's subpath: the directory's URL on that mirror, without a final `/`. */
export const directoryUrl = (url: string, subpath: string) => (subpath === "" ? url : `${url}/${subpath}`)

export interface MirrorlistHeader {
  /** `repo = R arch = A ` or `path = P ` (without the leading `# `). */
  readonly subject: string
  readonly protocols: ReadonlyArray<MirrorUrlScheme> | undefined
  /** `time` was asked for: the index build epoch. */
  readonly databaseTime: number | undefined
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
  if (selection.emptiedByProtocol && header.protocols !== undefined) {
    text += `\n# no mirror offers protocol(s) ${header.protocols.join(",")}`
  }
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

const metalinkOpen = (pubdate: string, generator: string) =>
  `<?xml version="1.0" encoding="utf-8"?>\n<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" pubdate="${pubdate}" generator="${escapeXml(generator)}" xmlns:mm0="http://fedorahosted.org/mirrormanager">\n`

/** The failure envelope: declaration and root, and a comment holding the message (no `--` left in it). */
export const metalinkFailure = (pubdate: string, generator: string, text: string) =>
  `${metalinkOpen(pubdate, generator)}<!-- ${text.replace(/-(?=-)/g, "- ")}\n-->\n</metalink>\n`

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
}

export const metalinkBody = (
  pubdate: string,
  generator: string,
  file: MetalinkFile,
  hosts: ReadonlyArray<SelectedHost>,
  protocols: ReadonlyArray<MirrorUrlScheme> | undefined
): string => {
  const [newest, ...alternates] = file.details
  let text = `${metalinkOpen(pubdate, generator)} <files>\n  <file name="${escapeXml(file.name)}">\n`
  text += `   <mm0:timestamp>${newest!.timestamp}</mm0:timestamp>\n   <size>${newest!.size}</size>\n`
  text += verification(newest!, "   ")
  if (alternates.length > 0) {
    text += "   <mm0:alternates>\n"
    for (const alternate of alternates) {
      text += `    <mm0:alternate>\n     <mm0:timestamp>${alternate.timestamp}</mm0:timestamp>\n     <size>${alternate.size}</size>\n`
      text += verification(alternate, "     ")
      text += "    </mm0:alternate>\n"
    }
    text += "   </mm0:alternates>\n"
  }
  text += `   <resources maxconnections="1">\n`
  const allowed = protocols ?? DEFAULT_SCHEMES
  let preference = 100
  for (const { host, urls } of hosts) {
    let listed = false
    for (const scheme of METALINK_ORDER) {
      if (!allowed.includes(scheme)) continue
      for (const url of urls) {
        if (url.scheme !== scheme) continue
        listed = true
        const location = escapeXml(host.country.toUpperCase())
        const privateMark = host.private ? ' mm0:private="True"' : ""
        text += `    <url protocol="${scheme}" type="${scheme}" location="${location}" preference="${preference}"${privateMark}>${escapeXml(directoryUrl(url.url, file.subpath))}${escapeXml(file.tail)}</url>\n`
      }
    }
    if (listed) preference = Math.max(1, preference - 1)
  }
  return `${text}   </resources>\n  </file>\n </files>\n</metalink>\n`
}
