// The directories a host category is up to date on, as the registry stores them (docs/redirector.md#the-index): a
// bitset over the category's directory numbers (`category_directories.ordinal`), bit n in byte n >> 3 at n & 7 from the
// lowest (PostgreSQL's get_bit order), no trailing zero byte, so that two equal sets are equal bytes.

export type UpToDateBits = Uint8Array

export const NO_BITS: UpToDateBits = new Uint8Array(0)

export const hasBit = (bits: UpToDateBits, ordinal: number): boolean => {
  const byte = ordinal >>> 3
  return byte < bits.length && (bits[byte]! & (1 << (ordinal & 7))) !== 0
}

/** The bitset of `ordinals`. */
export const bitsOf = (ordinals: Iterable<number>): UpToDateBits => {
  let max = -1
  for (const ordinal of ordinals) if (ordinal > max) max = ordinal
  if (max < 0) return NO_BITS
  const bits = new Uint8Array((max >>> 3) + 1)
  for (const ordinal of ordinals) bits[ordinal >>> 3]! |= 1 << (ordinal & 7)
  return bits
}

/** The same set without trailing zero bytes (the stored form). */
export const trimmed = (bits: UpToDateBits): UpToDateBits => {
  let end = bits.length
  while (end > 0 && bits[end - 1] === 0) end--
  return end === bits.length ? bits : bits.subarray(0, end)
}

/** A copy at least `length` bytes long, to set bits in. */
export const widened = (bits: UpToDateBits, length: number): Uint8Array => {
  const out = new Uint8Array(Math.max(length, bits.length))
  out.set(bits)
  return out
}

export const setBit = (bits: Uint8Array, ordinal: number, on: boolean): void => {
  if (on) bits[ordinal >>> 3]! |= 1 << (ordinal & 7)
  else if (ordinal >>> 3 < bits.length) bits[ordinal >>> 3]! &= ~(1 << (ordinal & 7))
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, byte) => {
  let count = 0
  for (let b = byte; b !== 0; b >>= 1) count += b & 1
  return count
})

export const countBits = (bits: UpToDateBits): number => {
  let count = 0
  for (let i = 0; i < bits.length; i++) count += POPCOUNT[bits[i]!]!
  return count
}

export const sameBits = (a: UpToDateBits, b: UpToDateBits): boolean => {
  const x = trimmed(a)
  const y = trimmed(b)
  if (x.length !== y.length) return false
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
  return true
}

/** Each ordinal whose bit differs between `a` and `b`. */
export const forEachDifference = (a: UpToDateBits, b: UpToDateBits, f: (ordinal: number) => void): void => {
  const length = Math.max(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const diff = (a[i] ?? 0) ^ (b[i] ?? 0)
    if (diff === 0) continue
    for (let bit = 0; bit < 8; bit++) if ((diff & (1 << bit)) !== 0) f((i << 3) | bit)
  }
}

/** The bytes of a bytea column as the driver gives them (a Buffer), or of a snapshot's base64 text. */
export const bitsFromBase64 = (text: string): UpToDateBits => new Uint8Array(Buffer.from(text, "base64"))

export const bitsToBase64 = (bits: UpToDateBits): string =>
  Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength).toString("base64")
