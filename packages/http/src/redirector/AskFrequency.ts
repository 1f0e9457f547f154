// How often each kind of answer is asked for, lately: what the answer cache admits by (docs/redirector.md#answers-kept).
// A count-min sketch (four rows of byte counters, a key counted once per row, its estimate the smallest of its
// counters) over the hash of a request key and a client class, so that keys never asked again cost nothing and the
// memory is fixed (256 KiB) however many keys clients make up. Every `window` counts, all counters are halved: what
// was asked a lot a while ago weighs less than what is asked now. Counts saturate at 255. The hash is seeded per
// process, so a client cannot aim its requests at another key's counters.
import { randomInt } from "node:crypto"

/** Counters per row (a power of two). */
const WIDTH = 1 << 16
const ROWS = 4
/** Counts between two halvings: ten per counter of a row (about a minute at 10,000 requests a second). */
const WINDOW = 10 * WIDTH

export class AskFrequency {
  private readonly counters = new Uint8Array(ROWS * WIDTH)
  private readonly seed = randomInt(0x7fffffff)
  private counted = 0

  /** The hash of a request key and a client class (FNV-1a over both, seeded). */
  hash(request: string, client: string): number {
    let h = (0x811c9dc5 ^ this.seed) >>> 0
    for (let i = 0; i < request.length; i++) h = Math.imul(h ^ request.charCodeAt(i), 0x01000193)
    h = Math.imul(h ^ 0x1f, 0x01000193)
    for (let i = 0; i < client.length; i++) h = Math.imul(h ^ client.charCodeAt(i), 0x01000193)
    return h >>> 0
  }

  /** Counts one more ask of a key (by its hash); its estimate, this one included. */
  record(hash: number): number {
    let least = 255
    const step = this.step(hash)
    for (let row = 0, at = hash; row < ROWS; row++, at = (at + step) >>> 0) {
      const slot = row * WIDTH + (at & (WIDTH - 1))
      const count = this.counters[slot]!
      if (count < 255) this.counters[slot] = count + 1
      least = Math.min(least, count < 255 ? count + 1 : 255)
    }
    if (++this.counted >= WINDOW) this.halve()
    return least
  }

  /** How often a key (by its hash) was asked lately: never less than the truth, more only where keys collide. */
  estimate(hash: number): number {
    let least = 255
    const step = this.step(hash)
    for (let row = 0, at = hash; row < ROWS; row++, at = (at + step) >>> 0) {
      least = Math.min(least, this.counters[row * WIDTH + (at & (WIDTH - 1))]!)
    }
    return least
  }

  /** Each row's counter for a key: at `hash`, then `step` on per row (odd, from the hash's high bits). */
  private step(hash: number): number {
    return (Math.imul((hash >>> 16) | (hash << 16), 0x45d9f3b) | 1) >>> 0
  }

  private halve(): void {
    this.counted = 0
    const counters = this.counters
    for (let i = 0; i < counters.length; i++) counters[i] = counters[i]! >>> 1
  }
}
