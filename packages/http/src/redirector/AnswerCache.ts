// Answers kept between requests. Selection is random (the bandwidth-weighted shuffle), so an answer cannot simply be
// reused; instead each (directory, request, client class) keeps up to `variants` independently shuffled answers and
// a request gets one of them at random. One request in `refresh` computes a fresh answer that joins or replaces
// one, so the orders keep changing and the share of each mirror stays what the shuffle gives. The entries hang on
// the index's per-directory carrier view: a change that touches the directory replaces the view, so nothing kept
// for the old one is served again (and it is the first to go when space is needed). Answers are kept as bytes,
// ready to send: a kept mirrorlist is sent as it is, a kept metalink with the response time put in as its pubdate.
// An answer without a mirror has nobody to shuffle: it is kept once, and sent until the index's hosts or
// directories change (its comment says why it is empty, and that can change without the view changing: a host
// adding the category), so no client can make the redirector select afresh on every request.
import type { CarrierView, Plans, RandomSource } from "@mirrormanager/actors/redirector"
import type { AccessFields, Answer, Endpoint } from "./Answer.ts"
import { httpDateBytes, type MetalinkParts } from "./MirrorlistFormat.ts"

/** An answer as selection and rendering make it: a whole body, or a metalink in parts. */
export interface Rendered {
  readonly endpoint: Endpoint
  readonly status: number
  readonly headers: Answer["headers"]
  readonly body: string | MetalinkParts
  readonly hosts: number
  readonly result: string
}

interface Variant {
  readonly endpoint: Endpoint
  readonly status: number
  readonly headers: Answer["headers"]
  /** The body, or for a metalink the bytes before and after its pubdate (which is the response time). */
  readonly chunks: ReadonlyArray<Buffer>
  readonly size: number
  readonly hosts: number
  readonly result: string
}

/** Bytes of their own, outside Node's shared pool (a kept slice of the pool would keep all 8 KiB of it). */
const kept = (text: string): Buffer => {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, "utf8"))
  bytes.write(text, 0, "utf8")
  return bytes
}

/** A rendered body as bytes: whole, or, for a metalink, the bytes before and after the pubdate. */
const chunksOf = (body: string | MetalinkParts, bytes: (text: string) => Buffer): ReadonlyArray<Buffer> =>
  typeof body === "string" ? [bytes(body)] : [bytes(body.head), bytes(`${body.open}${body.urls}${body.close}`)]

/** The body to send: the chunks, with the response time between the two parts of a metalink. */
const bodyOf = (chunks: ReadonlyArray<Buffer>, epochMs: number): ReadonlyArray<Buffer> =>
  chunks.length === 1 ? chunks : [chunks[0]!, httpDateBytes(epochMs), chunks[1]!]

/** The answer to send: what was made (fresh or kept), its body chunks, the response time; the log learns of it. */
const answerWith = (
  made: Pick<Rendered, "endpoint" | "status" | "headers" | "hosts" | "result">,
  chunks: ReadonlyArray<Buffer>,
  epochMs: number,
  log: AccessFields
): Answer => {
  log.hosts = made.hosts
  log.result = made.result
  return { endpoint: made.endpoint, status: made.status, headers: made.headers, body: bodyOf(chunks, epochMs), log }
}

/** The answer to send, from a fresh rendering that is not kept. */
export const answerOf = (rendered: Rendered, epochMs: number, log: AccessFields): Answer =>
  answerWith(
    rendered,
    chunksOf(rendered.body, (text) => Buffer.from(text, "utf8")),
    epochMs,
    log
  )

/** Answers longer than this keep half the variants. */
const LARGE_ANSWER = 2048

/** What an entry costs besides its answers, in bytes' worth: the Map slots, the entry, its key. */
const ENTRY_OVERHEAD = 512

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
}

/** How many answers an entry keeps, and how often one is drawn afresh. */
export interface KeepPolicy {
  /** Variants kept per entry (large answers: half as many, two at least). */
  readonly variants: number
  /** One request in this many computes a fresh answer (at random). */
  readonly refresh: number
}

export class AnswerCache {
  /** In order of last growth: the directories least recently refreshed come first and go first. */
  private readonly slots = new Map<CarrierView, Slot>()
  private bytes = 0
  private keptAnswers = 0
  private freshAnswers = 0
  /** At most about this many bytes' worth is kept; past it, the least recently refreshed directories go. */
  private readonly limit: number

  constructor(limit: number) {
    this.limit = limit
  }

  /** Bytes' worth kept now. */
  get size(): number {
    return this.bytes
  }

  /** Answers sent as kept, since the start. */
  get kept(): number {
    return this.keptAnswers
  }

  /** Answers computed afresh (selection and rendering), since the start. */
  get fresh(): number {
    return this.freshAnswers
  }

  private entry(view: CarrierView, request: string, client: string): { slot: Slot; entry: Entry } {
    let slot = this.slots.get(view)
    if (slot === undefined) {
      slot = { view, entries: new Map(), bytes: 0 }
      this.slots.set(view, slot)
    }
    let byClient = slot.entries.get(request)
    if (byClient === undefined) {
      byClient = new Map()
      slot.entries.set(request, byClient)
    }
    let entry = byClient.get(client)
    if (entry === undefined) {
      entry = { variants: [], plan: undefined, emptyAt: -1 }
      byClient.set(client, entry)
      this.charge(slot, client.length + ENTRY_OVERHEAD)
    }
    return { slot, entry }
  }

  /**
   * Adds to what a directory keeps and moves it to the end; past the limit the directories at the front go. Views
   * replaced by changes are never refreshed again, so they are the first to go.
   */
  private charge(slot: Slot, bytes: number): void {
    slot.bytes += bytes
    this.bytes += bytes
    this.slots.delete(slot.view)
    this.slots.set(slot.view, slot)
    for (const [view, oldest] of this.slots) {
      if (this.bytes <= this.limit) break
      this.slots.delete(view)
      this.bytes -= oldest.bytes
    }
  }

  /**
   * The answer for a request (its key: what of the request shapes the answer) from a client (its class): a kept
   * variant, or a fresh one from `compute`, which gets the entry's selection plan through `plans`. `reasonVersion`
   * is the index's (see MirrorIndex.reasonVersion): a kept answer without a mirror is sent while it is the same.
   */
  answer(
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
    const { slot, entry } = this.entry(view, request, client)
    // A fresh answer for the first two requests, then for one request in `refresh` (at random): each variant is
    // an independent draw and the choice among them ignores their content, so what a client gets is distributed
    // as a fresh shuffle would be. An answer without a mirror is the same every time: kept until its reason may
    // have changed.
    const count = entry.variants.length
    const kept =
      entry.emptyAt >= 0 ? entry.emptyAt === reasonVersion : count >= 2 && random.next() * policy.refresh >= 1
    let variant: Variant
    if (kept) {
      this.keptAnswers++
      variant = entry.variants[entry.emptyAt >= 0 ? 0 : Math.floor(random.next() * count)]!
    } else {
      this.freshAnswers++
      variant = this.keep(
        slot,
        entry,
        compute((make, cost) => {
          if (entry.plan === undefined) {
            const plan = make()
            entry.plan = plan
            this.charge(slot, cost(plan))
          }
          return entry.plan as ReturnType<typeof make>
        }),
        policy.variants,
        random,
        reasonVersion
      )
    }
    return answerWith(variant, variant.chunks, epochMs, log)
  }

  /**
   * Keeps a fresh answer as a variant: another one, or in place of one drawn at random; an answer without a mirror
   * in place of all.
   */
  private keep(
    slot: Slot,
    entry: Entry,
    rendered: Rendered,
    variants: number,
    random: RandomSource,
    reasonVersion: number
  ): Variant {
    const chunks = chunksOf(rendered.body, kept)
    let size = 0
    for (const chunk of chunks) size += chunk.length
    const variant: Variant = {
      endpoint: rendered.endpoint,
      status: rendered.status,
      headers: rendered.headers,
      chunks,
      size,
      hosts: rendered.hosts,
      result: rendered.result
    }
    // An answer without a mirror (the entry's answers all are, or none: the plan decides) has nothing to shuffle:
    // one is kept, with the version of hosts and directories its reason was worked out from.
    if (rendered.hosts === 0 || entry.emptyAt >= 0) {
      let old = 0
      for (const each of entry.variants) old += each.size
      entry.variants.length = 0
      entry.variants.push(variant)
      entry.emptyAt = rendered.hosts === 0 ? reasonVersion : -1
      this.charge(slot, size - old)
      return variant
    }
    // Large answers keep fewer variants, so more keys fit; they are drawn afresh as often.
    const keep = size > LARGE_ANSWER ? Math.max(2, variants >> 1) : variants
    if (entry.variants.length < keep) {
      entry.variants.push(variant)
      this.charge(slot, size)
    } else {
      const at = Math.floor(random.next() * entry.variants.length)
      const old = entry.variants[at]!
      entry.variants[at] = variant
      this.charge(slot, size - old.size)
    }
    return variant
  }
}
