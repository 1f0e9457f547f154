// The pool's time bounds (statement_timeout, idle_in_transaction_session_timeout) hold for ordinary statements, and
// are lifted where the work grows with the registry: migrations, the index load, a master scan, a host's check-in.
// Each lifted statement is made to wait past the bound on a lock that another session holds.
import * as path from "node:path"
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import type { CategoryId, HostId } from "@mirrormanager/domain/registry"
import { Duration, Effect, Exit, Fiber, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import { ChangeLog } from "../../src/db/ChangeLog.ts"
import { databaseLayer, withoutTransactionTimeouts } from "../../src/db/Database.ts"
import { bitsOf } from "../../src/db/UpToDateBits.ts"
import { HostStore } from "../../src/host/HostStore.ts"
import { MasterScanner } from "../../src/masterscan/MasterScanner.ts"
import { defaultMasterScanPolicy, MasterScanPolicy } from "../../src/masterscan/MasterScanPolicy.ts"
import { IndexRows } from "../../src/redirector/IndexRows.ts"
import { Accounts } from "../../src/registry/Accounts.ts"
import { Content } from "../../src/registry/Content.ts"
import { freshDatabaseLayer, holdLock } from "../../src/testing/index.ts"
import { hostCarrying } from "../support/HostRows.ts"
import { MasterTree, makeTempDir, repomdXml } from "../support/MasterTree.ts"
import { createCategory } from "../support/ScanDatabase.ts"

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

const BOUND = Duration.millis(300)
/** How long another session holds the lock a statement waits for: well past the bound. */
const HELD = Duration.millis(1200)

const TestLayer = MasterScanner.layer.pipe(
  Layer.provideMerge(Layer.mergeAll(ChangeLog.layer, Content.layer, Accounts.layer)),
  Layer.provide(Layer.succeed(MasterScanPolicy, { ...defaultMasterScanPolicy, settleMs: 0 })),
  Layer.provideMerge(
    freshDatabaseLayer(inject("databaseUrl"), { statementTimeout: BOUND, idleInTransactionTimeout: BOUND })
  )
)

/**
 * `effect` run while another session (of its own, no bounds) holds a lock it needs, taken with `lock` and let go
 * after HELD; its result, and how long it waited.
 */
const whileLocked = <A, E, R>(lock: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const pg = yield* PgClient.PgClient
    const held = yield* holdLock(pg.config.url!, lock)
    const holder = yield* Effect.forkChild(Effect.delay(held.release, HELD))
    const startedAt = Date.now()
    const exit = yield* Effect.exit(effect)
    const waitedMs = Date.now() - startedAt
    yield* Fiber.join(holder)
    return { exit, waitedMs }
  })

const isStatementTimeout = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) && /StatementTimeoutError|statement timeout/.test(String(exit.cause))

let counter = 0

layer(TestLayer, { excludeTestServices: true })("the database's time bounds", (it) => {
  it.effect("an ordinary statement that waits past the bound is cancelled by the server", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const { exit } = yield* whileLocked(
        "LOCK TABLE sites IN ACCESS EXCLUSIVE MODE",
        sql`SELECT count(*)::int AS n FROM sites`
      )
      assert.isTrue(isStatementTimeout(exit), String(exit))
    })
  )

  it.effect("a transaction idle past the bound loses its session; one that lifts the bounds keeps it", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const idle = (lift: boolean) =>
        sql
          .withTransaction(
            Effect.gen(function* () {
              if (lift) yield* withoutTransactionTimeouts(sql)
              yield* sql`SELECT 1`
              yield* Effect.sleep(Duration.times(BOUND, 3))
              return yield* sql<{ n: number }>`SELECT 2::int AS n`
            })
          )
          .pipe(Effect.exit)
      const bounded = yield* idle(false)
      assert.isTrue(Exit.isFailure(bounded), "the server ended the idle transaction")
      const lifted = yield* idle(true)
      assert.deepStrictEqual(lifted, Exit.succeed([{ n: 2 }]))
      // The lift ends with its transaction: the next one is bounded again.
      const after = yield* idle(false)
      assert.isTrue(Exit.isFailure(after))
    })
  )

  it.effect("the index load waits as long as it needs", () =>
    Effect.gen(function* () {
      const loadIndex = Effect.flatMap(Effect.service(IndexRows), (rows) => rows.all).pipe(
        Effect.provide(IndexRows.layer)
      )
      const { exit, waitedMs } = yield* whileLocked("LOCK TABLE hosts IN ACCESS EXCLUSIVE MODE", loadIndex)
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      assert.isAbove(waitedMs, Duration.toMillis(BOUND))
    })
  )

  it.effect("a master scan waits as long as it needs (here for another scan of its category)", () =>
    Effect.gen(function* () {
      const tree = new MasterTree(path.join(makeTempDir(), "bounded"))
      tree.file("9/x86_64/repodata/repomd.xml", repomdXml([1_700_000_000]))
      tree.file("9/x86_64/Packages/a.rpm", "rpm")
      const category = yield* createCategory({ name: "Bounded", topdir: "pub/bounded", masterPath: tree.root })
      const scanner = yield* MasterScanner
      // The scan's lock (MasterTreeStore.lockCategory), as another node's scan of the category holds it.
      const { exit, waitedMs } = yield* whileLocked(
        `SELECT pg_advisory_xact_lock(4242010, ${category.id})`,
        scanner.scan(category.id)
      )
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      if (Exit.isSuccess(exit)) assert.strictEqual(exit.value.outcome, "completed", JSON.stringify(exit.value))
      assert.isAbove(waitedMs, Duration.toMillis(BOUND))
    })
  )

  it.effect("a host's check-in writes wait as long as they need", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const n = ++counter
      const [top] = yield* sql<{ id: number }>`INSERT INTO directories (name) VALUES (${`pub/b${n}`}) RETURNING id`
      const [nine] = yield* sql<{ id: number }>`INSERT INTO directories (name) VALUES (${`pub/b${n}/9`}) RETURNING id`
      const { hostId, hostCategoryId } = yield* hostCarrying(1000 + n, top!.id, [nine!.id])
      const [category] = yield* sql<{ categoryId: CategoryId; ordinals: ReadonlyArray<number> }>`
        SELECT hc.category_id AS "categoryId", array_agg(cd.ordinal) AS ordinals
        FROM host_categories hc JOIN category_directories cd ON cd.category_id = hc.category_id
        WHERE hc.id = ${hostCategoryId} GROUP BY hc.category_id`
      const { exit, waitedMs } = yield* whileLocked(
        `SELECT id FROM hosts WHERE id = ${hostId} FOR UPDATE`,
        Effect.gen(function* () {
          return yield* (yield* HostStore).applyCheckin(hostId as HostId, {
            userActive: true,
            sections: [
              {
                key: `c${1000 + n}`,
                enabled: true,
                category: { categoryId: category!.categoryId, directories: bitsOf(category!.ordinals) }
              }
            ]
          })
        }).pipe(Effect.provide(HostStore.layer))
      )
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      assert.isAbove(waitedMs, Duration.toMillis(BOUND))
    })
  )

  it.effect("migrations wait as long as they need (another node migrating at the same time)", () =>
    Effect.gen(function* () {
      const pg = yield* PgClient.PgClient
      const again = Layer.build(
        databaseLayer(Redacted.make(Redacted.value(pg.config.url!)), {
          statementTimeout: BOUND,
          idleInTransactionTimeout: BOUND
        })
      )
      const { exit, waitedMs } = yield* whileLocked(
        "LOCK TABLE effect_sql_migrations IN ACCESS EXCLUSIVE MODE",
        Effect.scoped(again)
      )
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      assert.isAbove(waitedMs, Duration.toMillis(BOUND))
    })
  )
})
