// The Host entity on a cluster runner over the test database (SingleRunner, SQL storage): crawl results applied as
// docs/crawler.md#results says (a crawl stopped by its time limit as docs/crawler.md#time-limit-and-resuming says),
// the status it reports, and a host that is gone.
import { assert, layer } from "@effect/vitest"
import { type CrawlReport, HostEntity } from "@mirrormanager/domain/host"
import type { DirectoryId } from "@mirrormanager/domain/registry"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import { CrawlerStateLayer } from "../../src/crawler/CrawlerState.ts"
import { HostEntityLayer } from "../../src/host/HostEntity.ts"
import { CRAWL_FAILURES_TO_DISABLE } from "../../src/host/HostStore.ts"
import { freshDatabaseLayer, SingleRunnerLayer } from "../../src/testing/index.ts"
import { hostCarrying } from "../support/HostRows.ts"

const TestLayer = HostEntityLayer.pipe(
  Layer.provide(CrawlerStateLayer),
  Layer.provideMerge(SingleRunnerLayer),
  Layer.provideMerge(freshDatabaseLayer(inject("databaseUrl")))
)

let counter = 0
/** A public host carrying a category of three directories (top, 9, 9/x86_64); 9 up to date by a check-in, claimed. */
const world = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const n = ++counter
  const directory = (name: string) =>
    Effect.map(
      sql<{ id: DirectoryId }>`INSERT INTO directories (name) VALUES (${name}) RETURNING id`,
      ([row]) => row!.id
    )
  const top = yield* directory(`pub/e${n}`)
  const nine = yield* directory(`pub/e${n}/9`)
  const repo = yield* directory(`pub/e${n}/9/x86_64`)
  const { hostId, hostCategoryId } = yield* hostCarrying(n, top, [nine, repo])
  yield* sql`INSERT INTO host_category_dirs (host_category_id, directory_id, path, up2date, verified_by)
    VALUES (${hostCategoryId}, ${nine}, '9', true, 'checkin')`
  yield* sql`INSERT INTO host_category_up2date (host_category_id, bits)
    SELECT ${hostCategoryId}, mm_bits_of(array_agg(ordinal)) FROM category_directories
    WHERE directory_id = ${nine}`
  yield* sql`INSERT INTO host_category_claims (host_category_id, paths, reported_at)
    VALUES (${hostCategoryId}, '["9"]'::jsonb, now())`
  return { hostId, hostCategoryId, top, nine, repo }
}).pipe(Effect.orDie)

type World = Effect.Success<typeof world>

const directories = (w: World) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<{ path: string; up2date: boolean; verifiedBy: string | null; matched: string | null }>`
      SELECT path, up2date, verified_by AS "verifiedBy", matched FROM host_category_dirs
      WHERE host_category_id = ${w.hostCategoryId} ORDER BY path`
  }).pipe(Effect.orDie)

const host = (w: World) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{
      userActive: boolean
      disabledBy: string
      disableReason: string | null
      crawlFailures: number
      lastCrawlDuration: number | null
    }>`SELECT user_active AS "userActive", disabled_by AS "disabledBy", disable_reason AS "disableReason",
        crawl_failures AS "crawlFailures", last_crawl_duration AS "lastCrawlDuration" FROM hosts WHERE id = ${w.hostId}`
    return row!
  }).pipe(Effect.orDie)

const crawl = (w: World, report: Partial<CrawlReport>) =>
  Effect.gen(function* () {
    const hosts = yield* HostEntity.client
    yield* hosts(String(w.hostId)).CrawlResult({
      report: { mode: "full", status: "ok", reason: null, durationMs: 1500, categories: [], urls: [], ...report }
    })
  })

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("the Host entity", (it) => {
  it.effect(
    "a full crawl: confirmed directories up to date, stale ones and unconfirmed ones not, claims verified",
    () =>
      Effect.gen(function* () {
        const w = yield* world
        const hosts = yield* HostEntity.client
        assert.deepInclude(yield* hosts(String(w.hostId)).Status(), {
          hostId: w.hostId,
          directoriesUpToDate: 1,
          claimsAwaitingCrawl: 1,
          lastCrawled: null
        })
        yield* crawl(w, {
          categories: [
            {
              hostCategoryId: w.hostCategoryId,
              accessible: true,
              directories: [
                { directoryId: w.top, path: "", result: "upToDate", matched: null, matchedTimestamp: null },
                {
                  directoryId: w.repo,
                  path: "9/x86_64",
                  result: "upToDate",
                  matched: "alternate",
                  matchedTimestamp: 1700000000
                },
                { directoryId: w.nine, path: "9", result: "unknown", matched: null, matchedTimestamp: null }
              ]
            }
          ]
        })
        assert.deepStrictEqual(yield* directories(w), [
          { path: "", up2date: true, verifiedBy: "crawl", matched: null },
          // Unknown leaves the directory as it was, but a full crawl sweeps what it did not confirm.
          { path: "9", up2date: false, verifiedBy: "checkin", matched: null },
          { path: "9/x86_64", up2date: true, verifiedBy: "crawl", matched: "alternate" }
        ])
        const status = yield* hosts(String(w.hostId)).Status()
        assert.strictEqual(status.directoriesUpToDate, 2)
        assert.strictEqual(status.claimsAwaitingCrawl, 0)
        assert.isNotNull(status.lastCrawled)
        assert.strictEqual((yield* host(w)).lastCrawlDuration, 1.5)

        // A repodata crawl finds one stale: only that one changes.
        yield* crawl(w, {
          mode: "repodata",
          categories: [
            {
              hostCategoryId: w.hostCategoryId,
              accessible: true,
              directories: [
                { directoryId: w.repo, path: "9/x86_64", result: "stale", matched: null, matchedTimestamp: null }
              ]
            }
          ]
        })
        assert.deepStrictEqual(
          (yield* directories(w)).map((d) => [d.path, d.up2date]),
          [
            ["", true],
            ["9", false],
            ["9/x86_64", false]
          ]
        )
      })
  )

  it.effect("consecutive failed crawls switch the host off; a good crawl switches it on again", () =>
    Effect.gen(function* () {
      const w = yield* world
      const upToDate = (yield* directories(w)).filter((d) => d.up2date).length
      assert.isAbove(upToDate, 0)
      // Failed canary and repodata crawls neither count nor take directories out of date (the host's URLs, recorded
      // as not answering, keep it out of the lists until they answer again); only full crawls decide its standing.
      for (const mode of ["canary", "repodata", "canary", "canary", "repodata"] as const) {
        yield* crawl(w, { mode, status: "failure", reason: "connection refused" })
      }
      assert.deepInclude(yield* host(w), { userActive: true, crawlFailures: 0 })
      assert.strictEqual((yield* directories(w)).filter((d) => d.up2date).length, upToDate)
      for (let i = 1; i < CRAWL_FAILURES_TO_DISABLE; i++) {
        yield* crawl(w, { status: "failure", reason: "connection refused" })
        assert.deepInclude(yield* host(w), { userActive: true, crawlFailures: i })
      }
      // A failed full crawl takes every directory of the host out of date.
      assert.isTrue((yield* directories(w)).every((d) => !d.up2date))
      // Our own fault (unknown) counts for nothing.
      yield* crawl(w, { status: "unknown" })
      assert.deepInclude(yield* host(w), { userActive: true, crawlFailures: CRAWL_FAILURES_TO_DISABLE - 1 })
      yield* crawl(w, { status: "failure", reason: "connection refused" })
      assert.deepInclude(yield* host(w), {
        userActive: false,
        disabledBy: "crawler",
        disableReason: `disabled after ${CRAWL_FAILURES_TO_DISABLE} consecutive crawl failures: connection refused`
      })
      // A good canary check does not switch it on again; a good full crawl does.
      yield* crawl(w, { mode: "canary", status: "ok" })
      assert.deepInclude(yield* host(w), { userActive: false, crawlFailures: CRAWL_FAILURES_TO_DISABLE })
      yield* crawl(w, { status: "ok" })
      assert.deepInclude(yield* host(w), {
        userActive: true,
        disabledBy: "none",
        disableReason: null,
        crawlFailures: 0
      })
    })
  )

  it.effect("a full crawl stopped by its time limit is no failure: what it did not cover keeps its state", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const w = yield* world
      const stopped = { status: "timeout", reason: "stopped at the host's time limit" } as const
      // Stopped before reaching any directory: nothing changes.
      yield* crawl(w, stopped)
      assert.deepInclude(yield* host(w), { userActive: true, crawlFailures: 0 })
      assert.deepStrictEqual(
        (yield* directories(w)).map((d) => [d.path, d.up2date]),
        [["9", true]]
      )
      // A failure counts (and takes the host's directories out of date); the check-in puts 9 back.
      yield* crawl(w, { status: "failure", reason: "connection refused" })
      assert.deepInclude(yield* host(w), { crawlFailures: 1 })
      yield* sql`UPDATE host_category_dirs SET up2date = true WHERE host_category_id = ${w.hostCategoryId}`.pipe(
        Effect.orDie
      )
      // Stopped after covering the top: the top has its result, 9 (not reached) keeps its state, and the host
      // answered, so its failures are reset; the next full crawl resumes after the top.
      yield* crawl(w, {
        ...stopped,
        categories: [
          {
            hostCategoryId: w.hostCategoryId,
            accessible: true,
            directories: [{ directoryId: w.top, path: "", result: "upToDate", matched: null, matchedTimestamp: null }],
            pass: { from: null, complete: false }
          }
        ]
      })
      assert.deepInclude(yield* host(w), { userActive: true, crawlFailures: 0 })
      assert.deepStrictEqual(
        (yield* directories(w)).map((d) => [d.path, d.up2date, d.verifiedBy]),
        [
          ["", true, "crawl"],
          ["9", true, "checkin"]
        ]
      )
      const [resume] = yield* sql<{ resumeAfter: string | null }>`SELECT resume_after AS "resumeAfter"
        FROM host_category_crawl_resume WHERE host_category_id = ${w.hostCategoryId}`.pipe(Effect.orDie)
      assert.deepStrictEqual(resume, { resumeAfter: "" })
    })
  )

  it.effect("a crawl result naming another host's category, or an inaccessible one, changes none of it", () =>
    Effect.gen(function* () {
      const w = yield* world
      const other = yield* world
      yield* crawl(w, {
        categories: [
          {
            hostCategoryId: other.hostCategoryId,
            accessible: true,
            directories: [
              { directoryId: other.top, path: "", result: "upToDate", matched: null, matchedTimestamp: null }
            ]
          },
          { hostCategoryId: w.hostCategoryId, accessible: false, directories: [] }
        ]
      })
      assert.deepStrictEqual(
        (yield* directories(other)).map((d) => [d.path, d.up2date]),
        [["9", true]]
      )
      assert.deepStrictEqual(
        (yield* directories(w)).map((d) => [d.path, d.up2date]),
        [["9", true]]
      )
    })
  )

  it.effect("a host that is gone answers HostGone", () =>
    Effect.gen(function* () {
      const hosts = yield* HostEntity.client
      const gone = yield* hosts("987654").Status().pipe(Effect.flip)
      assert.strictEqual(gone._tag, "HostGone")
    })
  )
})
