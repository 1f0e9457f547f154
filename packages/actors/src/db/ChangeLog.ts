// The change log (docs/redirector.md#how-changes-reach-every-node): every write that affects selection appends a
// sequence-numbered change in the same transaction, and wakes the nodes that follow it with NOTIFY (delivered on
// commit, dropped on rollback).
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"

export const CHANGES_CHANNEL = "mm_changes"

export class ChangeLog extends Context.Service<
  ChangeLog,
  {
    /** Appends a change inside the caller's transaction; returns its sequence number. */
    readonly record: (kind: string, payload: unknown) => Effect.Effect<number>
  }
>()("actors/ChangeLog") {
  static readonly layer = Layer.effect(
    ChangeLog,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      return ChangeLog.of({
        record: Effect.fn("ChangeLog.record")(function* (kind: string, payload: unknown) {
          const [row] = yield* sql<{ seq: string }>`INSERT INTO changes (kind, payload)
            VALUES (${kind}, ${JSON.stringify(payload)}::jsonb) RETURNING seq::text AS seq`
          yield* sql`SELECT pg_notify(${CHANGES_CHANNEL}, ${row!.seq})`
          return Number(row!.seq)
        }, Effect.orDie)
      })
    })
  )
}
