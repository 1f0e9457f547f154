// The shape shared by tables that everyone signed in may read and only global admins may write.
import type { Forbidden, NotFound, Page, PageRequest, Principal } from "@mirrormanager/domain/registry"
import { Effect } from "effect"
import type { SqlClient } from "effect/sql"
import { type Table, transaction, type WriteError } from "../db/index.ts"
import { requireAdmin } from "./Access.ts"

/** An update input: any subset of the fields. */
export type Patch<A> = { readonly [K in keyof A]?: A[K] | undefined }

export interface AdminCrud<A, C, U> {
  readonly list: (p: Principal, page: PageRequest) => Effect.Effect<Page<A>>
  readonly get: (p: Principal, id: number) => Effect.Effect<A, NotFound>
  readonly create: (p: Principal, input: C) => Effect.Effect<A, Forbidden | WriteError>
  readonly update: (p: Principal, id: number, input: U) => Effect.Effect<A, Forbidden | WriteError>
  readonly remove: (p: Principal, id: number) => Effect.Effect<void, Forbidden | WriteError>
}

/**
 * Reads for every signed-in user, writes for global admins, one transaction per write. `toRow` turns API input
 * into column values (resolving names to ids, checking rules) inside the transaction.
 */
export const adminCrud = <A extends object, C, U>(
  sql: SqlClient.SqlClient,
  table: Table<A>,
  options: {
    readonly plural: string
    readonly createRow?: (input: C) => Effect.Effect<Record<string, unknown>, WriteError>
    readonly updateRow?: (id: number, input: U) => Effect.Effect<Record<string, unknown>, WriteError>
  }
): AdminCrud<A, C, U> => {
  const tx = transaction(sql)
  const createRow = options.createRow ?? ((input: C) => Effect.succeed(input as Record<string, unknown>))
  const updateRow = options.updateRow ?? ((_: number, input: U) => Effect.succeed(input as Record<string, unknown>))
  const name = table.resource
  return {
    list: Effect.fn(`${name}.list`)(function* (_p, page) {
      return yield* table.list(page)
    }),
    get: Effect.fn(`${name}.get`)(function* (_p, id) {
      return yield* table.get(id)
    }),
    create: Effect.fn(`${name}.create`)(function* (p, input) {
      yield* requireAdmin(p, `create ${options.plural}`)
      return yield* tx(Effect.flatMap(createRow(input), table.insert))
    }),
    update: Effect.fn(`${name}.update`)(function* (p, id, input) {
      yield* requireAdmin(p, `change ${options.plural}`)
      return yield* tx(
        Effect.gen(function* () {
          yield* table.get(id)
          return yield* table.update(id, yield* updateRow(id, input))
        })
      )
    }),
    remove: Effect.fn(`${name}.remove`)(function* (p, id) {
      yield* requireAdmin(p, `delete ${options.plural}`)
      yield* tx(table.remove(id))
    })
  }
}
