// A minimal MaxMind DB writer (https://maxmind.github.io/MaxMind-DB/), so tests can build small GeoIP databases in
// the GeoLite2 layout or the flat `country_code` layout and read them with the real `maxmind` reader.
import ipaddr from "ipaddr.js"

export type MmdbValue =
  | Buffer // already encoded, e.g. by `uint32`
  | string
  | number
  | bigint
  | boolean
  | ReadonlyArray<MmdbValue>
  | { readonly [key: string]: MmdbValue }

export interface MmdbEntry {
  /** CIDR, e.g. `89.160.0.0/16` or `2001:db8::/32`; IPv4 networks in an IPv6 tree go under ::/96. */
  readonly network: string
  readonly record: MmdbValue
}

export interface MmdbOptions {
  readonly ipVersion: 4 | 6
  readonly recordSize: 24 | 28 | 32
  readonly databaseType: string
  readonly buildEpoch?: number
  readonly description?: Readonly<Record<string, string>>
  readonly languages?: ReadonlyArray<string>
}

const METADATA_MARKER = Buffer.concat([Buffer.from([0xab, 0xcd, 0xef]), Buffer.from("MaxMind.com", "ascii")])

// Data section types.
const STRING = 2
const DOUBLE = 3
const UINT16 = 5
const UINT32 = 6
const MAP = 7
const UINT64 = 9
const ARRAY = 11
const BOOLEAN = 14

/** The control byte(s): type in the top 3 bits (or 0 and an extended-type byte), then the size. */
const header = (type: number, size: number): Array<number> => {
  let sizeField: number
  let sizeBytes: Array<number>
  if (size < 29) {
    sizeField = size
    sizeBytes = []
  } else if (size < 29 + 256) {
    sizeField = 29
    sizeBytes = [size - 29]
  } else if (size < 285 + 65536) {
    sizeField = 30
    sizeBytes = [(size - 285) >> 8, (size - 285) & 0xff]
  } else {
    sizeField = 31
    const rest = size - 65821
    sizeBytes = [(rest >> 16) & 0xff, (rest >> 8) & 0xff, rest & 0xff]
  }
  return type <= 7 ? [(type << 5) | sizeField, ...sizeBytes] : [sizeField, type - 7, ...sizeBytes]
}

const unsigned = (type: number, value: bigint): Buffer => {
  const bytes: Array<number> = []
  for (let rest = value; rest > 0n; rest >>= 8n) bytes.unshift(Number(rest & 0xffn))
  return Buffer.from([...header(type, bytes.length), ...bytes])
}

/** An unsigned 32-bit field, as the spec types `node_count` (plain numbers below 65536 become uint16). */
export const uint32 = (value: number): Buffer => unsigned(UINT32, BigInt(value))

export const encodeValue = (value: MmdbValue): Buffer => {
  if (Buffer.isBuffer(value)) return value
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "utf8")
    return Buffer.concat([Buffer.from(header(STRING, bytes.length)), bytes])
  }
  if (typeof value === "boolean") return Buffer.from(header(BOOLEAN, value ? 1 : 0))
  if (typeof value === "bigint") return unsigned(UINT64, value)
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 0 && value < 65536) return unsigned(UINT16, BigInt(value))
    if (Number.isInteger(value) && value >= 0 && value < 2 ** 32) return unsigned(UINT32, BigInt(value))
    const bytes = Buffer.alloc(8)
    bytes.writeDoubleBE(value)
    return Buffer.concat([Buffer.from(header(DOUBLE, 8)), bytes])
  }
  if (Array.isArray(value)) {
    return Buffer.concat([Buffer.from(header(ARRAY, value.length)), ...value.map(encodeValue)])
  }
  const entries = Object.entries(value as { readonly [key: string]: MmdbValue })
  return Buffer.concat([
    Buffer.from(header(MAP, entries.length)),
    ...entries.flatMap(([key, item]) => [encodeValue(key), encodeValue(item)])
  ])
}

type Child = { readonly kind: "empty" } | { readonly kind: "data"; readonly offset: number } | TreeNode
interface TreeNode {
  readonly kind: "node"
  readonly children: [Child, Child]
}

const EMPTY: Child = { kind: "empty" }

const bitsOf = (network: string, ipVersion: 4 | 6): { bits: Array<number>; length: number } => {
  const [address, prefix] = ipaddr.parseCIDR(network)
  let bytes = address.toByteArray()
  let length = prefix
  if (address.kind() === "ipv4" && ipVersion === 6) {
    bytes = [...new Array<number>(12).fill(0), ...bytes]
    length += 96
  } else if (address.kind() === "ipv6" && ipVersion === 4) {
    throw new Error(`${network}: an IPv6 network in an IPv4 database`)
  }
  const bits = bytes.flatMap((byte) => [7, 6, 5, 4, 3, 2, 1, 0].map((shift) => (byte >> shift) & 1))
  return { bits, length }
}

/** Builds a database. Networks may nest: a more specific network overrides its container for its addresses. */
export const writeMmdb = (entries: ReadonlyArray<MmdbEntry>, options: MmdbOptions): Buffer => {
  // Data section: each distinct record once.
  const offsets = new Map<string, number>()
  const chunks: Array<Buffer> = []
  let dataSize = 0
  const offsetOf = (record: MmdbValue): number => {
    const encoded = encodeValue(record)
    const key = encoded.toString("hex")
    let offset = offsets.get(key)
    if (offset === undefined) {
      offset = dataSize
      offsets.set(key, offset)
      chunks.push(encoded)
      dataSize += encoded.length
    }
    return offset
  }

  // Search tree: insert the shortest networks first, so a longer one splits the leaf it falls into.
  const root: TreeNode = { kind: "node", children: [EMPTY, EMPTY] }
  const sorted = entries
    .map((entry) => ({ ...bitsOf(entry.network, options.ipVersion), offset: offsetOf(entry.record) }))
    .sort((a, b) => a.length - b.length)
  for (const { bits, length, offset } of sorted) {
    if (length === 0) throw new Error("a /0 network is not supported")
    let node = root
    for (let depth = 0; depth < length - 1; depth++) {
      const bit = bits[depth]!
      const child = node.children[bit]!
      if (child.kind === "node") {
        node = child
      } else {
        const split: TreeNode = { kind: "node", children: [child, child] }
        node.children[bit] = split
        node = split
      }
    }
    node.children[bits[length - 1]!] = { kind: "data", offset }
  }

  // Number the nodes breadth first; the root is node 0.
  const nodes: Array<TreeNode> = [root]
  const numbers = new Map<TreeNode, number>([[root, 0]])
  for (let i = 0; i < nodes.length; i++) {
    for (const child of nodes[i]!.children) {
      if (child.kind === "node" && !numbers.has(child)) {
        numbers.set(child, nodes.length)
        nodes.push(child)
      }
    }
  }
  const nodeCount = nodes.length
  const recordOf = (child: Child): number =>
    child.kind === "node" ? numbers.get(child)! : child.kind === "empty" ? nodeCount : nodeCount + 16 + child.offset
  const nodeBytes = options.recordSize / 4
  const tree = Buffer.alloc(nodeCount * nodeBytes)
  nodes.forEach((node, index) => {
    const at = index * nodeBytes
    const left = recordOf(node.children[0])
    const right = recordOf(node.children[1])
    if (options.recordSize === 24) {
      tree.writeUIntBE(left, at, 3)
      tree.writeUIntBE(right, at + 3, 3)
    } else if (options.recordSize === 28) {
      tree.writeUIntBE(left & 0xffffff, at, 3)
      tree[at + 3] = (((left >>> 24) & 0x0f) << 4) | ((right >>> 24) & 0x0f)
      tree.writeUIntBE(right & 0xffffff, at + 4, 3)
    } else {
      tree.writeUInt32BE(left, at)
      tree.writeUInt32BE(right, at + 4)
    }
  })

  const metadata = encodeValue({
    node_count: uint32(nodeCount),
    record_size: options.recordSize,
    ip_version: options.ipVersion,
    database_type: options.databaseType,
    languages: options.languages ?? ["en"],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: BigInt(options.buildEpoch ?? 1_700_000_000),
    description: options.description ?? { en: "test database" }
  })
  return Buffer.concat([tree, Buffer.alloc(16), ...chunks, METADATA_MARKER, metadata])
}

/** A GeoLite2-Country style record. */
export const geoLite2Country = (country: string, continent: string): MmdbValue => ({
  continent: { code: continent, geoname_id: 6255148, names: { en: continent } },
  country: { geoname_id: 2661886, iso_code: country, names: { en: country } },
  registered_country: { geoname_id: 2661886, iso_code: country, names: { en: country } }
})
