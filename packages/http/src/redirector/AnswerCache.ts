// Answers kept between requests. Selection is random (the bandwidth-weighted shuffle), so an answer cannot simply be
// reused; instead each (directory, request, client class) keeps up to `variants` independently shuffled answers and
// a request gets one of them at random. One request in `refresh` computes a fresh answer that joins or replaces
// one, so the orders keep changing and the share of each mirror stays what the shuffle gives. The entries hang on
// the index's per-directory carrier view: a change that touches the directory replaces the view, so nothing kept
// for the old one is served again (and it is the first to go when space is needed). Everything kept hangs on the
// index it was made from (its generation): a new index (a full build, the snapshot) drops all of it at once, and the
// cache holds the index only weakly, so an index the Redirector let go is not kept alive here, nor are its views,
// hosts and plans (docs/redirector.md#answers-kept). A mirrorlist is kept as bytes, sent as they are; a metalink as
// its draft (its hosts' lines in the order drawn: about a kilobyte, where its bytes are 26 KB at the median at Fedora's
// size, so that thousands of distinct metalinks fit), written out for each answer with the response time as pubdate.
// An answer without a mirror has nobody to shuffle: it is kept once, and sent until the index's hosts or
// directories change (its comment says why it is empty, and that can change without the view changing: a host
// adding the category), so no client can make the redirector select afresh on every request.
// When the cache is full, what is asked more often lately wins the room (TinyLFU's admission): a new entry, or an
// entry's growth, is kept only if its request and client class were asked more often (AskFrequency) than the most
// asked entry of the directory that would go first; otherwise the answer is made afresh and sent without being kept.
// So a stream of requests wider than the cache (many distinct large metalinks asked in turn) leaves a stable part of
// it kept instead of replacing every kept answer before it is asked again, and a scan of made-up paths cannot push
// out what is popular.
import type { CarrierView, Plans, RandomSource } from "@mirrormanager/actors/redirector"
import type { AccessFields, Answer, Endpoint } from "./Answer.ts"
import { AskFrequency } from "./AskFrequency.ts"
import { httpDate, type MetalinkDraft, ownBytes, writeMetalink } from "./MirrorlistFormat.ts"

/** An answer as selection and rendering make it: a whole body, or a metalink's draft. */
export interface Rendered {
  readonly endpoint: Endpoint
  readonly status: number
  readonly headers: Answer["headers"]
  readonly body: string | MetalinkDraft
  readonly hosts: number
  readonly result: string
}

interface Variant {
  readonly endpoint: Endpoint
  readonly status: number
  readonly headers: Answer["headers"]
  /** The body as bytes (a metalink's draft is kept instead, and written for each answer sent). */
  readonly body: Buffer | MetalinkDraft
  readonly size: number
  readonly hosts: number
  readonly result: string
}

/**
 * A body in chunks to send: a mirrorlist whole (text when fresh, bytes when kept), a metalink's draft written out in
 * its bytes before and after the pubdate, with the response time between them.
 */
const chunksOf = (body: string | Buffer | MetalinkDraft, epochMs: number): ReadonlyArray<string | Buffer> => {
  if (typeof body === "string" || Buffer.isBuffer(body)) return [body]
  const parts = writeMetalink(body)
  return [parts.head, httpDate(epochMs), parts.rest]
}

/** The answer to send: what was made (fresh or kept), its body, the response time; the log learns of it. */
const answerWith = (
  made: Pick<Rendered, "endpoint" | "status" | "headers" | "hosts" | "result">,
  body: string | Buffer | MetalinkDraft,
  epochMs: number,
  log: AccessFields
): Answer => {
  log.hosts = made.hosts
  log.result = made.result
  return { endpoint: made.endpoint, status: made.status, headers: made.headers, body: chunksOf(body, epochMs), log }
}

/** The answer to send, from a fresh rendering that is not kept. */
export const answerOf = (rendered: Rendered, epochMs: number, log: AccessFields): Answer =>
  answerWith(rendered, rendered.body, epochMs, log)

/** Answers longer than this keep half the variants. */
const LARGE_ANSWER = 2048

/** What an entry costs besides its answers and keys, in bytes' worth: the Map slots, the entry. */
export const ENTRY_OVERHEAD = 512

/** A directory not asked for in this many answers per entry kept gives way to any newcomer (see `admits`). */
const IDLE_ASKS = 8

/**
 * What keeping a rendered body costs, in bytes' worth: a mirrorlist's bytes; a metalink's draft, its list of hosts
 * (the hosts' lines and the text around them are shared with other answers).
 */
const sizeOf = (body: Rendered["body"]) =>
  typeof body === "string" ? Buffer.byteLength(body, "utf8") : 16 * body.hosts.length + 256

/** What an entry is charged when made: both its keys and the overhead. */
const entryCost = (request: string, client: string) => request.length + client.length + ENTRY_OVERHEAD

interface Entry {
  readonly variants: Array<Variant>
  /** What the fresh answers of this entry are drawn from (a selection plan), made once. */
  plan: unknown
  /**
   * When the entry keeps an answer without a mirror (its only variant): the index's `reasonVersion` it was made
   * at. -1 otherwise.
   */
  emptyAt: number
}

/** What is kept for one carrier view (one directory of one index generation). */
interface Slot {
  readonly view: CarrierView
  /** Per request key, per client class. */
  readonly entries: Map<string, Map<string, Entry>>
  bytes: number
  /** Entries (request key and client class pairs). */
  count: number
  /** Dropped to make room: what it still gets (within the answer that dropped it) is not kept or counted. */
  gone: boolean
  /** The hash of its most asked entry (as last seen): what the directory's claim to stay is judged by. */
  hottest: number
  /** The cache's count of answers when one of its entries was last asked. */
  askedAt: number
}

/** What is kept for one index: dropped whole when another index replaces it. */
interface Generation {
  /** In order of last growth: the directories least recently refreshed come first and go first. */
  readonly slots: Map<CarrierView, Slot>
  bytes: number
  count: number
}

/** How many answers an entry keeps, and how often one is drawn afresh. */
export interface KeepPolicy {
  /** Variants kept per entry (large answers: half as many, two at least). */
  readonly variants: number
  /** One request in this many computes a fresh answer (at random). */
  readonly refresh: number
}

export class AnswerCache {
  /**
   * What is kept, per index (in practice one: the one being served). Weak, so that an index the Redirector let go
   * takes what was kept for it along, even before the next request comes.
   */
  private readonly generations = new WeakMap<object, Generation>()
  /** The index answers were last kept for (weakly, see `generations`). */
  private current: WeakRef<object> | undefined
  private keptAnswers = 0
  private freshAnswers = 0
  private replacedGenerations = 0
  private declinedAnswers = 0
  /** Answers asked of the cache, since the start: the clock a directory's last ask is told by. */
  private asks = 0
  /** At most about this many bytes' worth is kept; past it, the least recently refreshed directories go. */
  private readonly limit: number
  /** How often each request and client class was asked lately (what the room goes to when full). */
  private readonly frequency = new AskFrequency()

  constructor(limit: number) {
    this.limit = limit
  }

  /** What is kept now for the current index (nothing when it is gone). */
  private currentGeneration(): Generation | undefined {
    const index = this.current?.deref()
    return index === undefined ? undefined : this.generations.get(index)
  }

  /** Bytes' worth kept now. */
  get size(): number {
    return this.currentGeneration()?.bytes ?? 0
  }

  /** Entries (a request key and client class each) kept now; at most `limit / ENTRY_OVERHEAD`. */
  get entries(): number {
    return this.currentGeneration()?.count ?? 0
  }

  /** Directories (carrier views) with entries now. */
  get directories(): number {
    return this.currentGeneration()?.slots.size ?? 0
  }

  /** Answers sent as kept, since the start. */
  get kept(): number {
    return this.keptAnswers
  }

  /** Answers computed afresh (selection and rendering), since the start. */
  get fresh(): number {
    return this.freshAnswers
  }

  /** Fresh answers not kept because the cache was full and what would have gone was asked as often, since the start. */
  get declined(): number {
    return this.declinedAnswers
  }

  /** Index generations whose answers were dropped because a new index replaced them, since the start. */
  get replaced(): number {
    return this.replacedGenerations
  }

  /** What is kept for an index; a new index drops what was kept for the one before, all at once. */
  private generationOf(index: object): Generation {
    const known = this.generations.get(index)
    if (known !== undefined) return known
    const previous = this.current?.deref()
    if (previous !== undefined) this.generations.delete(previous)
    if (this.current !== undefined) this.replacedGenerations++
    const generation: Generation = { slots: new Map(), bytes: 0, count: 0 }
    this.generations.set(index, generation)
    this.current = new WeakRef(index)
    return generation
  }

  /** A new entry (and its directory's slot when it has none yet). */
  private newEntry(
    generation: Generation,
    known: Slot | undefined,
    view: CarrierView,
    request: string,
    client: string,
    hash: number
  ): { slot: Slot; entry: Entry } {
    let slot = known
    if (slot === undefined) {
      slot = { view, entries: new Map(), bytes: 0, count: 0, gone: false, hottest: hash, askedAt: this.asks }
      generation.slots.set(view, slot)
    }
    let byClient = slot.entries.get(request)
    if (byClient === undefined) {
      byClient = new Map()
      slot.entries.set(request, byClient)
    }
    const entry: Entry = { variants: [], plan: undefined, emptyAt: -1 }
    byClient.set(client, entry)
    slot.count++
    generation.count++
    // Both keys are counted in full for each entry (a request key shared by several client classes is counted more
    // than once): the bound holds whatever the requests look like.
    this.charge(generation, slot, entryCost(request, client))
    return { slot, entry }
  }

  /**
   * Whether `bytes` more may be kept for a directory (its slot, if it has one yet) by an entry asked `asked` times
   * lately, this time included: when they fit, or when the entry was asked more often before this time than the
   * hottest entry of the directory that would go first, or that directory was not asked for in the last
   * `IDLE_ASKS` answers per entry kept (however often it was asked before: what was popular and is no longer gives
   * way at once). Ties keep what is kept: in a stream of requests asked in turn, the one that would go is the next to
   * be asked, and asked once less so far this turn.
   */
  private admits(generation: Generation, slot: Slot | undefined, bytes: number, asked: number): boolean {
    if (bytes <= 0 || generation.bytes + bytes <= this.limit) return true
    for (const [, first] of generation.slots) {
      if (first === slot) continue
      if (this.asks - first.askedAt > IDLE_ASKS * Math.max(1_000, generation.count)) return true
      return asked - 1 > this.frequency.estimate(first.hottest)
    }
    return false
  }

  /**
   * Adds to what a directory keeps and moves it to the end; past the limit the directories at the front go. Views
   * replaced by changes are never refreshed again, so they are the first to go.
   */
  private charge(generation: Generation, slot: Slot, bytes: number): void {
    if (slot.gone) return
    slot.bytes += bytes
    generation.bytes += bytes
    generation.slots.delete(slot.view)
    generation.slots.set(slot.view, slot)
    for (const [view, oldest] of generation.slots) {
      if (generation.bytes <= this.limit) break
      generation.slots.delete(view)
      oldest.gone = true
      generation.bytes -= oldest.bytes
      generation.count -= oldest.count
    }
  }

  /**
   * The answer for a request (its key: what of the request shapes the answer) from a client (its class): a kept
   * variant, or a fresh one from `compute`, which gets the entry's selection plan through `plans`. `index` is the
   * index the decision was made from (the view is one of its views); `reasonVersion` is its version of hosts and
   * directories (see MirrorIndex.reasonVersion): a kept answer without a mirror is sent while it is the same.
   */
  answer(
    index: object,
    view: CarrierView,
    request: string,
    client: string,
    policy: KeepPolicy,
    random: RandomSource,
    epochMs: number,
    log: AccessFields,
    reasonVersion: number,
    compute: (plans: Plans) => Rendered
  ): Answer {
    const generation = this.generationOf(index)
    const hash = this.frequency.hash(request, client)
    const asked = this.frequency.record(hash)
    const known = generation.slots.get(view)
    this.asks++
    if (known !== undefined) {
      known.askedAt = this.asks
      if (known.hottest !== hash && asked >= this.frequency.estimate(known.hottest)) known.hottest = hash
    }
    const found = known?.entries.get(request)?.get(client)
    if (found === undefined || known === undefined) {
      // A new entry: its first answer is made afresh, and kept with the entry and its plan if there is room for the
      // three (see `admits`); if not, it is sent and kept nowhere.
      this.freshAnswers++
      let plan: unknown
      let planBytes = 0
      const rendered = compute((make, cost) => {
        const made = make()
        plan = made
        planBytes = cost(made)
        return made
      })
      if (!this.admits(generation, known, entryCost(request, client) + planBytes + sizeOf(rendered.body), asked)) {
        this.declinedAnswers++
        return answerOf(rendered, epochMs, log)
      }
      const { slot, entry } = this.newEntry(generation, known, view, request, client, hash)
      entry.plan = plan
      this.charge(generation, slot, planBytes)
      const variant = this.keep(generation, slot, entry, rendered, policy.variants, random, reasonVersion, asked)
      return variant === undefined ? answerOf(rendered, epochMs, log) : answerWith(variant, variant.body, epochMs, log)
    }
    const here = known
    const kept = found
    // A fresh answer for the first two requests, then for one request in `refresh` (at random): each variant is
    // an independent draw and the choice among them ignores their content, so what a client gets is distributed
    // as a fresh shuffle would be. An answer without a mirror is the same every time: kept until its reason may
    // have changed.
    const count = kept.variants.length
    const reuse = kept.emptyAt >= 0 ? kept.emptyAt === reasonVersion : count >= 2 && random.next() * policy.refresh >= 1
    if (reuse) {
      this.keptAnswers++
      const variant = kept.variants[kept.emptyAt >= 0 ? 0 : Math.floor(random.next() * count)]!
      return answerWith(variant, variant.body, epochMs, log)
    }
    this.freshAnswers++
    const rendered = compute((make, cost) => {
      if (kept.plan !== undefined) return kept.plan as ReturnType<typeof make>
      const plan = make()
      // The plan is kept with the entry when there is room for it (it is what fresh answers are drawn from).
      const bytes = cost(plan)
      if (this.admits(generation, here, bytes, asked)) {
        kept.plan = plan
        this.charge(generation, here, bytes)
      }
      return plan
    })
    const variant = this.keep(generation, here, kept, rendered, policy.variants, random, reasonVersion, asked)
    if (variant === undefined) return answerOf(rendered, epochMs, log)
    return answerWith(variant, variant.body, epochMs, log)
  }

  /**
   * Keeps a fresh answer as a variant: another one, or in place of one drawn at random; an answer without a mirror
   * in place of all. Undefined when there is no room for what it adds (see `admits`): then it is not kept.
   */
  private keep(
    generation: Generation,
    slot: Slot,
    entry: Entry,
    rendered: Rendered,
    variants: number,
    random: RandomSource,
    reasonVersion: number,
    asked: number
  ): Variant | undefined {
    const body = rendered.body
    const size = sizeOf(body)
    // An answer without a mirror (the entry's answers all are, or none: the plan decides) has nothing to shuffle:
    // one is kept, with the version of hosts and directories its reason was worked out from. Large answers keep
    // fewer variants, so more keys fit; they are drawn afresh as often.
    const alone = rendered.hosts === 0 || entry.emptyAt >= 0
    const keep = size > LARGE_ANSWER ? Math.max(2, variants >> 1) : variants
    const at = alone || entry.variants.length < keep ? -1 : Math.floor(random.next() * entry.variants.length)
    let old = 0
    if (alone) for (const each of entry.variants) old += each.size
    else if (at >= 0) old = entry.variants[at]!.size
    // The first two variants of an entry that was let in are kept: without them it would never be of use.
    if (!(entry.variants.length < 2 && at < 0) && !this.admits(generation, slot, size - old, asked)) {
      this.declinedAnswers++
      return undefined
    }
    const variant: Variant = {
      endpoint: rendered.endpoint,
      status: rendered.status,
      headers: rendered.headers,
      // Bytes outside the JavaScript heap: kept as strings, tens of megabytes of answers would make the collector let
      // the heap grow by as much again.
      body: typeof body === "string" ? ownBytes(body) : body,
      size,
      hosts: rendered.hosts,
      result: rendered.result
    }
    if (alone) {
      entry.variants.length = 0
      entry.variants.push(variant)
      entry.emptyAt = rendered.hosts === 0 ? reasonVersion : -1
    } else if (at < 0) entry.variants.push(variant)
    else entry.variants[at] = variant
    this.charge(generation, slot, size - old)
    return variant
  }
}
