// A fresh database with the registry services and a master-scan policy for tests; categories made by SQL.

import { ChangeLog } from "@mirrormanager/actors/ChangeLog"
import { freshDatabaseLayer } from "@mirrormanager/actors/Database"
import { MasterScanner } from "@mirrormanager/actors/MasterScanner"
import {
  defaultMasterScanPolicy,
  MasterScanPolicy,
  type MasterScanPolicyShape
} from "@mirrormanager/actors/MasterScanPolicy"
import type { FileDetailFound } from "@mirrormanager/actors/MasterTreeWalker"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

/** Tests read trees they have just written: no settling time, so a second scan can skip unchanged directories. */
export const scanTestLayer = (policy: Partial<MasterScanPolicyShape> = {}) =>
  MasterScanner.layer.pipe(
    Layer.provideMerge(ChangeLog.layer),
    Layer.provide(Layer.succeed(MasterScanPolicy, { ...defaultMasterScanPolicy, settleMs: 0, ...policy })),
    Layer.provideMerge(freshDatabaseLayer(inject("databaseUrl")))
  )

let counter = 0

/** A product and a category whose top directory is `topdir` and whose master tree is at `masterPath`. */
export const createCategory = (options: {
  readonly name: string
  readonly topdir: string
  readonly masterPath: string | null
  readonly product?: string
}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const productName = options.product ?? `product-${++counter}-${options.name}`
    const [product] = yield* sql<{ id: number }>`INSERT INTO products (name) VALUES (${productName})
      ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`
    const [topdir] = yield* sql<{ id: number }>`INSERT INTO directories (name) VALUES (${options.topdir})
      ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`
    const [category] = yield* sql<{ id: number }>`INSERT INTO categories (name, product_id, topdir_id, master_path)
      VALUES (${options.name}, ${product!.id}, ${topdir!.id}, ${options.masterPath}) RETURNING id`
    return { id: category!.id, productId: product!.id }
  }).pipe(Effect.orDie)

export interface DirectoryRow {
  readonly name: string
  readonly files: ReadonlyArray<{ name: string; size: number; timestamp: number }>
  readonly readable: boolean
  readonly ctime: number
}

export const directoriesOf = (categoryId: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<DirectoryRow>`SELECT d.name, d.files, d.readable, d.ctime::float8 AS ctime FROM directories d
      JOIN category_directories cd ON cd.directory_id = d.id WHERE cd.category_id = ${categoryId} ORDER BY d.name`
  }).pipe(Effect.orDie)

export const repositoriesOf = (categoryId: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<{ name: string; prefix: string | null; arch: string; version: string | null; isTest: boolean }>`
      SELECT r.name, r.prefix, a.name AS arch, v.name AS version, coalesce(v.is_test, false) AS "isTest"
      FROM repositories r JOIN arches a ON a.id = r.arch_id LEFT JOIN versions v ON v.id = r.version_id
      WHERE r.category_id = ${categoryId} ORDER BY r.name`
  }).pipe(Effect.orDie)

/** A file detail as the scan found it, with the name of its directory. */
export interface FileDetailRow extends FileDetailFound {
  readonly directory: string
}

export const fileDetailsUnder = (prefix: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<FileDetailRow>`SELECT d.name AS directory, f.filename, f.timestamp::float8 AS timestamp,
        f.size::float8 AS size, f.md5, f.sha1, f.sha256, f.sha512
      FROM file_details f JOIN directories d ON d.id = f.directory_id
      WHERE d.name LIKE ${`${prefix}%`} ORDER BY d.name, f.filename, f.timestamp DESC`
  }).pipe(Effect.orDie)

export const changesSince = (seq: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<{ seq: number; kind: string; payload: any }>`SELECT seq::float8 AS seq, kind, payload
      FROM changes WHERE seq > ${seq} ORDER BY seq`
  }).pipe(Effect.orDie)

export const lastChange = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ seq: number }>`SELECT coalesce(max(seq), 0)::float8 AS seq FROM changes`
  return row!.seq
}).pipe(Effect.orDie)
