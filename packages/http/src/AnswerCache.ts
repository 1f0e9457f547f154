// Answers kept between requests. Selection is random (the bandwidth-weighted shuffle), so an answer cannot simply be
// reused; instead each (directory, client class, request options) keeps up to `variants` independently shuffled
// answers and a request gets one of them at random. One request in `variants` computes a fresh answer that joins
// or replaces one, so the orders keep changing and the share of each mirror stays what the shuffle gives. The
// entries hang on the index's per-directory carrier view: a change that touches the directory drops the view, and
// its answers with it.
import type { CarrierView } from "@mirrormanager/actors/MirrorIndex"
import type { RandomSource } from "@mirrormanager/actors/Selection"
import type { AccessFields, Answer } from "./RedirectorAnswer.ts"

interface Variant {
  readonly endpoint: Answer["endpoint"]
  readonly status: number
  readonly headers: Answer["headers"]
  /** The body, or the part before the response time (metalink `pubdate`) ... */
  readonly head: string
  /** ... and the part after it. */
  readonly tail: string | undefined
  readonly hosts: number
  readonly result: string
}

/** What an entry costs besides its answers and key, in characters' worth: the Map slot, the entry, a plan. */
const ENTRY_OVERHEAD = 512

interface Entry {
  readonly variants: Array<Variant>
  /** What the fresh answers of this key are drawn from (a selection plan), made once. */
  plan: unknown
}

export class AnswerCache {
  private views = new WeakMap<CarrierView, Map<string, Entry>>()
  private bytes = 0
  /** At most about this many characters of answers are kept in all; past it, everything is dropped and refilled. */
  private readonly limit: number

  constructor(limit: number) {
    this.limit = limit
  }

  private entry(view: CarrierView, key: string): Entry {
    let entries = this.views.get(view)
    if (entries === undefined) {
      entries = new Map()
      this.views.set(view, entries)
    }
    let entry = entries.get(key)
    if (entry === undefined) {
      entry = { variants: [], plan: undefined }
      entries.set(key, entry)
      // The key and the entry's own bookkeeping count too (a plan is a few hundred bytes more).
      this.charge(key.length + ENTRY_OVERHEAD)
    }
    return entry
  }

  /** Adds to what is kept; past the limit everything is dropped (answers of views dropped by changes count too). */
  private charge(characters: number): void {
    this.bytes += characters
    if (this.bytes > this.limit) {
      this.views = new WeakMap()
      this.bytes = 0
    }
  }

  /** The key's plan: the one kept, or `make`'s, kept from now on. */
  plan<P>(view: CarrierView, key: string, make: () => P, cost: (plan: P) => number): P {
    const entry = this.entry(view, key)
    if (entry.plan === undefined) {
      const plan = make()
      entry.plan = plan
      this.charge(cost(plan))
      return plan
    }
    return entry.plan as P
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
    const entry = this.entry(view, key)
    // A fresh answer for the first two requests, then for one request in `variants` (at random): each variant is
    // an independent draw and the choice among them ignores their content, so what a client gets is distributed
    // as a fresh shuffle would be.
    const count = entry.variants.length
    if (count < 2 || random.next() * variants < 1) {
      const answer = compute()
      const at = answer.body.indexOf(pubdate)
      const variant: Variant = {
        endpoint: answer.endpoint,
        status: answer.status,
        headers: answer.headers,
        head: at < 0 ? answer.body : answer.body.slice(0, at),
        tail: at < 0 ? undefined : answer.body.slice(at + pubdate.length),
        hosts: answer.log.hosts,
        result: answer.log.result
      }
      const size = variant.head.length + (variant.tail?.length ?? 0)
      if (entry.variants.length < variants) {
        entry.variants.push(variant)
        this.bytes += size
      } else {
        const at = Math.floor(random.next() * variants)
        const old = entry.variants[at]!
        this.bytes += size - old.head.length - (old.tail?.length ?? 0)
        entry.variants[at] = variant
      }
      this.charge(0)
      return answer
    }
    const variant = entry.variants[Math.floor(random.next() * entry.variants.length)]!
    log.hosts = variant.hosts
    log.result = variant.result
    return {
      endpoint: variant.endpoint,
      status: variant.status,
      headers: variant.headers,
      body: variant.tail === undefined ? variant.head : variant.head + pubdate + variant.tail,
      log
    }
  }
}

/** The node's cache: about 48 Mi characters' worth (the node's RSS stays under 1 GiB at the benchmark's scale). */
export const answerCache = new AnswerCache(48 * 1024 * 1024)
