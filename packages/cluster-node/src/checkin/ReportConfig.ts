// The `report_mirror.conf` of a mirror host, read as upstream's report_mirror reads it (Python's configparser with its
// defaults: `=` or `:`, `#`/`;` comment lines, indented continuation lines, lower-cased keys, a [DEFAULT] section,
// `%(key)s` and `%%` interpolation), and the check-in it becomes (docs/checkin.md#payload): the same keys upstream
// sends, each category's `path` replaced by the directory tree under it.
import * as fs from "node:fs"

export const DEFAULT_CONFIG_FILE = "/etc/mirrormanager-client/report_mirror.conf"

/** The config file cannot be used: the message says what to change, and where. */
export class ReportConfigError extends Error {
  override readonly name = "ReportConfigError"
}

/** Sections in file order; each maps lower-cased keys to raw (not yet interpolated) values. */
export interface IniFile {
  readonly file: string
  readonly defaults: ReadonlyMap<string, string>
  readonly sections: ReadonlyMap<string, ReadonlyMap<string, string>>
}

/** Parses INI text as configparser does by default (strict: a section or key twice is an error). */
export const parseIni = (text: string, file: string): IniFile => {
  const defaults = new Map<string, string>()
  const sections = new Map<string, Map<string, string>>()
  let current: Map<string, string> | undefined
  let currentName = ""
  // The key whose value continuation lines extend, and the indent of its line.
  let open: { key: string; indent: number } | undefined
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/)
  lines.forEach((raw, index) => {
    const where = `${file} line ${index + 1}`
    const content = raw.trim()
    const indent = raw.length - raw.trimStart().length
    if (content.startsWith("#") || content.startsWith(";")) return
    if (content === "") {
      if (open !== undefined && current !== undefined) current.set(open.key, `${current.get(open.key)}\n`)
      return
    }
    if (open !== undefined && current !== undefined && indent > open.indent) {
      current.set(open.key, `${current.get(open.key)}\n${content}`)
      return
    }
    open = undefined
    const header = /^\[(.+)\]$/.exec(content)
    if (header !== null && indent === 0) {
      currentName = header[1]!
      if (currentName === "DEFAULT") {
        current = defaults
      } else if (sections.has(currentName)) {
        throw new ReportConfigError(`${where}: section [${currentName}] appears twice`)
      } else {
        current = new Map()
        sections.set(currentName, current)
      }
      return
    }
    if (current === undefined) {
      throw new ReportConfigError(`${where}: "${content}" comes before any [section] header (start with [global])`)
    }
    const delimiter = /[=:]/.exec(content)
    const key = delimiter === null ? "" : content.slice(0, delimiter.index).trim().toLowerCase()
    if (delimiter === null || key === "") {
      throw new ReportConfigError(`${where}: "${content}" is not a "key = value" line`)
    }
    if (current.has(key)) throw new ReportConfigError(`${where}: ${key} is set twice in [${currentName}]`)
    current.set(key, content.slice(delimiter.index + 1).trim())
    open = { key, indent }
  })
  // Blank lines at the end of a value are not part of it.
  for (const section of [defaults, ...sections.values()]) {
    for (const [key, value] of section) section.set(key, value.replace(/\n+$/, ""))
  }
  return { file, defaults, sections }
}

/** A section's keys, with [DEFAULT]'s under them. */
const keysOf = (ini: IniFile, section: string) => {
  const own = ini.sections.get(section) ?? new Map<string, string>()
  return new Map([...ini.defaults, ...own])
}

/** A value as configparser's `get` returns it: `%%` is `%`, `%(key)s` is another key of the section. */
export const getValue = (ini: IniFile, section: string, key: string): string | undefined => {
  const keys = keysOf(ini, section)
  const expand = (value: string, depth: number): string => {
    if (depth > 10) throw new ReportConfigError(`${ini.file}: [${section}] ${key}: %(...)s references nest too deep`)
    return value.replace(/%(%|\((?<name>[^)]*)\)s|.?)/gs, (match, what: string, _p, _o, _s, groups) => {
      if (what === "%") return "%"
      const name = (groups as { name?: string }).name
      if (name === undefined) {
        throw new ReportConfigError(
          `${ini.file}: [${section}] ${key}: "${match}" — a % in a value must be written %% (or %(key)s to use another key)`
        )
      }
      const referenced = keys.get(name.toLowerCase())
      if (referenced === undefined) {
        throw new ReportConfigError(`${ini.file}: [${section}] ${key}: %(${name})s names no key of [${section}]`)
      }
      return expand(referenced, depth + 1)
    })
  }
  const raw = keys.get(key)
  return raw === undefined ? undefined : expand(raw, 1)
}

/** As upstream's parse_value: a value of several lines is sent as a list of its words. */
const sentValue = (value: string): string | ReadonlyArray<string> =>
  value.includes("\n") ? value.split(/\s+/).filter((word) => word !== "") : value

/** The fixed sections and the keys upstream's client sends of each (docs/checkin.md#payload). */
const FIXED: ReadonlyArray<readonly [string, ReadonlyArray<string>, ReadonlyArray<string>]> = [
  ["global", ["enabled", "server"], []],
  ["site", ["enabled", "name", "password"], []],
  ["host", ["enabled", "name"], ["user_active"]]
]
const FIXED_NAMES = new Set(["global", "site", "host", "stats"])

export interface ReportCategory {
  /** The section's name as written (the server matches it lower-cased against category names). */
  readonly section: string
  readonly path: string
  readonly enabled: boolean
}

export interface ReportConfig {
  readonly file: string
  readonly server: string
  /** `[global] proxy=` (ours): the proxy for this server, ahead of the environment's. */
  readonly proxy: string | undefined
  readonly siteName: string
  readonly hostName: string
  /** The JSON sent for the fixed sections: version, global, site, host, stats. */
  readonly fixed: Readonly<Record<string, unknown>>
  readonly categories: ReadonlyArray<ReportCategory>
}

const required = (ini: IniFile, section: string, key: string): string => {
  const value = getValue(ini, section, key)
  if (value === undefined) throw new ReportConfigError(`${ini.file}: [${section}] has no ${key}= (it is required)`)
  return value
}

/** The config of a report_mirror.conf's text. */
export const reportConfigOf = (ini: IniFile): ReportConfig => {
  const fixed: Record<string, unknown> = { version: 0 }
  for (const [section, keys, optional] of FIXED) {
    if (!ini.sections.has(section)) {
      throw new ReportConfigError(
        `${ini.file}: there is no [${section}] section (report_mirror.conf needs [global], [site] and [host])`
      )
    }
    const values: Record<string, unknown> = {}
    for (const key of keys) values[key] = sentValue(required(ini, section, key))
    for (const key of optional) {
      const value = getValue(ini, section, key)
      if (value !== undefined) values[key] = sentValue(value)
    }
    if (values.enabled !== "1") {
      throw new ReportConfigError(
        `${ini.file}: [${section}] enabled=${String(values.enabled)}: check-ins are switched off here (enabled=1 sends them)`
      )
    }
    fixed[section] = values
  }
  fixed.stats = {}
  const server = required(ini, "global", "server")
  let url: URL
  try {
    url = new URL(server)
  } catch {
    throw new ReportConfigError(
      `${ini.file}: [global] server=${server} is not a URL (e.g. https://mirrors.example.org/xmlrpc)`
    )
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ReportConfigError(`${ini.file}: [global] server=${server} must be an http:// or https:// URL`)
  }
  const siteName = required(ini, "site", "name")
  const hostName = required(ini, "host", "name")
  if (siteName === "" || hostName === "" || required(ini, "site", "password") === "") {
    throw new ReportConfigError(`${ini.file}: [site] name, [site] password and [host] name must not be empty`)
  }

  const categories: Array<ReportCategory> = []
  const seen = new Map<string, string>()
  for (const section of ini.sections.keys()) {
    if (FIXED_NAMES.has(section)) continue
    const key = section.toLowerCase()
    const earlier = seen.get(key)
    if (earlier !== undefined) {
      throw new ReportConfigError(
        `${ini.file}: [${earlier}] and [${section}] name the same category (names are compared lower-cased)`
      )
    }
    seen.set(key, section)
    const enabled = required(ini, section, "enabled")
    const path = required(ini, section, "path")
    categories.push({ section, path, enabled: enabled === "1" })
  }
  return {
    file: ini.file,
    server,
    proxy: getValue(ini, "global", "proxy") || undefined,
    siteName,
    hostName,
    fixed,
    categories
  }
}

/** Reads and checks a report_mirror.conf. */
export const readReportConfig = (file: string): ReportConfig => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why =
      code === "ENOENT"
        ? "does not exist (give the file with --config FILE)"
        : code === "EACCES"
          ? "cannot be read by this user (it holds the site password: readable by the user that runs report)"
          : code === "EISDIR"
            ? "is a directory, not a file"
            : (error as Error).message
    throw new ReportConfigError(`the config file ${file} ${why}`)
  }
  return reportConfigOf(parseIni(text, file))
}

/**
 * JSON as Python's `json.dumps` writes it (", " and ": " between items, non-ASCII as \u escapes), so a check-in is
 * the same text whichever client sends it.
 */
export const pythonJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") {
    // Every character above ASCII is escaped, as Python does.
    return JSON.stringify(value).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
    )
  }
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`
  return `{${Object.entries(value)
    .map(([k, v]) => `${pythonJson(k)}: ${pythonJson(v)}`)
    .join(", ")}}`
}
