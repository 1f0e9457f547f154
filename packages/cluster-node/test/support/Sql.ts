// A test's own session on a database the nodes under test use: what the cluster holds (shard locks, runners) and
// who is connected (pg_stat_activity), read as an operator would with psql.
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll } from "vitest"

const scopes: Array<Scope.Closeable> = []
afterAll(async () => {
  for (const scope of scopes) await Effect.runPromise(Scope.close(scope, Exit.void))
})

/** A one-connection client on `url`, closed after the test file; `query` runs one statement and answers its rows. */
export const sqlSession = async (url: string) => {
  const scope = Effect.runSync(Scope.make())
  scopes.push(scope)
  const context = await Effect.runPromise(
    Layer.buildWithScope(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }), scope)
  )
  const sql = Context.get(context, SqlClient.SqlClient)
  return {
    query: <A extends object>(statement: string, params: ReadonlyArray<unknown> = []) =>
      Effect.runPromise(sql.unsafe<A>(statement, params as Array<unknown>))
  }
}

/** The advisory-lock namespace of effect's cluster tables `cluster_*` (its FNV-1a hash of "effect-cluster:cluster"). */
const CLUSTER_LOCKS = (() => {
  const bytes = new TextEncoder().encode("effect-cluster:cluster")
  let hash = 0x811c9dc5
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193)
  return hash >>> 0
})()

/**
 * The shard locks of the cluster's runners (effect's SqlRunnerStorage takes one PostgreSQL advisory lock per shard,
 * in the session of each runner's lock connection): lock number → backend pid of the session holding it.
 */
export const shardLockHolders = async (session: Awaited<ReturnType<typeof sqlSession>>) => {
  const rows = await session.query<{ shard: string; pid: number }>(
    `SELECT objid::text AS shard, pid FROM pg_locks
     WHERE locktype = 'advisory' AND granted AND classid = ${CLUSTER_LOCKS} AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY objid`
  )
  return new Map(rows.map((row) => [row.shard, row.pid]))
}
