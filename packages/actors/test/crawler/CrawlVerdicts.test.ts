// The verdicts of a crawl (CrawlVerdicts.ts) over answers as the MirrorClient returns them, no mirror needed: a file
// against the master's size (HEAD, or a ranged GET), repomd.xml against the retained hashes, the host's status and
// the request a failed crawl is blamed on, and a full crawl's pass (its order, where the next resumes, what its sweep
// takes out of date, what it says of the host's standing).

import { assert, describe, it } from "@effect/vitest"
import type { CrawledCategory, CrawledDirectory, CrawlReport } from "@mirrormanager/domain/host"
import { DirectoryId, HostCategoryId } from "@mirrormanager/domain/registry"
import {
  blamedRequest,
  type CrawlDirectory,
  crawlStanding,
  directoriesToCheck,
  fileVerdict,
  fullSweep,
  hostVerdict,
  logKept,
  repomdVerdict,
  resumePoint
} from "../../src/crawler/CrawlVerdicts.ts"
import type { MirrorAnswer } from "../../src/crawler/MirrorClient.ts"

const file = { name: "a.rpm", size: 10 }
const answer = (
  status: number,
  headers: MirrorAnswer["headers"] = {},
  more: Partial<MirrorAnswer> = {}
): MirrorAnswer => ({
  status,
  headers,
  ...more
})

describe("a file's verdict", () => {
  it("HEAD: the size against the master's, a missing file stale, anything else unknown", () => {
    assert.deepStrictEqual(fileVerdict(file, answer(200, { "content-length": "10" }), false), { result: "ok" })
    assert.deepStrictEqual(fileVerdict(file, answer(200), false), { result: "ok" })
    assert.deepStrictEqual(fileVerdict(file, answer(200, { "content-length": "9" }), false), {
      result: "stale",
      why: "stale: size 9, the master's 10"
    })
    assert.deepStrictEqual(fileVerdict(file, answer(410), false), { result: "stale", why: "stale: answered 410" })
    assert.deepStrictEqual(fileVerdict(file, answer(500), false), { result: "unknown", why: "unknown: answered 500" })
    assert.deepStrictEqual(fileVerdict(file, answer(0, {}, { error: "timed out" }), false), {
      result: "unknown",
      why: "unknown: timed out"
    })
  })

  it("ranged GET: the size from Content-Range, or from a 200 that ignored the range", () => {
    assert.deepStrictEqual(fileVerdict(file, answer(206, { "content-range": "bytes 0-0/10" }), true), {
      result: "ok"
    })
    assert.deepStrictEqual(fileVerdict(file, answer(206, { "content-range": "bytes 0-0/11" }), true).result, "stale")
    // The whole body sent and read: its length is the size.
    assert.deepStrictEqual(fileVerdict(file, answer(200, {}, { bodyBytes: 10 }), true), { result: "ok" })
    // More followed than was read, and at least the master's size was: larger.
    assert.deepStrictEqual(fileVerdict(file, answer(200, {}, { bodyBytes: 65_537, bodyCut: true }), true), {
      result: "stale",
      why: "stale: size larger, the master's 10"
    })
  })
})

describe("repomd.xml's verdict", () => {
  const newest = { sha256: "AA".repeat(32), timestamp: 2 }
  const older = { sha256: "bb".repeat(32), timestamp: 1 }
  const repomd: NonNullable<CrawlDirectory["repomd"]> = { newest, alternates: [older] }

  it("matches the newest or a retained alternate (hashes in any case), else stale; no hash is unknown", () => {
    assert.deepInclude(repomdVerdict(repomd, answer(200, {}, { sha256: "aa".repeat(32) })), {
      result: "matched",
      matched: newest
    })
    assert.deepInclude(repomdVerdict(repomd, answer(200, {}, { sha256: "bb".repeat(32) })), {
      result: "matched",
      matched: older
    })
    assert.deepStrictEqual(repomdVerdict(repomd, answer(200, {}, { sha256: "cc".repeat(32) })), {
      result: "stale",
      why: "stale: sha256 cccccccccccc… matches no retained repomd.xml"
    })
    assert.deepStrictEqual(repomdVerdict(repomd, answer(404)), { result: "stale" })
    assert.deepStrictEqual(repomdVerdict(repomd, answer(200, {}, { error: "body over 10 bytes" })), {
      result: "unknown"
    })
  })
})

describe("the host's verdict", () => {
  const category = (accessible: boolean) => ({ hostCategoryId: HostCategoryId.make(1), accessible, directories: [] })
  const entry = { url: "http://a.mirror.test/pub/", method: "HEAD", status: 0, result: "refused", ms: 0 } as const

  it("ok when a category is accessible; unknown when only this machine failed; else a failure and why", () => {
    const crawled = { couldNotCheck: 0, urls: 1, log: [entry], notes: new Set<typeof entry>() }
    assert.deepStrictEqual(hostVerdict({ ...crawled, categories: [category(false), category(true)] }), {
      status: "ok",
      reason: null
    })
    assert.deepStrictEqual(hostVerdict({ ...crawled, categories: [] }), {
      status: "unknown",
      reason: "the host has no categories to crawl"
    })
    assert.deepStrictEqual(hostVerdict({ ...crawled, couldNotCheck: 1, categories: [category(false)] }), {
      status: "unknown",
      reason: "could not check from here (last: http://a.mirror.test/pub/: refused)"
    })
    assert.deepStrictEqual(hostVerdict({ ...crawled, urls: 0, categories: [category(false)] }), {
      status: "failure",
      reason: "no base URL answered: the host has no public http(s) base URL to check"
    })
    assert.deepStrictEqual(hostVerdict({ ...crawled, categories: [category(false)] }), {
      status: "failure",
      reason: "no base URL answered (last: http://a.mirror.test/pub/: refused)"
    })
  })
})

describe("what a failed crawl is blamed on", () => {
  it("the last request without an answer or with an error status, never a note of the log", () => {
    const failed = {
      url: "http://a.mirror.test/pub/",
      method: "HEAD",
      status: 0,
      result: "timed out",
      ms: 30_000
    } as const
    const notFound = {
      url: "http://b.mirror.test/pub/",
      method: "HEAD",
      status: 404,
      result: "answered",
      ms: 3
    } as const
    const served = { url: "http://c.mirror.test/pub/", method: "HEAD", status: 200, result: "answered", ms: 2 } as const
    // Notes have status 0 (no request was made) and come after the base check they follow.
    const always = {
      url: "http://c.mirror.test/pub/",
      method: "HEAD",
      status: 0,
      result: "always up to date (alwaysUp2date): its base URLs checked, its directories not",
      ms: 0
    } as const
    const kept = {
      ...always,
      result: "3 directories found up to date lately and unchanged on the master since: not asked again"
    }
    const notes = new Set([always, kept])
    assert.strictEqual(blamedRequest([failed, notFound, served, always, kept], notes), notFound)
    assert.strictEqual(blamedRequest([notFound, failed, served, kept], notes), failed)
    assert.isUndefined(blamedRequest([served, always], notes))
    // The same entry, not a note: a request that got no answer.
    assert.strictEqual(blamedRequest([failed, always], new Set()), always)
  })
})

describe("a full crawl's pass (docs/crawler.md#time-limit-and-resuming)", () => {
  const directory = (path: string): CrawlDirectory => ({
    directoryId: DirectoryId.make(1),
    path,
    files: [],
    repomd: undefined
  })
  const tree = ["b", "", "a/repodata", "a", "c"].map(directory)
  const crawled = (path: string, result: CrawledDirectory["result"]): CrawledDirectory => ({
    directoryId: DirectoryId.make(1),
    path,
    result,
    matched: null,
    matchedTimestamp: null
  })
  const category = (pass: CrawledCategory["pass"], directories: ReadonlyArray<CrawledDirectory>): CrawledCategory => ({
    hostCategoryId: HostCategoryId.make(1),
    accessible: true,
    directories,
    ...(pass === undefined ? {} : { pass })
  })

  it("in path order, from the first after the resume point, wrapping round", () => {
    const order = (resumeAfter: string | null) =>
      directoriesToCheck(tree, "full", undefined, resumeAfter).map((d) => d.path)
    assert.deepStrictEqual(order(null), ["", "a", "a/repodata", "b", "c"])
    assert.deepStrictEqual(order("a"), ["a/repodata", "b", "c", "", "a"])
    assert.deepStrictEqual(order(""), ["a", "a/repodata", "b", "c", ""])
    // A resume point no longer in the tree: from the next path after it; past the last: from the first.
    assert.deepStrictEqual(order("a/x"), ["b", "c", "", "a", "a/repodata"])
    assert.deepStrictEqual(order("z"), ["", "a", "a/repodata", "b", "c"])
    assert.deepStrictEqual(
      directoriesToCheck(tree, "repodata", undefined).map((d) => d.path),
      ["a/repodata"]
    )
  })

  it("a pass cut short resumes after what it covered and sweeps only that; a whole pass sweeps everything", () => {
    const cut = category({ from: "a", complete: false }, [crawled("a/repodata", "upToDate"), crawled("b", "unknown")])
    assert.deepStrictEqual(resumePoint(cut), { resumeAfter: "b" })
    assert.deepStrictEqual(fullSweep(cut), { range: "covered", unconfirmed: [crawled("b", "unknown")] })
    // Cut before it covered anything: it resumes where it started.
    assert.deepStrictEqual(resumePoint(category({ from: "a", complete: false }, [])), { resumeAfter: "a" })
    assert.deepStrictEqual(resumePoint(category({ from: null, complete: false }, [])), { resumeAfter: null })
    const whole = category({ from: "a", complete: true }, [crawled("b", "upToDate"), crawled("c", "stale")])
    assert.deepStrictEqual(resumePoint(whole), { resumeAfter: null })
    assert.deepStrictEqual(fullSweep(whole), { range: "all", confirmed: [crawled("b", "upToDate")] })
    // A full report without a pass (an always-up-to-date category, an older report) is a whole one.
    assert.deepStrictEqual(resumePoint(category(undefined, [])), { resumeAfter: null })
    assert.strictEqual(fullSweep(category(undefined, [])).range, "all")
    // A category that did not answer: nothing to record.
    assert.isUndefined(resumePoint({ ...cut, accessible: false }))
  })

  it("the host's standing: a timeout that reached the directories is good, one that did not changes nothing", () => {
    const report = (status: CrawlReport["status"], categories: ReadonlyArray<CrawledCategory> = []): CrawlReport => ({
      mode: "full",
      status,
      reason: null,
      durationMs: 1,
      categories,
      urls: []
    })
    assert.strictEqual(crawlStanding(report("ok")), "good")
    assert.strictEqual(crawlStanding(report("failure")), "failed")
    assert.strictEqual(crawlStanding(report("unknown")), "none")
    assert.strictEqual(crawlStanding(report("timeout")), "none")
    assert.strictEqual(crawlStanding(report("timeout", [category({ from: null, complete: false }, [])])), "good")
    assert.strictEqual(crawlStanding({ ...report("failure"), mode: "repodata" }), "none")
  })
})

describe("the crawl log kept", () => {
  it("the first entries; of a crawl stopped by its time limit, its last ones too", () => {
    const log = Array.from({ length: 600 }, (_, i) => ({
      url: `http://a.mirror.test/pub/${i}`,
      method: "HEAD" as const,
      status: 200,
      result: "answered",
      ms: 1
    }))
    assert.strictEqual(logKept(log.slice(0, 10), "timeout", 500).length, 10)
    assert.deepStrictEqual(logKept(log, "ok", 500), log.slice(0, 500))
    const stopped = logKept(log, "timeout", 500)
    assert.strictEqual(stopped.length, 500)
    assert.strictEqual(stopped[0], log[0])
    assert.strictEqual(stopped.at(-1), log.at(-1))
    assert.strictEqual(stopped[479], log[479])
    assert.strictEqual(stopped[480], log[580])
  })
})
