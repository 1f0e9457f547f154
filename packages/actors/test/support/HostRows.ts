// Registry rows for the Host entity's tests, written straight into the test database: a category over given
// directories, and a site with one public host carrying it.
import type { HostCategoryId, HostId } from "@mirrormanager/domain/registry"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** Category `c<n>` (top directory `topId`) over `directoryIds`; site `s<n>` with host `h<n>` (SE) carrying it. */
export const hostCarrying = (n: number, topId: number, directoryIds: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [product] = yield* sql<{ id: number }>`INSERT INTO products (name) VALUES (${`p${n}`}) RETURNING id`
    const [category] = yield* sql<{ id: number }>`INSERT INTO categories (name, product_id, topdir_id)
      VALUES (${`c${n}`}, ${product!.id}, ${topId}) RETURNING id`
    yield* sql`INSERT INTO category_directories (category_id, directory_id)
      SELECT ${category!.id}, value::int FROM jsonb_array_elements_text(${JSON.stringify([topId, ...directoryIds])}::jsonb)`
    const [site] = yield* sql<{ id: number }>`INSERT INTO sites (name, password_hash) VALUES (${`s${n}`}, 'x')
      RETURNING id`
    const [host] = yield* sql<{ id: HostId }>`INSERT INTO hosts (site_id, name, country)
      VALUES (${site!.id}, ${`h${n}`}, 'SE') RETURNING id`
    const [hc] = yield* sql<{ id: HostCategoryId }>`INSERT INTO host_categories (host_id, category_id)
      VALUES (${host!.id}, ${category!.id}) RETURNING id`
    return { hostId: host!.id, hostCategoryId: hc!.id }
  })
