// Access statistics of real node processes on one database: two nodes answer mirrorlists and metalinks, one of them
// is restarted (a clean stop) in between, and the day's figures in the database are exactly the requests answered:
// none lost, none counted twice; an embargoed country's requests are in the anonymous bucket only.
import * as http from "node:http"
import { assert, describe, it } from "vitest"
import { addMirror, call, NO_CRAWLS, newDatabase, setUpContent, TOKEN, until } from "../support/Nodes.ts"
import { freePort, type RunningNode, runCommand, startNode, stop, tempDir } from "../support/Process.ts"
import { sqlSession } from "../support/Sql.ts"

/** Clients: one in Sweden (embargoed in this test), one elsewhere. */
const SWEDEN = "89.160.20.113"
const ELSEWHERE = "8.8.8.8"

interface Expected {
  total: number
  sweden: number
  countme: Record<string, number>
}

describe("access statistics of two nodes", () => {
  it("add up to exactly the requests answered, across a node's restart", async () => {
    const database = await newDatabase()
    const env = {
      ...NO_CRAWLS,
      DATABASE_URL: database,
      MM_ADMIN_TOKEN: TOKEN,
      MM_ACCESS_LOG: "off",
      MM_STATS_FLUSH_INTERVAL: "1 second"
    }
    const first = await startNode({ ...env, MM_DATA_DIR: tempDir() })
    const secondDir = tempDir()
    let second = await startNode({ ...env, MM_DATA_DIR: secondDir })
    const categoryId = await setUpContent(first)
    await addMirror(first, categoryId, "mirror-se", "SE", "https://mirror.example.se/pub/epel")
    await call(first, "POST", "/api/embargoed-countries", { country: "SE" })

    const expected: Expected = { total: 0, sweden: 0, countme: {} }
    /** One request on a connection of its own (no kept-alive connection closing under a request); 200s counted. */
    const ask = (node: RunningNode, endpoint: "mirrorlist" | "metalink", ip: string, countme?: string) =>
      new Promise<number>((resolve, reject) => {
        const query = `repo=epel-9&arch=x86_64&ip=${ip}${countme === undefined ? "" : `&countme=${countme}`}`
        http
          .get(`${node.url}/${endpoint}?${query}`, { agent: false }, (response) => {
            response.resume()
            response.on("end", () => {
              if (response.statusCode === 200) {
                expected.total++
                if (ip === SWEDEN) expected.sweden++
                const bucket = countme ?? "none"
                expected.countme[bucket] = (expected.countme[bucket] ?? 0) + 1
              }
              resolve(response.statusCode ?? 0)
            })
          })
          .on("error", reject)
      })
    const listsTheMirror = async (node: RunningNode) => (await ask(node, "mirrorlist", SWEDEN)) === 200
    await until("the first node lists the mirror", 10_000, () => listsTheMirror(first))
    await until("the second node lists the mirror", 10_000, () => listsTheMirror(second))

    /** A round of requests to a node: both endpoints, both clients, every countme bucket and none. */
    const round = async (node: RunningNode, n: number) => {
      const statuses = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          ask(
            node,
            i % 3 === 0 ? "metalink" : "mirrorlist",
            i % 4 === 0 ? ELSEWHERE : SWEDEN,
            i % 5 === 0 ? undefined : String((i % 4) + 1)
          )
        )
      )
      assert.deepStrictEqual(new Set(statuses), new Set([200]))
    }

    const session = await sqlSession(database)
    const stored = async () => {
      const rows = await session.query<{ kind: string; key: string; requests: number }>(
        "SELECT kind, key, sum(requests)::float8 AS requests FROM access_stats GROUP BY kind, key"
      )
      const byKind = (kind: string) =>
        Object.fromEntries(rows.filter((row) => row.kind === kind).map((row) => [row.key, row.requests]))
      return {
        countries: byKind("countries"),
        arches: byKind("arches"),
        repositories: byKind("repositories"),
        countme: byKind("countme")
      }
    }
    const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0)

    await round(first, 60)
    await round(second, 45)
    // Added every second while the nodes run.
    await until("the nodes' counts are in the database", 20_000, async () => {
      const counts = await stored()
      return total(counts.arches) === expected.total
    })

    // /metrics says what each node added.
    const added = async (node: RunningNode) => {
      const metrics = await (await fetch(`${node.url}/metrics`)).text()
      return Number(/^mm_access_stats_added_requests_total (\d+)$/m.exec(metrics)?.[1] ?? Number.NaN)
    }
    await until("the nodes' metrics count what they added", 5_000, async () => {
      return (await added(first)) + (await added(second)) === expected.total
    })

    // The second node stops cleanly (its last counts added as it stops) and starts again: a new run.
    await round(second, 37)
    assert.strictEqual(await stop(second), 0)
    second = await startNode({ ...env, MM_DATA_DIR: secondDir })
    await round(second, 41)
    await round(first, 29)

    // Both stop cleanly: everything answered is in the database, once.
    assert.strictEqual(await stop(second), 0)
    assert.strictEqual(await stop(first), 0)
    const counts = await stored()
    assert.isAtLeast(expected.total, 60 + 45 + 37 + 41 + 29)
    assert.deepStrictEqual(counts.arches, { x86_64: expected.total })
    assert.deepStrictEqual(counts.repositories, { "epel-9": expected.total })
    assert.deepStrictEqual(counts.countme, expected.countme)
    assert.strictEqual(total(counts.countries), expected.total)
    assert.strictEqual(counts.countries.embargoed, expected.sweden)
    assert.isUndefined(counts.countries.SE)
    // One flush record per batch: three runs (two of the second node) wrote theirs.
    const runs = await session.query<{ runs: number }>(
      "SELECT count(DISTINCT run_id)::int AS runs FROM access_stats_flushes"
    )
    assert.strictEqual(runs[0]!.runs, 3)
  })

  it("refuse settings out of range at start: one line, exit 1", async () => {
    const base = { DATABASE_URL: await newDatabase(), MM_DATA_DIR: tempDir(), MM_HTTP_PORT: String(await freePort()) }
    for (const [setting, value, line] of [
      ["MM_STATS_KEEP_DAYS", "0", "MM_STATS_KEEP_DAYS: 0 is not between 1 and 3660 days"],
      ["MM_STATS_FLUSH_INTERVAL", "10 millis", "MM_STATS_FLUSH_INTERVAL: 10ms is too short (at least 1 second)"]
    ] as const) {
      const refused = await runCommand(["serve"], { ...base, [setting]: value })
      assert.strictEqual(refused.code, 1, refused.stderr)
      assert.strictEqual(refused.stderr.trim(), `mirrormanager: ${line}`)
    }
    const unknown = await runCommand(["serve"], { ...base, MM_ACCESS_STATS: "maybe" })
    assert.strictEqual(unknown.code, 1, unknown.stderr)
    assert.include(`${unknown.stdout}${unknown.stderr}`, "MM_ACCESS_STATS")
  })
})
