// Answers kept between requests. Selection is random (the bandwidth-weighted shuffle), so an answer cannot simply be
// reused; instead each (directory, client class, request options) keeps up to `variants` independently shuffled
// answers and a request gets one of them at random. One request in `variants` computes a fresh answer that joins
// or replaces one, so the orders keep changing and the share of each mirror stays what the shuffle gives. The
// entries hang on the index's per-directory carrier view: a change that touches the directory replaces the view, so
// nothing kept for the old one is served again (and it is the first to go when space is needed).
import type { CarrierView } from "@mirrormanager/actors/MirrorIndex"
import type { RandomSource } from "@mirrormanager/actors/Selection"
import type { AccessFields, Answer } from "./RedirectorAnswer.ts"

interface Variant {
  readonly endpoint: Answer["endpoint"]
  readonly status: number
  readonly headers: Answer["headers"]
  /** The whole body, or, for a metalink, only its URL lines (the rest is the key's frame). */
  readonly own: string
  readonly framed: boolean
  readonly hosts: number
  readonly result: string
}

/** What every metalink of a key shares, kept once: the text before the response time, and around the URL lines. */
interface Frame {
  readonly head: string
  readonly open: string
  readonly close: string
}

const RESOURCES_OPEN = '<resources maxconnections="1">\n'
const RESOURCES_CLOSE = "   </resources>\n"

/** A copy of its own (a slice would keep the whole answer it was cut from alive). */
const own = (text: string) => Buffer.from(text, "utf8").toString("utf8")

/** Answers longer than this keep half the variants. */
const LARGE_ANSWER = 2048

/** What an entry costs besides its answers and key, in characters' worth: the Map slot, the entry, a plan. */
const ENTRY_OVERHEAD = 512

interface Entry {
  readonly variants: Array<Variant>
  /** What the fresh answers of this key are drawn from (a selection plan), made once. */
  plan: unknown
  frame: Frame | undefined
}

/** What is kept for one carrier view (one directory of one index generation). */
interface Slot {
  readonly view: CarrierView
  readonly entries: Map<string, Entry>
  bytes: number
}

export class AnswerCache {
  /** In order of last growth: the directories least recently refreshed come first and go first. */
  private readonly slots = new Map<CarrierView, Slot>()
  private bytes = 0
  /** At most about this many characters' worth is kept; past it, the least recently refreshed directories go. */
  private readonly limit: number

  constructor(limit: number) {
    this.limit = limit
  }

  private slot(view: CarrierView): Slot {
    let slot = this.slots.get(view)
    if (slot === undefined) {
      slot = { view, entries: new Map(), bytes: 0 }
      this.slots.set(view, slot)
    }
    return slot
  }

  private entry(slot: Slot, key: string): Entry {
    let entry = slot.entries.get(key)
    if (entry === undefined) {
      entry = { variants: [], plan: undefined, frame: undefined }
      slot.entries.set(key, entry)
      // The key and the entry's own bookkeeping count too.
      this.charge(slot, key.length + ENTRY_OVERHEAD)
    }
    return entry
  }

  /**
   * Adds to what a directory keeps and moves it to the end; past the limit the directories at the front go. Views
   * replaced by changes are never refreshed again, so they are the first to go.
   */
  private charge(slot: Slot, characters: number): void {
    slot.bytes += characters
    this.bytes += characters
    this.slots.delete(slot.view)
    this.slots.set(slot.view, slot)
    for (const [view, oldest] of this.slots) {
      if (this.bytes <= this.limit) break
      this.slots.delete(view)
      this.bytes -= oldest.bytes
    }
  }

  /** The key's plan: the one kept, or `make`'s, kept from now on. */
  plan<P>(view: CarrierView, key: string, make: () => P, cost: (plan: P) => number): P {
    const slot = this.slot(view)
    const entry = this.entry(slot, key)
    if (entry.plan === undefined) {
      const plan = make()
      entry.plan = plan
      this.charge(slot, cost(plan))
      return plan
    }
    return entry.plan as P
  }

  /** What is kept of an answer; undefined when it does not fit the key's frame (then it is not kept). */
  private variantOf(slot: Slot, entry: Entry, answer: Answer, pubdate: string): Variant | undefined {
    const base = {
      endpoint: answer.endpoint,
      status: answer.status,
      headers: answer.headers,
      hosts: answer.log.hosts,
      result: answer.log.result
    }
    const body = answer.body
    const at = body.indexOf(pubdate)
    const opens = at < 0 ? -1 : body.indexOf(RESOURCES_OPEN, at)
    const closes = opens < 0 ? -1 : body.lastIndexOf(RESOURCES_CLOSE)
    if (closes < 0) return at < 0 ? { ...base, own: body, framed: false } : undefined
    const head = body.slice(0, at)
    const open = body.slice(at + pubdate.length, opens + RESOURCES_OPEN.length)
    const close = body.slice(closes)
    if (entry.frame === undefined) {
      entry.frame = { head: own(head), open: own(open), close: own(close) }
      this.charge(slot, head.length + open.length + close.length)
    } else if (entry.frame.head !== head || entry.frame.open !== open || entry.frame.close !== close) return undefined
    return { ...base, own: own(body.slice(opens + RESOURCES_OPEN.length, closes)), framed: true }
  }

  answer(
    view: CarrierView,
    key: string,
    variants: number,
    random: RandomSource,
    pubdate: string,
    log: AccessFields,
    compute: () => Answer
  ): Answer {
    const slot = this.slot(view)
    const entry = this.entry(slot, key)
    // A fresh answer for the first two requests, then for one request in `variants` (at random): each variant is
    // an independent draw and the choice among them ignores their content, so what a client gets is distributed
    // as a fresh shuffle would be.
    const count = entry.variants.length
    if (count < 2 || random.next() * variants < 1) {
      const answer = compute()
      const variant = this.variantOf(slot, entry, answer, pubdate)
      if (variant === undefined) return answer
      const size = variant.own.length
      // Large answers keep fewer variants, so more keys fit; one request in `variants` still draws anew.
      const keep = size > LARGE_ANSWER ? Math.max(2, variants >> 1) : variants
      if (entry.variants.length < keep) {
        entry.variants.push(variant)
        this.charge(slot, size)
      } else {
        const at = Math.floor(random.next() * entry.variants.length)
        const old = entry.variants[at]!
        entry.variants[at] = variant
        this.charge(slot, size - old.own.length)
      }
      return answer
    }
    const variant = entry.variants[Math.floor(random.next() * entry.variants.length)]!
    log.hosts = variant.hosts
    log.result = variant.result
    return {
      endpoint: variant.endpoint,
      status: variant.status,
      headers: variant.headers,
      body: variant.framed
        ? `${entry.frame!.head}${pubdate}${entry.frame!.open}${variant.own}${entry.frame!.close}`
        : variant.own,
      log
    }
  }
}

/** The node's cache: about 48 Mi characters' worth (the node's RSS stays under 1 GiB at the benchmark's scale). */
export const answerCache = new AnswerCache(48 * 1024 * 1024)
