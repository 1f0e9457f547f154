// A category's directories by path, as their numbers, in shared memory (docs/checkin.md#decoding): every path finds
// its number, other paths none (a prefix, a longer path, another case, a path whose hash collides); multi-byte names;
// a bitset of what was reported, each directory once; the table read from another thread without a copy.
import { Worker } from "node:worker_threads"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { bitsOf, countBits } from "../../src/db/UpToDateBits.ts"
import { DirectoryNumbering, directoryNumbersOf } from "../../src/numbering/DirectoryNumbers.ts"

const paths = ["", "9", "9/Everything", "9/Everything/x86_64", "9/Everything/x86_64/repodata", "11/Éditions/日本語"]
const numbers = directoryNumbersOf(
  paths,
  paths.map((_, i) => 10 * i + 3)
)

it("each directory's path finds its number; nothing else finds one", () => {
  const numbering = new DirectoryNumbering(numbers)
  for (const [i, path] of paths.entries()) assert.strictEqual(numbering.numberOf(path), 10 * i + 3, path)
  for (const stranger of [
    "9/",
    "/9",
    "9/everything",
    "9/Everything/x86",
    "9/Everything/x86_64/repodata/x",
    "11/Éditions"
  ]) {
    assert.strictEqual(numbering.numberOf(stranger), -1, stranger)
  }
  // Longer than the scratch buffer it starts with.
  assert.strictEqual(numbering.numberOf("x".repeat(5_000)), -1)
})

it("a full table of 150,000 paths: every one found, among probes that collide", () => {
  const many = Array.from({ length: 150_000 }, (_, i) => `releases/${i % 40}/Everything/x86_64/os/Packages/d${i}`)
  const table = directoryNumbersOf(
    many,
    many.map((_, i) => i)
  )
  const numbering = new DirectoryNumbering(table)
  for (let i = 0; i < many.length; i += 7) assert.strictEqual(numbering.numberOf(many[i]!), i)
  assert.strictEqual(numbering.numberOf("releases/0/Everything/x86_64/os/Packages/d150000"), -1)
  assert.isAtLeast(table.slots.length, 2 * many.length)
})

it("what was reported becomes a bitset of numbers, each directory once, strangers left out", () => {
  const numbering = new DirectoryNumbering(numbers)
  const reported = numbering.numberAll(["9", "", "9", "not/there", "11/Éditions/日本語"])
  assert.deepStrictEqual(reported, bitsOf([13, 3, 53]))
  assert.strictEqual(countBits(reported), 3)
  assert.deepStrictEqual(numbering.numberAll([]), new Uint8Array(0))
  assert.deepStrictEqual(numbering.numberAll(["none", "of", "them"]), new Uint8Array(0))
})

it.effect("another thread reads the table as posted, in the same memory", () =>
  Effect.promise(async () => {
    const table = directoryNumbersOf(["a"], [5])
    const worker = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads")
       workerData.ordinals[0] = 6
       parentPort.postMessage(workerData.bytes.buffer instanceof SharedArrayBuffer)`,
      { eval: true, workerData: table }
    )
    const shared = await new Promise((resolve) => worker.once("message", resolve))
    await worker.terminate()
    assert.isTrue(shared)
    // Written there, seen here.
    assert.strictEqual(new DirectoryNumbering(table).numberOf("a"), 6)
  })
)
