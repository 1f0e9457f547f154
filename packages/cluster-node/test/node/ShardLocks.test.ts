// Shard ownership survives a stall (docs/operations.md#shard-locks): two nodes share the cluster's shards; one of
// them is frozen for 2 s (SIGSTOP: nothing of it runs, its timers and sockets wait, as in a stalled event loop) while
// its lock refresh is held up by a slow database (the test holds the row the refresh updates, for 1 s more after the
// node resumes). No shard changes owner at any moment, the node logs no loss of its locks, and it keeps serving:
// mirrorlists, and a check-in applied by a host's entity. And the other side of the trade-off: a node killed, or
// frozen for good, gives its shards up within the lock expiration and a few seconds.
import { holdLock } from "@mirrormanager/actors/testing"
import { Effect, Exit, Redacted, Scope } from "effect"
import { assert, describe, it } from "vitest"
import {
  addCampusMirror,
  campusConfig,
  checkIn,
  mirrorlist,
  newDatabase,
  setUpContent,
  TOKEN,
  until
} from "../support/Nodes.ts"
import { freePort, startNode, tempDir } from "../support/Process.ts"
import { shardLockHolders, sqlSession } from "../support/Sql.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("shard locks", () => {
  it("a node frozen for 2 s while its lock refresh waits on the database keeps every shard, and keeps serving", async () => {
    const database = await newDatabase()
    const env = { DATABASE_URL: database, MM_ADMIN_TOKEN: TOKEN, MM_ACCESS_LOG: "off" }
    const runnerPort = await freePort()
    const a = await startNode({ ...env, MM_DATA_DIR: tempDir(), MM_RUNNER_PORT: String(runnerPort) })
    const b = await startNode({ ...env, MM_DATA_DIR: tempDir() })
    const session = await sqlSession(database)

    // Content and a private mirror checking in, so that there is something to serve and to apply.
    const categoryId = await setUpContent(a)
    await addCampusMirror(a, categoryId)
    const config = (paths: ReadonlyArray<string>) => campusConfig(a, paths)
    const whole = ["", "9", "9/Everything", "9/Everything/x86_64", "9/Everything/x86_64/repodata"]
    assert.match(checkIn(a, config(whole)), /checked in successful$/)

    // The 300 shards split between the two nodes' lock sessions, and settled.
    let settled = new Map<string, number>()
    await until("the two nodes hold all 300 shards, unchanged for 3 s", 60_000, async () => {
      const holders = await shardLockHolders(session)
      const same = holders.size === settled.size && [...holders].every(([shard, pid]) => settled.get(shard) === pid)
      if (!same) {
        settled = holders
        await sleep(3_000)
        return false
      }
      return holders.size === 300 && new Set(holders.values()).size === 2
    })
    const before = settled

    // Watches the holders until told to stop: every change of owner, and every shard unheld, is recorded.
    const changes: Array<string> = []
    let watching = true
    const watcher = (async () => {
      while (watching) {
        const holders = await shardLockHolders(session)
        for (const [shard, pid] of before) {
          const now = holders.get(shard)
          if (now !== pid) changes.push(`shard lock ${shard}: held by ${pid}, then ${now ?? "nobody"}`)
        }
        await sleep(50)
      }
    })()

    // A slow database: the test holds node A's row of cluster_runners, which A's lock refresh updates first.
    const scope = Effect.runSync(Scope.make())
    const row = await Effect.runPromise(
      Scope.provide(
        holdLock(
          Redacted.make(database),
          `SELECT 1 FROM cluster_runners WHERE address = '127.0.0.1:${runnerPort}' FOR UPDATE`
        ),
        scope
      )
    )
    try {
      // A's next refresh comes within 10 s (a third of the lock expiration) and waits on the row.
      await until("node A's lock refresh waits on its row", 15_000, async () => {
        const rows = await session.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
           AND query ILIKE '%cluster_runners%last_heartbeat%'`
        )
        return rows.length > 0
      })
      // Then A stalls for 2 s, and the database answers A's refresh 1 s after A resumes.
      a.process.kill("SIGSTOP")
      await sleep(2_000)
      a.process.kill("SIGCONT")
      await sleep(1_000)
    } finally {
      a.process.kill("SIGCONT")
      await Effect.runPromise(row.release)
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }

    // A's refresh completes; for a while after (a refresh of every shard lock), no shard has moved.
    await until("node A's lock refresh is through", 10_000, async () => {
      const rows = await session.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
      )
      return rows.length === 0
    })
    await sleep(11_000)
    watching = false
    await watcher
    assert.deepStrictEqual(changes.slice(0, 10), [], `${changes.length} changes of shard lock holders`)
    const after = await shardLockHolders(session)
    assert.strictEqual(after.size, 300)
    for (const node of [a, b]) {
      assert.notInclude(node.output(), "Shard lock storage is unhealthy")
    }

    // A keeps serving: mirrorlists, and a check-in applied by the host's entity (wherever it lives).
    const answer = await mirrorlist(a)
    assert.strictEqual(answer.status, 200)
    assert.match(answer.text, /^# repo = epel-9 arch = x86_64/)
    assert.strictEqual(
      checkIn(a, config(["", "9"])),
      "Category Fedora EPEL directories updated: 2  added: 0  deleted 3\nchecked in successful"
    )
  }, 180_000)

  it("a node killed, or frozen, gives its shards up within the lock expiration and a few seconds", async () => {
    const database = await newDatabase()
    // A shorter expiration than the default, to keep the test short: a frozen node's shards move after it.
    const env = {
      DATABASE_URL: database,
      MM_ADMIN_TOKEN: TOKEN,
      MM_ACCESS_LOG: "off",
      MM_SHARD_LOCK_EXPIRATION: "9 seconds"
    }
    const nodes = [] as Array<Awaited<ReturnType<typeof startNode>>>
    for (let i = 0; i < 3; i++) nodes.push(await startNode({ ...env, MM_DATA_DIR: tempDir() }))
    const [a, , c] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]]
    assert.include(a.output(), "shard locks expire after 9s")
    const session = await sqlSession(database)
    const sessions = async () => new Set((await shardLockHolders(session)).values())
    const held = async () => (await shardLockHolders(session)).size

    await until(
      "the three nodes hold all 300 shards",
      60_000,
      async () => (await held()) === 300 && (await sessions()).size === 3
    )
    const three = await sessions()

    // Killed: PostgreSQL ends its sessions at once, freeing its locks; the others find it gone within seconds (at worst,
    // when it was the runner checking the others' health, once it has been silent for the expiration).
    c.process.kill("SIGKILL")
    await c.exited
    await until(
      "the two others hold all 300 shards",
      9_000 + 10_000,
      async () => (await held()) === 300 && (await sessions()).size === 2
    )
    const two = await sessions()
    assert.isTrue(
      [...two].every((pid) => three.has(pid)),
      "the survivors' own lock sessions took the shards"
    )

    // Frozen: it keeps its locks until it has been silent for the expiration (its lock session ended by PostgreSQL,
    // its runner no longer counted), then the last one holds them all.
    a.process.kill("SIGSTOP")
    try {
      await until(
        "the last node holds all 300 shards",
        9_000 + 10_000,
        async () => (await held()) === 300 && (await sessions()).size === 1
      )
      const [last] = await sessions()
      assert.isTrue(two.has(last!), "the last node's own lock session took the shards")
    } finally {
      a.process.kill("SIGCONT")
    }
  }, 180_000)
})
