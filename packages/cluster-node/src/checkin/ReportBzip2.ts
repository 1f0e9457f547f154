// bzip2 compression for `mirrormanager report`: check-in payloads are bz2 (docs/checkin.md#payload), which servers
// decode with libbzip2 (upstream MirrorManager2) or seek-bzip (ours), and Node has no bzip2 built in. The npm encoders
// are GPL (compressjs), CC-BY-SA (bzip-deflate), a 2019 emscripten build without a documented API (libbzip2-wasm) or a
// node-gyp addon that needs a compiler on every mirror host (node-bzip2): so a small encoder of the format's required
// parts. It writes plain, valid streams (level 9 blocks, one Huffman table used per block, no randomisation):
// compression a little below libbzip2's, decoded byte for byte by any bzip2 decoder (tested with Python's bz2, i.e.
// libbzip2, and seek-bzip).

/** libbzip2's largest block at level 9 (bytes after the initial run-length encoding). */
const BLOCK_MAX = 100_000 * 9 - 19
/** Code lengths libbzip2's encoder keeps to (its decoder accepts up to 20). */
const MAX_CODE_LENGTH = 17
const SYMBOLS_PER_GROUP = 50

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i << 24
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1
    table[i] = c >>> 0
  }
  return table
})()

class BitWriter {
  private bytes = new Uint8Array(1024)
  private length = 0
  private buffer = 0
  private bits = 0

  /** Writes the low `count` (at most 24) bits of `value`, most significant first. */
  write(count: number, value: number) {
    this.buffer = (this.buffer << count) | (value & ((1 << count) - 1))
    this.bits += count
    while (this.bits >= 8) {
      this.bits -= 8
      this.push((this.buffer >>> this.bits) & 0xff)
    }
    this.buffer &= (1 << this.bits) - 1
  }

  write32(value: number) {
    this.write(16, (value >>> 16) & 0xffff)
    this.write(16, value & 0xffff)
  }

  private push(byte: number) {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2)
      grown.set(this.bytes)
      this.bytes = grown
    }
    this.bytes[this.length++] = byte
  }

  finish(): Uint8Array {
    if (this.bits > 0) this.write(8 - this.bits, 0)
    return this.bytes.subarray(0, this.length)
  }
}

/**
 * The Burrows-Wheeler transform of `block` (sorted cyclic rotations, by prefix doubling with counting sorts):
 * the last column and the row of the rotation that starts at 0.
 */
const bwt = (block: Uint8Array): { readonly last: Uint8Array; readonly origin: number } => {
  const n = block.length
  const order = new Int32Array(n)
  let rank = new Int32Array(n)
  let next = new Int32Array(n)
  const shifted = new Int32Array(n)
  const counts = new Int32Array(Math.max(256, n))
  for (let i = 0; i < n; i++) counts[block[i]!]!++
  for (let b = 1; b < 256; b++) counts[b]! += counts[b - 1]!
  for (let i = n - 1; i >= 0; i--) order[--counts[block[i]!]!] = i
  let classes = 1
  rank[order[0]!] = 0
  for (let i = 1; i < n; i++) {
    if (block[order[i]!] !== block[order[i - 1]!]) classes++
    rank[order[i]!] = classes - 1
  }
  for (let h = 1; h < n && classes < n; h <<= 1) {
    for (let i = 0; i < n; i++) shifted[i] = (order[i]! - h + n) % n
    counts.fill(0, 0, classes)
    for (let i = 0; i < n; i++) counts[rank[shifted[i]!]!]!++
    for (let c = 1; c < classes; c++) counts[c]! += counts[c - 1]!
    for (let i = n - 1; i >= 0; i--) order[--counts[rank[shifted[i]!]!]!] = shifted[i]!
    next[order[0]!] = 0
    classes = 1
    for (let i = 1; i < n; i++) {
      const a = order[i]!
      const b = order[i - 1]!
      if (rank[a] !== rank[b] || rank[(a + h) % n] !== rank[(b + h) % n]) classes++
      next[a] = classes - 1
    }
    ;[rank, next] = [next, rank]
  }
  const last = new Uint8Array(n)
  let origin = 0
  for (let i = 0; i < n; i++) {
    const start = order[i]!
    if (start === 0) origin = i
    last[i] = block[(start + n - 1) % n]!
  }
  return { last, origin }
}

/** Huffman code lengths for `frequencies`, none longer than `limit` (flattened by halving, as libbzip2 does). */
const codeLengths = (frequencies: ReadonlyArray<number>, limit: number): Array<number> => {
  const weights = frequencies.map((f) => Math.max(f, 1))
  for (;;) {
    // Nodes 0..size-1 are the symbols; each merge makes a new node; depth is found through the parents.
    const size = weights.length
    const weight = [...weights]
    const parent = new Array<number>(size * 2).fill(-1)
    const queue = weight.map((_, i) => i)
    while (queue.length > 1) {
      queue.sort((a, b) => weight[a]! - weight[b]! || a - b)
      const a = queue.shift()!
      const b = queue.shift()!
      const node = weight.length
      weight.push(weight[a]! + weight[b]!)
      parent[a] = node
      parent[b] = node
      queue.push(node)
    }
    const lengths = weights.map((_, symbol) => {
      let depth = 0
      for (let node = symbol; parent[node] !== -1; node = parent[node]!) depth++
      return Math.max(depth, 1)
    })
    if (lengths.every((l) => l <= limit)) return lengths
    for (let i = 0; i < size; i++) weights[i] = 1 + Math.floor(weights[i]! / 2)
  }
}

/** Canonical codes for `lengths`, as bzip2 decoders rebuild them (by length, then by symbol). */
const canonicalCodes = (lengths: ReadonlyArray<number>): Array<number> => {
  const codes = new Array<number>(lengths.length).fill(0)
  let code = 0
  for (let length = 1; length <= MAX_CODE_LENGTH; length++) {
    for (let symbol = 0; symbol < lengths.length; symbol++) if (lengths[symbol] === length) codes[symbol] = code++
    code <<= 1
  }
  return codes
}

const writeBlock = (out: BitWriter, block: Uint8Array, crc: number) => {
  const { last, origin } = bwt(block)

  const used = new Array<boolean>(256).fill(false)
  for (const byte of last) used[byte] = true
  const alphabet: Array<number> = []
  const index = new Array<number>(256).fill(-1)
  for (let b = 0; b < 256; b++) {
    if (used[b]) {
      index[b] = alphabet.length
      alphabet.push(b)
    }
  }
  const endOfBlock = alphabet.length + 1

  // Move-to-front, then runs of zeros as bijective base-2 numbers in RUNA (0) / RUNB (1).
  const symbols: Array<number> = []
  const front = alphabet.map((_, i) => i)
  let zeros = 0
  const flushZeros = () => {
    if (zeros === 0) return
    let run = zeros - 1
    for (;;) {
      symbols.push(run & 1)
      if (run < 2) break
      run = (run - 2) >> 1
    }
    zeros = 0
  }
  for (const byte of last) {
    const symbol = index[byte]!
    const position = front.indexOf(symbol)
    if (position === 0) {
      zeros++
      continue
    }
    flushZeros()
    front.splice(position, 1)
    front.unshift(symbol)
    symbols.push(position + 1)
  }
  flushZeros()
  symbols.push(endOfBlock)

  const frequencies = new Array<number>(endOfBlock + 1).fill(0)
  for (const s of symbols) frequencies[s]!++
  const lengths = codeLengths(frequencies, MAX_CODE_LENGTH)
  const codes = canonicalCodes(lengths)

  out.write(24, 0x314159)
  out.write(24, 0x265359)
  out.write32(crc)
  out.write(1, 0) // not randomised
  out.write(24, origin)
  let ranges = 0
  for (let r = 0; r < 16; r++) if (used.slice(r * 16, r * 16 + 16).some(Boolean)) ranges |= 0x8000 >> r
  out.write(16, ranges)
  for (let r = 0; r < 16; r++) {
    if ((ranges & (0x8000 >> r)) === 0) continue
    let bits = 0
    for (let b = 0; b < 16; b++) if (used[r * 16 + b]) bits |= 0x8000 >> b
    out.write(16, bits)
  }
  // Two tables (the fewest the format allows), both the same; every group of 50 symbols selects the first.
  const groups = Math.ceil(symbols.length / SYMBOLS_PER_GROUP)
  out.write(3, 2)
  out.write(15, groups)
  for (let g = 0; g < groups; g++) out.write(1, 0)
  for (let table = 0; table < 2; table++) {
    let current = lengths[0]!
    out.write(5, current)
    for (const length of lengths) {
      while (current < length) {
        out.write(2, 2)
        current++
      }
      while (current > length) {
        out.write(2, 3)
        current--
      }
      out.write(1, 0)
    }
  }
  for (const s of symbols) out.write(lengths[s]!, codes[s]!)
}

/** `data` as a bzip2 stream (`BZh9`). */
export const bzip2 = (data: Uint8Array): Uint8Array => {
  const out = new BitWriter()
  out.write(24, 0x425a68) // "BZh"
  out.write(8, 0x39) // "9"
  let combined = 0
  let block = new Uint8Array(BLOCK_MAX)
  let length = 0
  let crc = 0xffffffff
  const endBlock = () => {
    if (length === 0) return
    const blockCrc = ~crc >>> 0
    writeBlock(out, block.subarray(0, length), blockCrc)
    combined = (((combined << 1) | (combined >>> 31)) ^ blockCrc) >>> 0
    block = new Uint8Array(BLOCK_MAX)
    length = 0
    crc = 0xffffffff
  }
  // The initial run-length encoding: a run of 4 to 255 equal bytes is 4 bytes and a count of the rest.
  let i = 0
  while (i < data.length) {
    const byte = data[i]!
    let run = 1
    while (run < 255 && i + run < data.length && data[i + run] === byte) run++
    if (length + (run < 4 ? run : 5) > BLOCK_MAX) endBlock()
    for (let k = 0; k < run; k++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0
    for (let k = 0; k < Math.min(run, 4); k++) block[length++] = byte
    if (run >= 4) block[length++] = run - 4
    i += run
  }
  endBlock()
  out.write(24, 0x177245)
  out.write(24, 0x385090)
  out.write32(combined)
  return out.finish()
}
