// Longest-prefix matching for the Redirector (docs/redirector.md#the-index: host netblocks, NetblockCountry; never
// linear scans): a binary trie per address family whose nodes live in typed arrays, so 20,000 netblocks cost a few MB,
// not objects.
import type { AddressFamily, ClientAddress, Netblock } from "./IpAddress.ts"

/** One stored prefix containing the address and what is stored under it. */
export interface PrefixMatch<V> {
  readonly prefixLength: number
  readonly values: ReadonlyArray<V>
}

interface Entry<V> {
  /** Replaced, never mutated, so a `values` handed out by `matches` stays as it was. */
  values: ReadonlyArray<V>
  counts: Array<number>
}

const NONE = -1

const bitAt = (bytes: Uint8Array, index: number): number => (bytes[index >> 3]! >> (7 - (index & 7))) & 1

/** One family's trie. Node 0 is the root; children are node indexes, NONE when absent. */
class FamilyTrie<V> {
  readonly bits: number
  private children = new Int32Array(2 * 64).fill(NONE)
  private slots = new Int32Array(64).fill(NONE)
  private nodeCount = 1
  private readonly freeNodes: Array<number> = []
  private readonly entries: Array<Entry<V> | undefined> = []
  private readonly freeSlots: Array<number> = []
  private readonly path: Int32Array
  size = 0

  constructor(bits: number) {
    this.bits = bits
    this.path = new Int32Array(bits + 1)
  }

  private allocateNode(): number {
    const reused = this.freeNodes.pop()
    if (reused !== undefined) return reused
    if (this.nodeCount === this.slots.length) {
      const children = new Int32Array(this.children.length * 2).fill(NONE)
      children.set(this.children)
      this.children = children
      const slots = new Int32Array(this.slots.length * 2).fill(NONE)
      slots.set(this.slots)
      this.slots = slots
    }
    return this.nodeCount++
  }

  insert(bytes: Uint8Array, prefixLength: number, value: V): void {
    let node = 0
    for (let depth = 0; depth < prefixLength; depth++) {
      const at = 2 * node + bitAt(bytes, depth)
      let next = this.children[at]!
      if (next === NONE) {
        next = this.allocateNode()
        this.children[at] = next
      }
      node = next
    }
    let slot = this.slots[node]!
    if (slot === NONE) {
      slot = this.freeSlots.pop() ?? this.entries.length
      this.entries[slot] = { values: [], counts: [] }
      this.slots[node] = slot
    }
    const entry = this.entries[slot]!
    const index = entry.values.indexOf(value)
    if (index >= 0) {
      entry.counts[index]!++
      return
    }
    entry.values = [...entry.values, value]
    entry.counts.push(1)
    this.size++
  }

  remove(bytes: Uint8Array, prefixLength: number, value: V): boolean {
    let node = 0
    this.path[0] = 0
    for (let depth = 0; depth < prefixLength; depth++) {
      node = this.children[2 * node + bitAt(bytes, depth)]!
      if (node === NONE) return false
      this.path[depth + 1] = node
    }
    const slot = this.slots[node]!
    if (slot === NONE) return false
    const entry = this.entries[slot]!
    const index = entry.values.indexOf(value)
    if (index < 0) return false
    if (--entry.counts[index]! > 0) return true
    entry.values = entry.values.filter((_, i) => i !== index)
    entry.counts.splice(index, 1)
    this.size--
    if (entry.values.length > 0) return true
    this.entries[slot] = undefined
    this.freeSlots.push(slot)
    this.slots[node] = NONE
    // Prune the nodes that now lead nowhere, bottom up; the root stays.
    for (let depth = prefixLength; depth > 0; depth--) {
      const current = this.path[depth]!
      if (
        this.slots[current] !== NONE ||
        this.children[2 * current] !== NONE ||
        this.children[2 * current + 1] !== NONE
      )
        break
      const parent = this.path[depth - 1]!
      this.children[2 * parent + bitAt(bytes, depth - 1)] = NONE
      this.freeNodes.push(current)
    }
    return true
  }

  matches(bytes: Uint8Array): Array<PrefixMatch<V>> {
    const found: Array<PrefixMatch<V>> = []
    let node = 0
    for (let depth = 0; ; depth++) {
      const slot = this.slots[node]!
      if (slot !== NONE) found.push({ prefixLength: depth, values: this.entries[slot]!.values })
      if (depth === this.bits) break
      node = this.children[2 * node + bitAt(bytes, depth)]!
      if (node === NONE) break
    }
    return found.reverse()
  }

  longest(bytes: Uint8Array): PrefixMatch<V> | undefined {
    let best = NONE
    let bestDepth = 0
    let node = 0
    for (let depth = 0; ; depth++) {
      const slot = this.slots[node]!
      if (slot !== NONE) {
        best = slot
        bestDepth = depth
      }
      if (depth === this.bits) break
      node = this.children[2 * node + bitAt(bytes, depth)]!
      if (node === NONE) break
    }
    return best === NONE ? undefined : { prefixLength: bestDepth, values: this.entries[best]!.values }
  }

  get nodes(): number {
    return this.nodeCount - this.freeNodes.length
  }
}

/**
 * A mutable map from netblocks (IPv4 and IPv6) to small sets of values, e.g. host ids. A (netblock, value) pair is
 * counted: inserting it twice takes two removes, so two registry rows with the same netblock stay independent.
 * A lookup walks at most 32 or 128 bits.
 */
export class PrefixTrie<V = number> {
  private readonly v4 = new FamilyTrie<V>(32)
  private readonly v6 = new FamilyTrie<V>(128)

  private trie(family: AddressFamily): FamilyTrie<V> {
    return family === 4 ? this.v4 : this.v6
  }

  insert(netblock: Netblock, value: V): void {
    this.trie(netblock.family).insert(netblock.bytes, netblock.prefixLength, value)
  }

  /** Removes one insertion of the pair; false when it was not there. Nodes left empty are freed. */
  remove(netblock: Netblock, value: V): boolean {
    return this.trie(netblock.family).remove(netblock.bytes, netblock.prefixLength, value)
  }

  /** Every stored prefix that contains the address, most specific first. The arrays are snapshots. */
  matches(address: ClientAddress): Array<PrefixMatch<V>> {
    return this.trie(address.family).matches(address.bytes)
  }

  /** The most specific stored prefix that contains the address. */
  longestMatch(address: ClientAddress): PrefixMatch<V> | undefined {
    return this.trie(address.family).longest(address.bytes)
  }

  /** Distinct (netblock, value) pairs stored. */
  get size(): number {
    return this.v4.size + this.v6.size
  }

  /** Trie nodes in use (both families), for memory estimates. */
  get nodes(): number {
    return this.v4.nodes + this.v6.nodes
  }
}
