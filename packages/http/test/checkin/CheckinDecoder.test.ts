// Check-in bodies read on worker threads (CheckinDecoder, docs/checkin.md#decoding): a 100,000-directory payload as
// report_mirror encodes it comes back from a worker as the bitset of its directories' numbers, faults and refusals
// come back as read on the spot, a full queue refuses with "server busy", a worker that fails fails its check-in only,
// and the workers end with the layer.
import { threadId } from "node:worker_threads"
import { assert, it } from "@effect/vitest"
import { bitsOf } from "@mirrormanager/actors/db"
import { DirectoryNumbering, directoryNumbersOf, type NumberedCategory } from "@mirrormanager/actors/numbering"
import type { CategoryId } from "@mirrormanager/domain/registry"
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { fromCheckinCallMessage, numberCheckinCall, readCheckinCall } from "../../src/checkin/CheckinCall.ts"
import {
  CHECKIN_DECODER_OPTIONS,
  CheckinDecoder,
  type CheckinDecoderOptions
} from "../../src/checkin/CheckinDecoder.ts"
import { checkinPayload, methodCallBody } from "../support/CheckinWire.ts"

/** A config of `count` directories in one category, as report_mirror builds it. */
const config = (count: number, prefix = "releases") => {
  const dirtree: Record<string, object> = { "": {} }
  for (let i = 1; i < count; i++) dirtree[`${prefix}/${i % 40}/Everything/x86_64/os/Packages/d${i}`] = {}
  return {
    version: 0,
    global: { enabled: "1", server: "https://mirrors.example.org/xmlrpc" },
    site: { enabled: "1", name: "Example.com", password: "s3cret pass" },
    host: { enabled: "1", name: "mirror.example.com", user_active: "1" },
    stats: {},
    "fedora linux": { enabled: "1", dirtree },
    "fedora epel": { enabled: "0", dirtree: {} }
  }
}

const bodyOf = (value: unknown) => methodCallBody("checkin", [checkinPayload(value)])

/**
 * The category "Fedora Linux" (id 7) with the directories of config(100_000) and as many more, numbered 0, 2, 4, …
 * (numbers have gaps where directories were removed); "Fedora EPEL" (id 8) with its top only.
 */
const linuxPaths = [
  ...Object.keys(config(100_000)["fedora linux"].dirtree),
  ...Object.keys(config(100_000, "other")["fedora linux"].dirtree).slice(1)
]
const numberOfLinuxPath = new Map(linuxPaths.map((path, i) => [path, 2 * i]))
const NUMBERS: ReadonlyArray<NumberedCategory> = [
  {
    categoryId: 7 as CategoryId,
    key: "fedora linux",
    version: "1",
    numbers: directoryNumbersOf([...numberOfLinuxPath.keys()], [...numberOfLinuxPath.values()])
  },
  { categoryId: 8 as CategoryId, key: "fedora epel", version: "1", numbers: directoryNumbersOf([""], [0]) }
]

/** A decoder of its own, and the scope that ends it. */
const decoderWith = (options: Partial<CheckinDecoderOptions> = {}) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(CheckinDecoder.layer({ ...CHECKIN_DECODER_OPTIONS, ...options }), scope)
    return { decoder: Context.get(context, CheckinDecoder), scope }
  })

it.live("a 100,000-directory check-in is read whole on a worker thread", () =>
  Effect.gen(function* () {
    const { decoder, scope } = yield* decoderWith()
    const sent = config(100_000)
    // A path that is none of the category's directories is left out.
    const withStranger = {
      ...sent,
      "fedora linux": { ...sent["fedora linux"], dirtree: { ...sent["fedora linux"].dirtree, "not/there": {} } }
    }
    const read = yield* decoder.decode(bodyOf(withStranger), NUMBERS)
    if (read._tag !== "Report") throw new Error(`not a report: ${JSON.stringify(read)}`)
    // Read by a worker, not by the thread that asked.
    assert.notStrictEqual(read.threadId, threadId)
    assert.strictEqual(decoder.stats().decoded, 1)
    const report = read.report
    assert.strictEqual(report.siteName, "Example.com")
    assert.strictEqual(Redacted.value(report.sitePassword), "s3cret pass")
    assert.strictEqual(report.hostName, "mirror.example.com")
    assert.isTrue(report.userActive)
    assert.deepStrictEqual(
      report.sections.map((s) => ({ key: s.key, enabled: s.enabled, categoryId: s.category?.categoryId })),
      [
        { key: "fedora linux", enabled: true, categoryId: 7 as CategoryId },
        { key: "fedora epel", enabled: false, categoryId: 8 as CategoryId }
      ]
    )
    assert.deepStrictEqual(
      report.sections[0]!.category!.directories,
      bitsOf(Object.keys(sent["fedora linux"].dirtree).map((path) => numberOfLinuxPath.get(path)!))
    )
    yield* Scope.close(scope, Exit.void)
  })
)

it.live("faults and refused payloads come back from the worker as they are read on the spot", () =>
  Effect.gen(function* () {
    const { decoder, scope } = yield* decoderWith()
    const bodies = [
      methodCallBody("checkin", [1]),
      methodCallBody("checkin", ["a", "b"]),
      methodCallBody("ping", []),
      "<methodCall><methodName>checkin</methodName>",
      methodCallBody("checkin", ["not base64!"]),
      bodyOf({ ...config(3), version: 1 }),
      // A top directory alone: "" is a directory, not none.
      bodyOf({ ...config(1), "fedora epel": { dirtree: {} } })
    ]
    for (const body of bodies) {
      const { threadId: reader, ...read } = yield* decoder.decode(body, NUMBERS)
      assert.notStrictEqual(reader, threadId)
      const onTheSpot = fromCheckinCallMessage(
        numberCheckinCall(
          readCheckinCall(body),
          new Map(
            NUMBERS.map((c) => [c.key, { categoryId: c.categoryId, numbering: new DirectoryNumbering(c.numbers) }])
          )
        ).message
      )
      if (read._tag === "Report" && onTheSpot._tag === "Report") {
        assert.deepStrictEqual(
          { ...read.report, sitePassword: Redacted.value(read.report.sitePassword) },
          { ...onTheSpot.report, sitePassword: Redacted.value(onTheSpot.report.sitePassword) }
        )
        // The top directory alone ("" is a directory, not none: number 0, bit 0), and no directory.
        assert.deepStrictEqual(
          read.report.sections.map((s) => [...(s.category?.directories ?? [])]),
          [[1], []]
        )
      } else assert.deepStrictEqual(read, onTheSpot)
    }
    assert.strictEqual(decoder.stats().decoded, bodies.length)
    yield* Scope.close(scope, Exit.void)
  })
)

it.live("beyond the queue a check-in is refused as busy; the others are read", () =>
  Effect.gen(function* () {
    const { decoder, scope } = yield* decoderWith({ workers: 1, queued: 1 })
    // Three at once: one read, one waiting, one refused (each takes the worker a good part of a second).
    const body = bodyOf(config(50_000))
    const results = yield* Effect.all(
      [0, 1, 2].map(() => Effect.result(decoder.decode(body, NUMBERS))),
      { concurrency: "unbounded" }
    )
    const tags = results.map((r) => (r._tag === "Success" ? r.success._tag : r.failure._tag)).toSorted()
    assert.deepStrictEqual(tags, ["CheckinDecoderBusy", "Report", "Report"])
    assert.deepStrictEqual(
      { ...decoder.stats() },
      { workers: 1, reading: 0, queued: 0, decoded: 2, refused: 1, failed: 0 }
    )
    yield* Scope.close(scope, Exit.void)
  })
)

it.live(
  "a worker that runs out of its heap fails its check-in only; the next one gets a new worker",
  () =>
    Effect.gen(function* () {
      const { decoder, scope } = yield* decoderWith({
        workers: 1,
        workerHeapMb: 24,
        limits: { ...CHECKIN_DECODER_OPTIONS.limits, decompressedBytes: 64 * 1024 * 1024, directories: 2_000_000 }
      })
      const small = yield* decoder.decode(bodyOf(config(10)), NUMBERS)
      assert.strictEqual(small._tag, "Report")
      const huge = yield* Effect.flip(decoder.decode(bodyOf(config(400_000)), NUMBERS))
      assert.strictEqual(huge._tag, "CheckinDecodeFailed")
      const again = yield* decoder.decode(bodyOf(config(10)), NUMBERS)
      assert.strictEqual(again._tag, "Report")
      assert.notStrictEqual(again.threadId, small.threadId)
      assert.strictEqual(decoder.stats().failed, 1)
      yield* Scope.close(scope, Exit.void)
    }),
  // Python compresses, and the worker decompresses, 16 MiB of JSON: slow on a busy machine.
  180_000
)

it.live("the workers end when the layer closes (the node stopping)", () =>
  Effect.gen(function* () {
    const { decoder, scope } = yield* decoderWith()
    yield* Effect.all(
      [0, 1].map(() => decoder.decode(bodyOf(config(20_000)), NUMBERS)),
      { concurrency: "unbounded" }
    )
    assert.isAbove(decoder.stats().workers, 0)
    yield* Scope.close(scope, Exit.void)
    assert.strictEqual(decoder.stats().workers, 0)
    const after = yield* Effect.flip(decoder.decode(bodyOf(config(3)), NUMBERS))
    assert.strictEqual(after._tag, "CheckinDecodeFailed")
  })
)

it.live("an idle worker ends; the next check-in starts another", () =>
  Effect.gen(function* () {
    const { decoder, scope } = yield* decoderWith({ workers: 1, idleMs: 20 })
    const body = bodyOf(config(3))
    const first = yield* decoder.decode(body, NUMBERS)
    // Polled, not timed: the worker ends some time after 20 ms without work.
    while (decoder.stats().workers > 0) yield* Effect.sleep("20 millis")
    const second = yield* decoder.decode(body, NUMBERS)
    assert.strictEqual(second._tag, "Report")
    assert.notStrictEqual(second.threadId, first.threadId)
    assert.strictEqual(decoder.stats().failed, 0)
    yield* Scope.close(scope, Exit.void)
  })
)
