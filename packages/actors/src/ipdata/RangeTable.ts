// Address ranges to a number (an ASN) for the Redirector (docs/redirector.md#the-index: the global prefix→ASN table,
// the R&E list): sorted, disjoint ranges in typed arrays, found by binary search. Built from operator prefix lists
// (`<prefix>/<len> <asn>`, nested prefixes: the longest wins) or from range CSVs (`start,end,asn,organisation`, as the
// @ip-location-db/asn package ships them), read line by line so a 65 MB file never becomes objects.
import * as fs from "node:fs"
import { StringDecoder } from "node:string_decoder"
import {
  type ClientAddress,
  formatAddress,
  ipv4Word,
  ipv6Words,
  type Netblock,
  scanDecimal128,
  scanIPv4,
  scanIPv6
} from "./IpAddress.ts"

const V4_MAX = 4294967295
const WORD = 4294967296
const MAX_PROBLEMS_KEPT = 100
const MAX_LINE = 64 * 1024

/** One family's ranges, sorted and disjoint; an IPv6 address takes 4 words (most significant first). */
export interface FamilyRanges {
  readonly starts: Uint32Array
  readonly ends: Uint32Array
  readonly values: Uint32Array
  readonly count: number
}

const scratch = new Uint32Array(4)

const compareWords = (a: Uint32Array, ai: number, b: Uint32Array, bi: number): number => {
  for (let w = 0; w < 4; w++) {
    const d = a[ai + w]! - b[bi + w]!
    if (d !== 0) return d
  }
  return 0
}

/** An immutable table of disjoint address ranges, each with an unsigned 32-bit value. */
export class RangeTable {
  readonly v4: FamilyRanges
  readonly v6: FamilyRanges

  constructor(v4: FamilyRanges, v6: FamilyRanges) {
    this.v4 = v4
    this.v6 = v6
  }

  static readonly empty: RangeTable = new RangeTable(emptyFamily(), emptyFamily())

  /** The value of the range containing the address. */
  lookup(address: ClientAddress): number | undefined {
    if (address.family === 4) {
      const { starts, ends, values, count } = this.v4
      const key = ipv4Word(address.bytes)
      let lo = 0
      let hi = count
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (starts[mid]! <= key) lo = mid + 1
        else hi = mid
      }
      return lo > 0 && ends[lo - 1]! >= key ? values[lo - 1] : undefined
    }
    const { starts, ends, values, count } = this.v6
    const key = ipv6Words(address.bytes, scratch)
    let lo = 0
    let hi = count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareWords(starts, 4 * mid, key, 0) <= 0) lo = mid + 1
      else hi = mid
    }
    return lo > 0 && compareWords(ends, 4 * (lo - 1), key, 0) >= 0 ? values[lo - 1] : undefined
  }

  /** Ranges held (both families). */
  get size(): number {
    return this.v4.count + this.v6.count
  }

  /** Bytes of typed arrays held. */
  get byteLength(): number {
    return [this.v4, this.v6].reduce((n, f) => n + f.starts.byteLength + f.ends.byteLength + f.values.byteLength, 0)
  }

  /** From netblocks; nested netblocks resolve to the longest prefix; for the same netblock the last entry wins. */
  static fromPrefixes(entries: Iterable<{ readonly netblock: Netblock; readonly value: number }>): RangeTable {
    const collector = new PrefixCollector()
    for (const { netblock, value } of entries) {
      checkValue(value)
      if (netblock.family === 4) collector.addV4(ipv4Word(netblock.bytes), netblock.prefixLength, value, 0, 0)
      else collector.addV6(ipv6Words(netblock.bytes, scratch), netblock.prefixLength, value, 0, 0)
    }
    return collector.build(() => {})
  }

  /** From inclusive start/end ranges in any order; overlapping ranges are an error. */
  static fromRanges(
    entries: Iterable<{ readonly start: ClientAddress; readonly end: ClientAddress; readonly value: number }>
  ): RangeTable {
    const collector = new RangeCollector()
    let line = 0
    for (const { start, end, value } of entries) {
      line++
      checkValue(value)
      if (start.family !== end.family)
        throw new RangeError(`range ${line}: ${start.text} and ${end.text} differ in family`)
      if (start.family === 4) {
        if (ipv4Word(start.bytes) > ipv4Word(end.bytes))
          throw new RangeError(`range ${line}: ${start.text} > ${end.text}`)
        collector.addV4(ipv4Word(start.bytes), ipv4Word(end.bytes), value, 0, line)
      } else {
        const s = ipv6Words(start.bytes, new Uint32Array(4))
        if (compareWords(s, 0, ipv6Words(end.bytes, scratch), 0) > 0)
          throw new RangeError(`range ${line}: ${start.text} > ${end.text}`)
        collector.addV6(s, scratch, value, 0, line)
      }
    }
    return collector.build((problem) => {
      throw new RangeError(`range ${problem.line}: ${problem.reason}`)
    })
  }
}

function emptyFamily(): FamilyRanges {
  return { starts: new Uint32Array(0), ends: new Uint32Array(0), values: new Uint32Array(0), count: 0 }
}

const checkValue = (value: number) => {
  if (!Number.isInteger(value) || value < 0 || value > V4_MAX)
    throw new RangeError(`${value} is not an unsigned 32-bit value`)
}

// ---- Building ----

/** A growable Uint32Array. */
class Words {
  array = new Uint32Array(1024)
  length = 0
  push(value: number): void {
    if (this.length === this.array.length) {
      const grown = new Uint32Array(this.array.length * 2)
      grown.set(this.array)
      this.array = grown
    }
    this.array[this.length++] = value
  }
  push4(words: Uint32Array, offset = 0): void {
    for (let w = 0; w < 4; w++) this.push(words[offset + w]!)
  }
  trimmed(): Uint32Array {
    return this.array.slice(0, this.length)
  }
}

/** Receives the final sorted, disjoint ranges of one family and merges neighbours with the same value. */
class FamilyOutput {
  readonly starts = new Words()
  readonly ends = new Words()
  readonly values = new Words()
  private lastEnd4 = -2

  pushV4(start: number, end: number, value: number): void {
    const n = this.values.length
    if (n > 0 && this.lastEnd4 + 1 === start && this.values.array[n - 1] === value) {
      this.ends.array[n - 1] = end
    } else {
      this.starts.push(start)
      this.ends.push(end)
      this.values.push(value)
    }
    this.lastEnd4 = end
  }

  pushV6(start: bigint, end: bigint, value: number): void {
    writeBig(start, bounds, 0)
    this.pushV6Words(bounds, 0, writeBig(end, bounds, 4), 4, value)
  }

  pushV6Words(starts: Uint32Array, startAt: number, ends: Uint32Array, endAt: number, value: number): void {
    const n = this.values.length
    const last = 4 * (n - 1)
    if (
      n > 0 &&
      this.values.array[n - 1] === value &&
      increment(this.ends.array, last, following) &&
      compareWords(following, 0, starts, startAt) === 0
    ) {
      for (let w = 0; w < 4; w++) this.ends.array[last + w] = ends[endAt + w]!
    } else {
      this.starts.push4(starts, startAt)
      this.ends.push4(ends, endAt)
      this.values.push(value)
    }
  }

  finish(): FamilyRanges {
    return {
      starts: this.starts.trimmed(),
      ends: this.ends.trimmed(),
      values: this.values.trimmed(),
      count: this.values.length
    }
  }
}

const following = new Uint32Array(4)
const bounds = new Uint32Array(8)

/** out = words + 1; false when it wraps past the last address. */
const increment = (words: Uint32Array, offset: number, out: Uint32Array): boolean => {
  let carry = 1
  for (let w = 3; w >= 0; w--) {
    const sum = words[offset + w]! + carry
    out[w] = sum % WORD
    carry = sum >= WORD ? 1 : 0
  }
  return carry === 0
}

const toBig = (words: Uint32Array, offset: number): bigint =>
  (BigInt(words[offset]!) << 96n) |
  (BigInt(words[offset + 1]!) << 64n) |
  (BigInt(words[offset + 2]!) << 32n) |
  BigInt(words[offset + 3]!)

const writeBig = (value: bigint, out: Uint32Array, offset: number): Uint32Array => {
  out[offset] = Number((value >> 96n) & 0xffffffffn)
  out[offset + 1] = Number((value >> 64n) & 0xffffffffn)
  out[offset + 2] = Number((value >> 32n) & 0xffffffffn)
  out[offset + 3] = Number(value & 0xffffffffn)
  return out
}

const formatV4 = (word: number) =>
  formatAddress(Uint8Array.of(word >>> 24, (word >>> 16) & 255, (word >>> 8) & 255, word & 255))
const formatV6 = (value: bigint) => {
  const bytes = new Uint8Array(16)
  for (let i = 15; i >= 0; i--) {
    bytes[i] = Number(value & 255n)
    value >>= 8n
  }
  return formatAddress(bytes)
}

/** Indexes 0..n-1 in the order `compare` gives; skips the sort when already in order (files usually are). */
const orderOf = (n: number, compare: (a: number, b: number) => number): Uint32Array => {
  const order = new Uint32Array(n)
  let sorted = true
  for (let i = 0; i < n; i++) {
    order[i] = i
    if (i > 0 && sorted && compare(i - 1, i) > 0) sorted = false
  }
  return sorted ? order : order.sort(compare)
}

/** Where an entry came from: which source (file) and which line of it. */
interface Origin {
  readonly sources: Words
  readonly lines: Words
}

type ProblemSink = (problem: { readonly source: number; readonly line: number; readonly reason: string }) => void

const where = (origin: Origin, i: number, sourceNames?: ReadonlyArray<string>) => {
  const source = origin.sources.array[i]!
  const line = origin.lines.array[i]!
  return sourceNames !== undefined && sourceNames.length > 1 ? `${sourceNames[source]}:${line}` : `line ${line}`
}

/** Netblocks of both families; `build` flattens nested ones into disjoint ranges, the longest prefix winning. */
class PrefixCollector {
  private readonly v4 = {
    starts: new Words(),
    lengths: new Words(),
    values: new Words(),
    sources: new Words(),
    lines: new Words()
  }
  private readonly v6 = {
    starts: new Words(),
    lengths: new Words(),
    values: new Words(),
    sources: new Words(),
    lines: new Words()
  }
  sourceNames: ReadonlyArray<string> = []

  addV4(start: number, length: number, value: number, source: number, line: number): void {
    const mask = length === 0 ? 0 : (~0 << (32 - length)) >>> 0
    this.v4.starts.push((start & mask) >>> 0)
    this.v4.lengths.push(length)
    this.v4.values.push(value)
    this.v4.sources.push(source)
    this.v4.lines.push(line)
  }

  addV6(words: Uint32Array, length: number, value: number, source: number, line: number): void {
    for (let w = 0; w < 4; w++) {
      const bits = Math.min(32, Math.max(0, length - 32 * w))
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
      this.v6.starts.push((words[w]! & mask) >>> 0)
    }
    this.v6.lengths.push(length)
    this.v6.values.push(value)
    this.v6.sources.push(source)
    this.v6.lines.push(line)
  }

  get count(): number {
    return this.v4.values.length + this.v6.values.length
  }

  build(onProblem: ProblemSink): RangeTable {
    const v4 = this.v4
    const s4 = v4.starts.array
    const l4 = v4.lengths.array
    const out4 = new FamilyOutput()
    flatten(
      orderOf(v4.values.length, (a, b) => s4[a]! - s4[b]! || l4[a]! - l4[b]! || a - b),
      (i) => s4[i]!,
      (i) => s4[i]! + 2 ** (32 - l4[i]!) - 1,
      (i) => l4[i]!,
      v4.values.array,
      { next: (k) => k + 1, previous: (k) => k - 1 },
      (start, end, value) => out4.pushV4(start, end, value),
      (dropped, kept) =>
        onProblem({
          source: v4.sources.array[dropped]!,
          line: v4.lines.array[dropped]!,
          reason: `${formatV4(s4[dropped]!)}/${l4[dropped]} is given again at ${where(v4, kept, this.sourceNames)}, which wins`
        })
    )
    const v6 = this.v6
    const s6 = v6.starts.array
    const l6 = v6.lengths.array
    const out6 = new FamilyOutput()
    flatten(
      orderOf(v6.values.length, (a, b) => compareWords(s6, 4 * a, s6, 4 * b) || l6[a]! - l6[b]! || a - b),
      (i) => toBig(s6, 4 * i),
      (i) => toBig(s6, 4 * i) + (1n << BigInt(128 - l6[i]!)) - 1n,
      (i) => l6[i]!,
      v6.values.array,
      { next: (k) => k + 1n, previous: (k) => k - 1n },
      (start, end, value) => out6.pushV6(start, end, value),
      (dropped, kept) =>
        onProblem({
          source: v6.sources.array[dropped]!,
          line: v6.lines.array[dropped]!,
          reason: `${formatV6(toBig(s6, 4 * dropped))}/${l6[dropped]} is given again at ${where(v6, kept, this.sourceNames)}, which wins`
        })
    )
    return new RangeTable(out4.finish(), out6.finish())
  }
}

/**
 * Turns prefixes sorted by (start, length, input order) into disjoint ranges: inside a prefix, the parts covered
 * by a longer prefix take the longer prefix's value. Prefixes either nest or are disjoint, so a stack suffices.
 */
function flatten<K extends number | bigint>(
  order: Uint32Array,
  startOf: (i: number) => K,
  endOf: (i: number) => K,
  lengthOf: (i: number) => number,
  values: Uint32Array,
  step: { readonly next: (k: K) => K; readonly previous: (k: K) => K },
  emit: (start: K, end: K, value: number) => void,
  onDuplicate: (dropped: number, kept: number) => void
): void {
  const ends: Array<K> = []
  const stackValues: Array<number> = []
  // Everything before the cursor has been emitted.
  let cursor = undefined as unknown as K
  const close = () => {
    const end = ends.pop()!
    const value = stackValues.pop()!
    if (cursor <= end) emit(cursor, end, value)
    cursor = step.next(end)
  }
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!
    const following = order[k + 1]
    if (following !== undefined && lengthOf(following) === lengthOf(i) && startOf(following) === startOf(i)) {
      onDuplicate(i, following)
      continue
    }
    const start = startOf(i)
    while (ends.length > 0 && ends[ends.length - 1]! < start) close()
    if (ends.length > 0 && cursor < start) emit(cursor, step.previous(start), stackValues[stackValues.length - 1]!)
    cursor = start
    ends.push(endOf(i))
    stackValues.push(values[i]!)
  }
  while (ends.length > 0) close()
}

/** Start/end ranges of both families; `build` sorts them and drops any that overlaps an earlier one. */
class RangeCollector {
  private readonly v4 = {
    starts: new Words(),
    ends: new Words(),
    values: new Words(),
    sources: new Words(),
    lines: new Words()
  }
  private readonly v6 = {
    starts: new Words(),
    ends: new Words(),
    values: new Words(),
    sources: new Words(),
    lines: new Words()
  }
  sourceNames: ReadonlyArray<string> = []

  addV4(start: number, end: number, value: number, source: number, line: number): void {
    this.v4.starts.push(start)
    this.v4.ends.push(end)
    this.v4.values.push(value)
    this.v4.sources.push(source)
    this.v4.lines.push(line)
  }

  addV6(start: Uint32Array, end: Uint32Array, value: number, source: number, line: number): void {
    this.v6.starts.push4(start)
    this.v6.ends.push4(end)
    this.v6.values.push(value)
    this.v6.sources.push(source)
    this.v6.lines.push(line)
  }

  get count(): number {
    return this.v4.values.length + this.v6.values.length
  }

  build(onProblem: ProblemSink): RangeTable {
    const v4 = this.v4
    const s4 = v4.starts.array
    const e4 = v4.ends.array
    const out4 = new FamilyOutput()
    let last = -1
    for (const i of orderOf(v4.values.length, (a, b) => s4[a]! - s4[b]! || a - b)) {
      if (last >= 0 && s4[i]! <= e4[last]!) {
        onProblem({
          source: v4.sources.array[i]!,
          line: v4.lines.array[i]!,
          reason: `range ${formatV4(s4[i]!)}-${formatV4(e4[i]!)} overlaps ${where(v4, last, this.sourceNames)} (${formatV4(s4[last]!)}-${formatV4(e4[last]!)})`
        })
        continue
      }
      out4.pushV4(s4[i]!, e4[i]!, v4.values.array[i]!)
      last = i
    }
    const v6 = this.v6
    const s6 = v6.starts.array
    const e6 = v6.ends.array
    const out6 = new FamilyOutput()
    last = -1
    for (const i of orderOf(v6.values.length, (a, b) => compareWords(s6, 4 * a, s6, 4 * b) || a - b)) {
      if (last >= 0 && compareWords(s6, 4 * i, e6, 4 * last) <= 0) {
        onProblem({
          source: v6.sources.array[i]!,
          line: v6.lines.array[i]!,
          reason: `range ${formatV6(toBig(s6, 4 * i))}-${formatV6(toBig(e6, 4 * i))} overlaps ${where(v6, last, this.sourceNames)} (${formatV6(toBig(s6, 4 * last))}-${formatV6(toBig(e6, 4 * last))})`
        })
        continue
      }
      out6.pushV6Words(s6, 4 * i, e6, 4 * i, v6.values.array[i]!)
      last = i
    }
    return new RangeTable(out4.finish(), out6.finish())
  }
}

// ---- Parsing ----

/** `<prefix>/<len> <asn>` lines, or `start,end,asn,organisation` CSV rows. */
export type TableFormat = "prefixes" | "ranges"

/** A line that was not used, and why. */
export interface TableProblem {
  readonly source: string
  readonly line: number
  readonly reason: string
}

export interface TableReport {
  readonly sources: ReadonlyArray<string>
  readonly format: TableFormat
  /** Lines read, including comments and blank lines. */
  readonly lines: number
  /** Lines whose prefix or range is in the table. */
  readonly entries: number
  /** `/0` lines, ignored as upstream MirrorManager does. */
  readonly defaultRoutes: number
  /** Lines that were not used (bad, overlapping, or overridden by a later line): the first 100 found, by line. */
  readonly problems: ReadonlyArray<TableProblem>
  readonly problemCount: number
  /** Disjoint ranges after flattening and merging neighbours with the same value. */
  readonly ranges: { readonly v4: number; readonly v6: number }
}

export interface TableLoad {
  readonly table: RangeTable
  readonly report: TableReport
}

const isSpace = (c: number) => c === 32 || c === 9

/** `text.indexOf(char, start)` that stops at `end`, so a missing character costs the line, not the whole chunk. */
const find = (text: string, char: number, start: number, end: number): number => {
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === char) return i
  return -1
}

const HASH = 35
const COMMA = 44
const DOT = 46
const SLASH = 47
const COLON = 58

const excerpt = (text: string, start: number, end: number) => {
  const line = text.slice(start, Math.min(end, start + 100))
  return JSON.stringify(end - start > 100 ? `${line}…` : line)
}

const parseAsn = (text: string, start: number, end: number): number => {
  if (start === end || end - start > 10) return -1
  let value = 0
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return -1
    value = value * 10 + (c - 48)
  }
  return value > V4_MAX || (end - start > 1 && text.charCodeAt(start) === 48) ? -1 : value
}

const startWords = new Uint32Array(4)
const endWords = new Uint32Array(4)

/** Parses the lines of one or more sources into one table; the format is fixed or taken from the first data line. */
class TableParser {
  private readonly prefixes = new PrefixCollector()
  private readonly ranges = new RangeCollector()
  private readonly sources: Array<string> = []
  private readonly problems: Array<TableProblem & { readonly order: number }> = []
  private problemCount = 0
  private format: TableFormat | undefined
  private lines = 0
  private defaultRoutes = 0
  private source = 0

  constructor(format?: TableFormat) {
    this.format = format
  }

  startSource(name: string): void {
    this.source = this.sources.length
    this.sources.push(name)
  }

  private problem(source: number, line: number, reason: string): void {
    this.problemCount++
    if (this.problems.length < MAX_PROBLEMS_KEPT) {
      this.problems.push({ source: this.sources[source] ?? "", line, reason, order: source * WORD + line })
    }
  }

  /** One line: `text[start, end)`, without its line break. */
  line(text: string, start: number, end: number, line: number): void {
    this.lines++
    while (start < end && isSpace(text.charCodeAt(start))) start++
    if (start === end || text.charCodeAt(start) === HASH) return
    this.format ??= formatOf(text.slice(start, end))
    if (end - start > MAX_LINE) {
      this.problem(this.source, line, `line is longer than ${MAX_LINE} characters`)
      return
    }
    const reason =
      this.format === "prefixes" ? this.prefixLine(text, start, end, line) : this.rangeLine(text, start, end, line)
    if (reason !== undefined) this.problem(this.source, line, `${reason}: ${excerpt(text, start, end)}`)
  }

  private prefixLine(text: string, start: number, end: number, line: number): string | undefined {
    const hash = find(text, HASH, start, end)
    if (hash >= 0) end = hash
    while (end > start && isSpace(text.charCodeAt(end - 1))) end--
    let i = start
    while (i < end && !isSpace(text.charCodeAt(i))) i++
    const prefixEnd = i
    while (i < end && isSpace(text.charCodeAt(i))) i++
    const asnStart = i
    while (i < end && !isSpace(text.charCodeAt(i))) i++
    const asnEnd = i
    if (asnStart === asnEnd || i !== end) return "expected `<prefix>/<length> <asn>`"
    const slash = find(text, SLASH, start, prefixEnd)
    if (slash < 0) return "the prefix has no /length"
    const asn = parseAsn(text, asnStart, asnEnd)
    if (asn < 0) return "the ASN is not a number from 0 to 4294967295"
    const length = parseAsn(text, slash + 1, prefixEnd)
    if (find(text, COLON, start, slash) >= 0) {
      if (!scanIPv6(text, start, slash, startWords, 0)) return "not an IPv6 address"
      if (length < 0 || length > 128) return "the IPv6 prefix length is not 0 to 128"
      if (length === 0) {
        this.defaultRoutes++
        return undefined
      }
      if (length >= 96 && startWords[0] === 0 && startWords[1] === 0 && startWords[2] === 0xffff) {
        if (length === 96) this.defaultRoutes++
        else this.prefixes.addV4(startWords[3]!, length - 96, asn, this.source, line)
      } else {
        this.prefixes.addV6(startWords, length, asn, this.source, line)
      }
      return undefined
    }
    const address = scanIPv4(text, start, slash)
    if (address < 0) return "not an IPv4 address"
    if (length < 0 || length > 32) return "the IPv4 prefix length is not 0 to 32"
    if (length === 0) this.defaultRoutes++
    else this.prefixes.addV4(address, length, asn, this.source, line)
    return undefined
  }

  private rangeLine(text: string, start: number, end: number, line: number): string | undefined {
    const c1 = find(text, COMMA, start, end)
    const c2 = c1 < 0 ? -1 : find(text, COMMA, c1 + 1, end)
    if (c2 < 0) return "expected `start,end,asn,organisation`"
    // The ASN ends at the next comma or the end of the line; the organisation after it is not read.
    let c3 = c2 + 1
    while (c3 < end && c3 - c2 <= 11 && text.charCodeAt(c3) !== COMMA) c3++
    const asn = parseAsn(text, c2 + 1, c3)
    if (asn < 0) return "the ASN is not a number from 0 to 4294967295"
    if (find(text, COLON, start, c1) >= 0) {
      if (!scanIPv6(text, start, c1, startWords, 0) || !scanIPv6(text, c1 + 1, c2, endWords, 0))
        return "start or end is not an IPv6 address"
      return this.addV6Range(asn, line)
    }
    if (find(text, DOT, start, c1) >= 0) {
      const from = scanIPv4(text, start, c1)
      const to = scanIPv4(text, c1 + 1, c2)
      if (from < 0 || to < 0) return "start or end is not an IPv4 address"
      if (from > to) return "start is after end"
      this.ranges.addV4(from, to, asn, this.source, line)
      return undefined
    }
    // Numeric files (asn-ipv4-num.csv, asn-ipv6-num.csv): an end beyond 32 bits makes the row IPv6.
    if (!scanDecimal128(text, start, c1, startWords, 0) || !scanDecimal128(text, c1 + 1, c2, endWords, 0))
      return "start or end is neither an address nor a number"
    if (endWords[0] === 0 && endWords[1] === 0 && endWords[2] === 0) {
      if (startWords[3]! > endWords[3]!) return "start is after end"
      this.ranges.addV4(startWords[3]!, endWords[3]!, asn, this.source, line)
      return undefined
    }
    return this.addV6Range(asn, line)
  }

  private addV6Range(asn: number, line: number): string | undefined {
    if (compareWords(startWords, 0, endWords, 0) > 0) return "start is after end"
    if (startWords[0] === 0 && startWords[1] === 0 && startWords[2] === 0xffff) {
      if (endWords[0] !== 0 || endWords[1] !== 0 || endWords[2] !== 0xffff)
        return "the range runs from IPv4-mapped addresses into other IPv6 addresses"
      this.ranges.addV4(startWords[3]!, endWords[3]!, asn, this.source, line)
      return undefined
    }
    this.ranges.addV6(startWords, endWords, asn, this.source, line)
    return undefined
  }

  finish(): TableLoad {
    const format = this.format ?? "prefixes"
    const sink: ProblemSink = ({ source, line, reason }) => this.problem(source, line, reason)
    const used = format === "prefixes" ? this.prefixes : this.ranges
    used.sourceNames = this.sources
    const before = this.problemCount
    const table = used.build(sink)
    const problems = this.problems
      .sort((a, b) => a.order - b.order)
      .map(({ source, line, reason }) => ({ source, line, reason }))
    return {
      table,
      report: {
        sources: this.sources,
        format,
        lines: this.lines,
        entries: used.count - (this.problemCount - before),
        defaultRoutes: this.defaultRoutes,
        problems,
        problemCount: this.problemCount,
        ranges: { v4: table.v4.count, v6: table.v6.count }
      }
    }
  }
}

/** Splits text into lines (`\n` or `\r\n`), carrying a partial last line over to the next chunk. */
class LineSplitter {
  private carry = ""
  private lineNumber = 0
  private readonly onLine: (text: string, start: number, end: number, line: number) => void

  constructor(onLine: (text: string, start: number, end: number, line: number) => void) {
    this.onLine = onLine
  }

  push(chunk: string): void {
    let start = 0
    if (this.carry.length > 0) {
      // The line begun in the last chunk ends in this one; the rest is scanned in place (no concatenated copy).
      const newline = chunk.indexOf("\n")
      if (newline < 0) {
        this.carry += chunk
        // A file without line breaks (a binary file given by mistake) must not grow one string without bound.
        if (this.carry.length > MAX_LINE * 16) {
          this.emit(this.carry, 0, this.carry.length)
          this.carry = ""
        }
        return
      }
      const line = this.carry + chunk.slice(0, newline)
      this.carry = ""
      this.emit(line, 0, line.length)
      start = newline + 1
    }
    for (;;) {
      const newline = chunk.indexOf("\n", start)
      if (newline < 0) break
      this.emit(chunk, start, newline)
      start = newline + 1
    }
    this.carry = chunk.slice(start)
  }

  end(): void {
    if (this.carry.length > 0) this.emit(this.carry, 0, this.carry.length)
    this.carry = ""
  }

  private emit(text: string, start: number, end: number): void {
    if (end > start && text.charCodeAt(end - 1) === 13) end--
    this.onLine(text, start, end, ++this.lineNumber)
  }
}

const parseText = (text: string, source: string, format: TableFormat): TableLoad => {
  const parser = new TableParser(format)
  parser.startSource(source)
  const lines = new LineSplitter((t, s, e, l) => parser.line(t, s, e, l))
  lines.push(text)
  lines.end()
  return parser.finish()
}

/**
 * Parses `<prefix>/<length> <asn>` lines (upstream MirrorManager's global netblocks and R&E lists): `#` starts a
 * comment, blank lines are skipped, `/0` is ignored, nested prefixes resolve to the longest, and for the same
 * prefix the later line wins. Unusable lines are reported with their line numbers.
 */
export const parsePrefixList = (text: string, source = "<text>"): TableLoad => parseText(text, source, "prefixes")

/**
 * Parses `start,end,asn,organisation` rows (the CSVs of @ip-location-db/asn: addresses, or numbers in the `-num`
 * files). Ranges may come in any order; one that overlaps an earlier range is reported and skipped.
 */
export const parseRangeCsv = (text: string, source = "<text>"): TableLoad => parseText(text, source, "ranges")

/**
 * Reads one or more files into one table, streaming (256 KiB at a time, yielding to the event loop between
 * chunks). The format comes from the first data line of the first file (a comma makes it a CSV); all files must
 * share it. Fails when a file cannot be read.
 */
export const readTableFiles = async (paths: ReadonlyArray<string>): Promise<TableLoad> => {
  let format: TableFormat | undefined
  for (const path of paths) {
    const fileFormat = await detectFormat(path)
    if (format !== undefined && fileFormat !== undefined && fileFormat !== format) {
      throw new Error(`${path} holds ${describeFormat(fileFormat)} but ${paths[0]} holds ${describeFormat(format)}`)
    }
    format ??= fileFormat
  }
  const parser = new TableParser(format)
  for (const path of paths) {
    parser.startSource(path)
    const decoder = new StringDecoder("utf8")
    const lines = new LineSplitter((t, s, e, l) => parser.line(t, s, e, l))
    for await (const chunk of fs.createReadStream(path, { highWaterMark: 256 * 1024 })) {
      lines.push(decoder.write(chunk as Buffer))
    }
    lines.push(decoder.end())
    lines.end()
  }
  return parser.finish()
}

/** A data line is a CSV row when it has a comma before any `#` comment. */
const formatOf = (line: string): TableFormat => {
  const hash = line.indexOf("#")
  return (hash < 0 ? line : line.slice(0, hash)).includes(",") ? "ranges" : "prefixes"
}

const describeFormat = (format: TableFormat) =>
  format === "prefixes" ? "`<prefix>/<length> <asn>` lines" : "`start,end,asn,organisation` rows"

/** The format of a file from its first data line (undefined when it has none in its first 64 KiB). */
const detectFormat = async (path: string): Promise<TableFormat | undefined> => {
  const handle = await fs.promises.open(path, "r")
  try {
    const buffer = Buffer.alloc(64 * 1024)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
    for (const raw of buffer.toString("utf8", 0, bytesRead).split("\n")) {
      const line = raw.trim()
      if (line.length > 0 && !line.startsWith("#")) return formatOf(line)
    }
    return undefined
  } finally {
    await handle.close()
  }
}
