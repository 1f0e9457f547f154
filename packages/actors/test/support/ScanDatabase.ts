// A fresh database with the master scanner, a scan policy for tests, and the services that make categories.

import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { inject } from "vitest"
import { ChangeLog } from "../../src/db/ChangeLog.ts"
import { MasterScanner } from "../../src/masterscan/MasterScanner.ts"
import {
  defaultMasterScanPolicy,
  MasterScanPolicy,
  type MasterScanPolicyShape
} from "../../src/masterscan/MasterScanPolicy.ts"
import type { FileDetailFound } from "../../src/masterscan/MasterTreeWalker.ts"
import { Accounts } from "../../src/registry/Accounts.ts"
import { Content } from "../../src/registry/Content.ts"
import { freshDatabaseLayer, globalAdminWithToken } from "../../src/testing/index.ts"

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

/** Tests read trees they have just written: no settling time, so a second scan can skip unchanged directories. */
export const scanTestLayer = (policy: Partial<MasterScanPolicyShape> = {}) =>
  MasterScanner.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(ChangeLog.layer, Content.layer, Accounts.layer)),
    Layer.provide(Layer.succeed(MasterScanPolicy, { ...defaultMasterScanPolicy, settleMs: 0, ...policy })),
    Layer.provideMerge(freshDatabaseLayer(inject("databaseUrl")))
  )

const ADMIN_TOKEN = "mm_scan-tests-global-admin"

/** The global admin, as the node's bootstrap makes it. */
export const globalAdmin = globalAdminWithToken(ADMIN_TOKEN)

let counter = 0

/** A product and a category, made by a global admin through the Content service, as the admin API makes them. */
export const createCategory = (options: {
  readonly name: string
  readonly topdir: string
  readonly masterPath: string | null
}) =>
  Effect.gen(function* () {
    const content = yield* Content
    const admin = yield* globalAdmin
    const product = yield* content.products.create(admin, { name: `product-${++counter}-${options.name}` })
    const category = yield* content.categories.create(admin, { ...options, productId: product.id })
    return { id: category.id, productId: product.id }
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

/** The changes the scanner itself recorded (the triggers' row-level changes are the redirector's business). */
export const changesSince = (seq: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<{ seq: number; kind: string; payload: any }>`SELECT seq::float8 AS seq, kind, payload
      FROM changes WHERE seq > ${seq} AND kind IN ('master-scan', 'file-details-expired') ORDER BY seq`
  }).pipe(Effect.orDie)

export const lastChange = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ seq: number }>`SELECT coalesce(max(seq), 0)::float8 AS seq FROM changes`
  return row!.seq
}).pipe(Effect.orDie)
