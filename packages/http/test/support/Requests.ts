// Shared by the API tests: calling the test node, reading problem documents, proving nothing was written.
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { type RequestOptions, TestNode } from "./TestNode.ts"

export const show = (reply: { readonly status: number; readonly text: string }) =>
  `${reply.status} ${reply.text.slice(0, 300)}`

/** Everything a problem document says: its detail and each schema error with its path. */
export const problemText = (body: any): string => {
  if (body === null || typeof body !== "object") return ""
  const parts: Array<string> = []
  if (typeof body.detail === "string") parts.push(body.detail)
  if (Array.isArray(body.errors)) {
    for (const e of body.errors) parts.push(`${Array.isArray(e?.path) ? e.path.join(".") : ""}: ${e?.message}`)
  }
  return parts.join("\n")
}

export const request = (method: string, path: string, options: RequestOptions = {}) =>
  Effect.gen(function* () {
    const node = yield* TestNode
    return yield* node.request(method, path, options)
  })

/** Sends a request that must succeed with `status`; returns the parsed body. */
export const expectStatus = (method: string, path: string, status: number, options: RequestOptions = {}) =>
  Effect.map(request(method, path, options), (reply) => {
    assert.strictEqual(reply.status, status, `${method} ${path}: ${show(reply)}`)
    return reply.body
  })

/** Row digests of every registry table (token use times left out), to prove a refused request wrote nothing. */
const TABLES: Record<string, string> = {
  users: "users",
  api_tokens: "(SELECT id, user_id, name, token_sha256, revoked_at FROM api_tokens)",
  sites: "sites",
  site_admins: "site_admins",
  hosts: "hosts",
  products: "products",
  versions: "versions",
  arches: "arches",
  directories: "directories",
  categories: "categories",
  category_directories: "category_directories",
  repositories: "repositories",
  repository_redirects: "repository_redirects",
  host_categories: "host_categories",
  host_category_urls: "host_category_urls",
  host_category_dirs: "host_category_dirs",
  host_category_claims: "host_category_claims",
  host_netblocks: "host_netblocks",
  host_peer_asns: "host_peer_asns",
  host_countries_allowed: "host_countries_allowed",
  netblock_countries: "netblock_countries",
  country_continent_redirects: "country_continent_redirects",
  embargoed_countries: "embargoed_countries"
}

export const snapshot = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const digests: Record<string, string> = {}
  for (const [name, from] of Object.entries(TABLES)) {
    const [row] = yield* sql.unsafe<{ digest: string }>(
      `SELECT count(*)::int || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS digest
       FROM ${from} t`
    )
    digests[name] = row!.digest
  }
  return digests
}).pipe(Effect.orDie)

export const changedTables = (before: Record<string, string>, after: Record<string, string>) =>
  Object.keys(before).filter((table) => before[table] !== after[table])
