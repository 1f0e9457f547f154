// The Host entity (protocol in domain/cluster/HostEntity.ts): one per host, on whichever node owns its shard. Its
// state is the host's rows in PostgreSQL, read within each message's transaction, so an entity that moves to
// another node after a failure goes on with nothing lost; its mailbox applies one message at a time.
import { HostEntity } from "@mirrormanager/domain/cluster/HostEntity"
import { Effect } from "effect"
import { Entity } from "effect/cluster"
import { SqlClient } from "effect/sql"
import { applyCheckin, applyCrawl, hostStatus } from "./HostRecords.ts"

export const HostEntityLive = HostEntity.toLayer(
  Effect.gen(function* () {
    const address = yield* Entity.CurrentAddress
    const runner = yield* Entity.CurrentRunnerAddress
    const hostId = Number(address.entityId)
    const sql = yield* SqlClient.SqlClient
    yield* Effect.logInfo("host entity active").pipe(
      Effect.annotateLogs({ hostId, runner: `${runner.host}:${runner.port}` })
    )
    return HostEntity.of({
      Checkin: ({ payload }) => applyCheckin(sql, hostId, payload.checkin),
      CrawlResult: ({ payload }) => applyCrawl(sql, hostId, payload.report),
      Status: () => hostStatus(sql, hostId)
    })
  }),
  { maxIdleTime: "5 minutes" }
)
