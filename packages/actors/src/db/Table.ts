// Generic SQL access to one registry table: paginated lists, reads, writes, and constraint errors as API problems.

import type { Page, PageRequest } from "@mirrormanager/domain/registry"
import { Conflict, NotFound, Unprocessable } from "@mirrormanager/domain/registry"
import { Effect, Option } from "effect"
import { SqlClient, type SqlError, type Statement } from "effect/sql"

export interface TableSpec<A extends object> {
  readonly table: string
  /** Singular name used in messages: "host", "site admin". */
  readonly resource: string
  /** Output field -> SQL expression over the table aliased as `t`. */
  readonly select: { readonly [K in keyof A]: string }
  /** Extra joins after `FROM <table> t`. */
  readonly joins?: string
  /** Input field -> column. */
  readonly columns: Readonly<Record<string, string>>
  /** Unique constraint name -> message when it is violated. */
  readonly unique?: Readonly<Record<string, string>>
  readonly orderBy?: string
}

export type WriteError = Conflict | NotFound | Unprocessable

export const DEFAULT_PAGE_SIZE = 100

/** One request, one transaction: a failure rolls everything back; a database failure is a defect (500). */
export const transaction =
  (sql: SqlClient.SqlClient) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    sql.withTransaction(effect).pipe(Effect.catchTag("SqlError", Effect.die))

/** "Key (product_id)=(99) is not present in table "products"." -> "product_id 99 does not exist in products" */
const missingReference = (detail: string | undefined) => {
  const match = /Key \((.+)\)=\((.*)\) is not present in table "(.+)"/.exec(detail ?? "")
  return match === null
    ? (detail ?? "a referenced record does not exist")
    : `${match[3]} has no id ${match[2]} (${match[1]})`
}

/** "Key (id)=(1) is still referenced from table "categories"." -> "it is still used by categories" */
const stillReferenced = (detail: string | undefined) => {
  const match = /is still referenced from table "(.+)"/.exec(detail ?? "")
  return match === null ? (detail ?? "it is still referenced") : `it is still used by ${match[1].replace(/_/g, " ")}`
}

interface PgErrorFields {
  readonly code?: string
  readonly constraint?: string
  readonly detail?: string
  readonly message?: string
}

const pgError = (error: SqlError.SqlError): PgErrorFields => (error.reason.cause ?? {}) as PgErrorFields

/** Maps constraint violations to API problems; anything else (connection loss, bugs) is a defect. */
export const constraintErrors =
  (resource: string, unique: Readonly<Record<string, string>> = {}, onDelete = false) =>
  (error: SqlError.SqlError): Effect.Effect<never, WriteError> => {
    const pg = pgError(error)
    switch (pg.code) {
      case "23505":
        return Effect.fail(
          new Conflict({ detail: unique[pg.constraint ?? ""] ?? `${resource} already exists (${pg.detail ?? ""})` })
        )
      case "23503":
        return Effect.fail(
          onDelete
            ? new Conflict({ detail: `${resource} cannot be deleted: ${stillReferenced(pg.detail)}` })
            : new Unprocessable({ detail: missingReference(pg.detail) })
        )
      case "23514": // check_violation
      case "23502": // not_null_violation
      case "22001": // string_data_right_truncation
      case "22003": // numeric_value_out_of_range
      case "22021": // character_not_in_repertoire (NUL in text)
      case "22P05": // untranslatable_character
        return Effect.fail(
          new Unprocessable({ detail: `${resource} was refused by the database: ${pg.message ?? error.message}` })
        )
      default:
        return Effect.die(error)
    }
  }

export const makeTable = <A extends object>(spec: TableSpec<A>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const selectList = sql.literal(
      Object.entries(spec.select)
        .map(([field, expr]) => `${expr} AS "${field}"`)
        .join(", ")
    )
    const from = sql.literal(`${spec.table} t ${spec.joins ?? ""}`)
    const orderBy = sql.literal(spec.orderBy ?? "t.id")
    const table = sql.literal(spec.table)
    const onWrite = constraintErrors(spec.resource, spec.unique)
    const onDelete = constraintErrors(spec.resource, spec.unique, true)

    const toColumns = (values: Readonly<Record<string, unknown>>): Record<string, unknown> => {
      const row: Record<string, unknown> = {}
      for (const [field, value] of Object.entries(values)) {
        const column = spec.columns[field]
        if (column !== undefined && value !== undefined) row[column] = value
      }
      return row
    }

    const list = (page: PageRequest, where: Statement.Fragment = sql`true`) =>
      Effect.gen(function* () {
        const pageNo = page.page ?? 1
        const pageSize = page.pageSize ?? DEFAULT_PAGE_SIZE
        const [count] = yield* sql<{ total: number }>`SELECT count(*)::int AS total FROM ${from} WHERE ${where}`
        const items = yield* sql<A>`SELECT ${selectList} FROM ${from} WHERE ${where}
          ORDER BY ${orderBy} LIMIT ${pageSize} OFFSET ${(pageNo - 1) * pageSize}`
        return { items, page: pageNo, pageSize, total: count?.total ?? 0 } satisfies Page<A>
      }).pipe(Effect.orDie)

    const find = (id: number) =>
      sql<A>`SELECT ${selectList} FROM ${from} WHERE t.id = ${id}`.pipe(
        Effect.map((rows) => Option.fromNullishOr(rows[0])),
        Effect.orDie
      )

    const get = (id: number) =>
      Effect.flatMap(find(id), (row) =>
        Option.isSome(row)
          ? Effect.succeed(row.value)
          : Effect.fail(new NotFound({ resource: spec.resource, detail: `${spec.resource} ${id} does not exist` }))
      )

    const insert = (values: Readonly<Record<string, unknown>>) =>
      sql<{ id: number }>`INSERT INTO ${table} ${sql.insert(toColumns(values))} RETURNING id`.pipe(
        Effect.catchTag("SqlError", onWrite),
        Effect.flatMap((rows) => get(rows[0]!.id)),
        Effect.catchTag("NotFound", Effect.die)
      )

    const update = (id: number, values: Readonly<Record<string, unknown>>) => {
      const row = toColumns(values)
      const write =
        Object.keys(row).length === 0
          ? Effect.void
          : sql`UPDATE ${table} SET ${sql.update(row)} WHERE id = ${id}`.pipe(Effect.catchTag("SqlError", onWrite))
      return Effect.andThen(write, get(id))
    }

    const remove = (id: number) =>
      sql<{ id: number }>`DELETE FROM ${table} WHERE id = ${id} RETURNING id`.pipe(
        Effect.catchTag("SqlError", onDelete),
        Effect.flatMap((rows) =>
          rows.length === 0
            ? Effect.fail(new NotFound({ resource: spec.resource, detail: `${spec.resource} ${id} does not exist` }))
            : Effect.void
        )
      )

    return { resource: spec.resource, list, find, get, insert, update, remove }
  })

export type Table<A extends object> = Effect.Success<ReturnType<typeof makeTable<A>>>

/** Epoch seconds of a timestamptz column, as a JSON number. */
export const epoch = (column: string) => `floor(extract(epoch FROM ${column}))::float8`
