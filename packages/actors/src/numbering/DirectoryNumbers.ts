// A category's directories by path, as their numbers (`category_directories.ordinal`): the table a check-in's
// reported paths are looked up in (docs/checkin.md#decoding). It lives in SharedArrayBuffers: built once on the event
// loop's thread, read by every check-in decoding thread without a copy, and none of its 150,000 paths is a string in
// any JavaScript heap (a Map of them was tens of megabytes of long-lived objects for the collector to walk). Nothing
// here imports anything at run time: the decoding threads load this and little else.
import type { CategoryId } from "@mirrormanager/domain/registry"

/** The table; every array is over a SharedArrayBuffer, so posting it to a worker shares it. */
export interface DirectoryNumbers {
  /** The paths' UTF-8 bytes, one after another. */
  readonly bytes: Uint8Array
  /** Where path i starts in `bytes`; one more entry than paths, the last is the end. */
  readonly starts: Int32Array
  /** Path i's directory number. */
  readonly ordinals: Int32Array
  /** Path i's hash. */
  readonly hashes: Int32Array
  /** Open addressing: i + 1 for path i, 0 for a free slot; a power of two, at least twice the paths. */
  readonly slots: Int32Array
}

/** One category's numbers, as of a version of its directories. */
export interface NumberedCategory {
  readonly categoryId: CategoryId
  /** Lower-cased: check-in sections name categories case-insensitively. */
  readonly key: string
  readonly version: string
  readonly numbers: DirectoryNumbers
}

/** FNV-1a over bytes [from, to). */
const hashOf = (bytes: Uint8Array, from: number, to: number): number => {
  let hash = 0x811c9dc5
  for (let i = from; i < to; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193)
  return hash | 0
}

const shared = (length: number): SharedArrayBuffer => new SharedArrayBuffer(Math.max(1, length))

/** The table of `paths` (below the category's top, "" the top itself) and their numbers, index for index. */
export const directoryNumbersOf = (paths: ReadonlyArray<string>, ordinals: ReadonlyArray<number>): DirectoryNumbers => {
  const steps = directoryNumbersSteps(paths, ordinals)
  for (;;) {
    const step = steps.next()
    if (step.done) return step.value
  }
}

/** directoryNumbersOf as steps, a step every 1,024 paths (for `sliced`: a category has 50,000 and more). */
export function* directoryNumbersSteps(
  paths: ReadonlyArray<string>,
  ordinals: ReadonlyArray<number>
): Generator<void, DirectoryNumbers> {
  const encoder = new TextEncoder()
  const count = paths.length
  let size = 0
  for (let i = 0; i < count; i++) {
    size += Buffer.byteLength(paths[i]!, "utf8")
    if ((i & 1023) === 1023) yield
  }
  const bytes = new Uint8Array(shared(size))
  const starts = new Int32Array(shared(4 * (count + 1)))
  const ordinalsOut = new Int32Array(shared(4 * count))
  const hashes = new Int32Array(shared(4 * count))
  let slotCount = 16
  while (slotCount < 2 * count) slotCount *= 2
  const slots = new Int32Array(shared(4 * slotCount))
  const mask = slotCount - 1
  let at = 0
  for (let i = 0; i < count; i++) {
    starts[i] = at
    at += encoder.encodeInto(paths[i]!, bytes.subarray(at)).written
    ordinalsOut[i] = ordinals[i]!
    const hash = hashOf(bytes, starts[i]!, at)
    hashes[i] = hash
    let slot = hash & mask
    while (slots[slot] !== 0) slot = (slot + 1) & mask
    slots[slot] = i + 1
    if ((i & 1023) === 1023) yield
  }
  starts[count] = at
  return { bytes, starts, ordinals: ordinalsOut, hashes, slots }
}

/** Looks paths up in one table; keeps a scratch buffer for their bytes. Not for sharing between threads. */
export class DirectoryNumbering {
  private readonly numbers: DirectoryNumbers
  private readonly encoder = new TextEncoder()
  private scratch = new Uint8Array(1024)

  constructor(numbers: DirectoryNumbers) {
    this.numbers = numbers
  }

  /** The directory number of `path`, or -1 when it is none of the category's directories. */
  numberOf(path: string): number {
    // At most 3 bytes of UTF-8 per UTF-16 unit.
    if (this.scratch.length < 3 * path.length) this.scratch = new Uint8Array(3 * path.length)
    const length = this.encoder.encodeInto(path, this.scratch).written
    const hash = hashOf(this.scratch, 0, length)
    const { bytes, starts, ordinals, hashes, slots } = this.numbers
    const mask = slots.length - 1
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot]!
      if (entry === 0) return -1
      const i = entry - 1
      if (hashes[i] !== hash) continue
      const start = starts[i]!
      if (starts[i + 1]! - start !== length) continue
      let same = true
      for (let k = 0; k < length; k++) {
        if (bytes[start + k] !== this.scratch[k]) {
          same = false
          break
        }
      }
      if (same) return ordinals[i]!
    }
  }

  /**
   * The directories among `paths`, as a bitset of their numbers (bit n in byte n >> 3 at n & 7 from the lowest, no
   * trailing zero byte); paths that are none are left out, a path given twice counts once.
   */
  numberAll(paths: ReadonlyArray<string>): Uint8Array {
    const found = new Int32Array(paths.length)
    let count = 0
    let highest = -1
    for (const path of paths) {
      const ordinal = this.numberOf(path)
      if (ordinal < 0) continue
      found[count++] = ordinal
      if (ordinal > highest) highest = ordinal
    }
    const bits = new Uint8Array(highest < 0 ? 0 : (highest >>> 3) + 1)
    for (let i = 0; i < count; i++) bits[found[i]! >>> 3]! |= 1 << (found[i]! & 7)
    return bits
  }
}
