// The redirector role (docs/operations.md#roles): a node started with MM_ROLE=redirector beside a full node answers
// mirrorlists and metalinks from its index, follows a change made through the full node's admin API, refuses the
// admin API and check-ins with a 404 saying what it is, holds no shard and runs no schedule (no runner of its own, no
// master scan even when told to scan every second), and never holds more than 3 database connections.
import { assert, describe, it } from "vitest"
import { addMirror, call, mirrorlist, NO_CRAWLS, newDatabase, setUpContent, TOKEN, until } from "../support/Nodes.ts"
import { api, freePort, runCommand, startNode, tempDir } from "../support/Process.ts"
import { shardLockHolders, sqlSession } from "../support/Sql.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("a redirector node", () => {
  it("answers and follows changes with at most 3 database connections, and refuses the rest", async () => {
    const database = await newDatabase()
    const env = { ...NO_CRAWLS, DATABASE_URL: database, MM_ADMIN_TOKEN: TOKEN, MM_ACCESS_LOG: "off" }
    const full = await startNode({ ...env, MM_DATA_DIR: tempDir() })
    const categoryId = await setUpContent(full)
    const session = await sqlSession(database)

    // The redirector node's sessions, counted from pg_stat_activity all along (its start included).
    const counts: Array<number> = []
    let counting = true
    const counter = (async () => {
      while (counting) {
        const [row] = await session.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = 'mirrormanager redirector'`
        )
        counts.push(row!.n)
        await sleep(20)
      }
    })()

    const redirector = await startNode({
      ...env,
      MM_ROLE: "redirector",
      MM_DATA_DIR: tempDir(),
      // Told to scan master trees every second: a redirector node runs no schedule, so it never does.
      MM_SCAN_INTERVAL: "1 second"
    })
    assert.include(redirector.output(), "role: redirector (a pool of 3 database connections)")

    // It answers from its index.
    const first = await mirrorlist(redirector)
    assert.strictEqual(first.status, 200)
    assert.match(first.text, /^# repo = epel-9 arch = x86_64/)

    // A change through the full node's admin API reaches its answers; and the next one.
    const added = await addMirror(full, categoryId, "mirror-se", "SE", "https://mirror.example.se/pub/epel")
    const url = "https://mirror.example.se/pub/epel/9/Everything/x86_64/"
    await until("the redirector node lists the new mirror", 10_000, async () =>
      (await mirrorlist(redirector)).text.includes(url)
    )
    const metalink = await fetch(`${redirector.url}/metalink?repo=epel-9&arch=x86_64`)
    assert.strictEqual(metalink.status, 200)
    assert.include(await metalink.text(), `${url}repodata/repomd.xml`)
    await call(full, "PATCH", `/api/hosts/${added.host.id}`, { userActive: false })
    await until(
      "the redirector node drops the deactivated mirror",
      10_000,
      async () => !(await mirrorlist(redirector)).text.includes(url)
    )

    // Health and metrics, as any node.
    const ready = await fetch(`${redirector.url}/healthz/ready`)
    assert.strictEqual(ready.status, 200)
    assert.strictEqual(((await ready.json()) as { status: string }).status, "ready")
    assert.match(await (await fetch(`${redirector.url}/metrics`)).text(), /^mm_changes_following 1$/m)

    // The admin API and check-ins are not here: 404, saying why.
    for (const [method, route] of [
      ["GET", "/api/sites"],
      ["POST", "/api/products"],
      ["GET", "/docs"]
    ] as const) {
      const refused = await api(redirector, TOKEN, method, route, method === "POST" ? { name: "X" } : undefined)
      assert.strictEqual(refused.status, 404, `${method} ${route}`)
      assert.include(refused.body.detail, "this node is a redirector (MM_ROLE=redirector)")
    }
    const xmlrpc = await fetch(`${redirector.url}/xmlrpc`, {
      method: "POST",
      headers: { "content-type": "text/xml" },
      body: "<?xml version='1.0'?><methodCall><methodName>checkin</methodName><params></params></methodCall>"
    })
    assert.strictEqual(xmlrpc.status, 404)
    assert.include(await xmlrpc.text(), "check-ins (/xmlrpc) are served by the full nodes")

    // No runner of its own, no shard: the full node's one runner holds all 300 shard locks, in a session of its own.
    const runners = await session.query<{ address: string }>("SELECT address FROM cluster_runners")
    assert.strictEqual(runners.length, 1)
    await until(
      "the full node holds all 300 shards",
      30_000,
      async () => (await shardLockHolders(session)).size === 300
    )
    const holders = new Set((await shardLockHolders(session)).values())
    const holderNames = await session.query<{ name: string }>(
      `SELECT DISTINCT application_name AS name FROM pg_stat_activity WHERE pid = ANY($1::int[])`,
      [[...holders]]
    )
    assert.deepStrictEqual(
      holderNames.map((row) => row.name),
      ["mirrormanager"]
    )

    // No schedule: in the seconds it has run, told to scan every second, it scanned nothing.
    await sleep(2_000)
    assert.notInclude(redirector.output(), "master scan of")
    assert.notInclude(redirector.output(), "cluster runner")

    counting = false
    await counter
    const most = Math.max(...counts)
    assert.isAtLeast(most, 1, "the redirector node's sessions were seen")
    assert.isAtMost(most, 3, `at most 3 connections (${counts.length} counts)`)
  }, 120_000)

  it("is refused at start without DATABASE_URL, or with too few connections: one line, exit 1", async () => {
    const base = { MM_ROLE: "redirector", MM_DATA_DIR: tempDir(), MM_HTTP_PORT: String(await freePort()) }
    const alone = await runCommand(["serve"], base)
    assert.strictEqual(alone.code, 1, alone.stderr)
    assert.strictEqual(
      alone.stderr.trim(),
      "mirrormanager: MM_ROLE=redirector needs MM_INDEX_FEED (the full nodes' index feed) or DATABASE_URL (the full nodes' database): a redirector node runs no database of its own"
    )
    const few = await runCommand(["serve"], {
      ...base,
      DATABASE_URL: await newDatabase(),
      MM_DATABASE_CONNECTIONS: "1"
    })
    assert.strictEqual(few.code, 1, few.stderr)
    assert.strictEqual(
      few.stderr.trim(),
      "mirrormanager: MM_DATABASE_CONNECTIONS: 1 is too few for a redirector node (at least 2)"
    )
  })
})
