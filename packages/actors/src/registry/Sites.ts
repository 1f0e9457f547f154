// Sites (organisations running mirrors) and their admins.
import type {
  CreateSite,
  Page,
  PageRequest,
  Principal,
  Site,
  SiteAdmin,
  SiteId,
  UpdateSite,
  UserId
} from "@mirrormanager/domain/registry"
import { Conflict, type Forbidden, NotFound, Unprocessable } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { epoch, makeTable, transaction, type WriteError } from "../db/index.ts"
import { adminStateOfHosts, guardAdminFields, keepAdminState, requireSiteAdmin } from "./Access.ts"
import { RegistryPolicy } from "./RegistryPolicy.ts"
import { hashPassword } from "./Secrets.ts"

const SITE_DEFAULTS = { adminActive: true } as const

export class Sites extends Context.Service<
  Sites,
  {
    readonly list: (principal: Principal, page: PageRequest) => Effect.Effect<Page<Site>>
    readonly get: (principal: Principal, id: SiteId) => Effect.Effect<Site, Forbidden | NotFound>
    readonly create: (principal: Principal, input: CreateSite) => Effect.Effect<Site, Forbidden | WriteError>
    readonly update: (
      principal: Principal,
      id: SiteId,
      input: UpdateSite
    ) => Effect.Effect<Site, Forbidden | WriteError>
    readonly remove: (principal: Principal, id: SiteId) => Effect.Effect<void, Forbidden | WriteError>
    readonly listAdmins: (
      principal: Principal,
      id: SiteId,
      page: PageRequest
    ) => Effect.Effect<Page<SiteAdmin>, Forbidden | NotFound>
    readonly addAdmin: (
      principal: Principal,
      id: SiteId,
      username: string
    ) => Effect.Effect<SiteAdmin, Forbidden | WriteError>
    readonly removeAdmin: (
      principal: Principal,
      id: SiteId,
      userId: UserId
    ) => Effect.Effect<void, Forbidden | WriteError>
  }
>()("actors/Sites") {
  static readonly layer = Layer.effect(
    Sites,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const policy = yield* RegistryPolicy
      const sites = yield* makeTable<Site>({
        table: "sites",
        resource: "site",
        select: {
          id: "t.id",
          name: "t.name",
          orgUrl: "t.org_url",
          private: "t.private",
          adminActive: "t.admin_active",
          userActive: "t.user_active",
          emailOnAdd: "t.email_on_add",
          emailOnDrop: "t.email_on_drop",
          createdBy: "t.created_by",
          createdAt: epoch("t.created_at")
        },
        columns: {
          name: "name",
          passwordHash: "password_hash",
          orgUrl: "org_url",
          private: "private",
          adminActive: "admin_active",
          userActive: "user_active",
          emailOnAdd: "email_on_add",
          emailOnDrop: "email_on_drop",
          createdBy: "created_by"
        },
        unique: { sites_name_key: "a site with this name already exists" }
      })
      const siteAdmins = yield* makeTable<SiteAdmin>({
        table: "site_admins",
        resource: "site admin",
        select: { siteId: "t.site_id", userId: "t.user_id", username: "u.username" },
        joins: "JOIN users u ON u.id = t.user_id",
        columns: {},
        orderBy: "u.username"
      })
      const tx = transaction(sql)

      const admins = (id: SiteId) =>
        sql<SiteAdmin>`SELECT a.site_id AS "siteId", a.user_id AS "userId", u.username
          FROM site_admins a JOIN users u ON u.id = a.user_id WHERE a.site_id = ${id} ORDER BY u.username`.pipe(
          Effect.orDie
        )

      const withPassword = (input: UpdateSite) =>
        input.password === undefined
          ? Effect.succeed(input)
          : Effect.map(hashPassword(input.password), (passwordHash) => ({
              ...input,
              password: undefined,
              passwordHash
            }))

      const get = Effect.fn("Sites.get")(function* (principal: Principal, id: SiteId) {
        // Permission first: whether another organisation's site id exists is not the caller's business.
        yield* requireSiteAdmin(principal, id)
        return yield* sites.get(id)
      })

      return Sites.of({
        list: Effect.fn("Sites.list")(function* (principal, page) {
          if (principal.admin) return yield* sites.list(page)
          return yield* sites.list(
            page,
            sql`t.id IN (SELECT site_id FROM site_admins WHERE user_id = ${principal.userId})`
          )
        }),
        get,
        create: Effect.fn("Sites.create")(function* (principal, input) {
          const values = yield* withPassword(yield* guardAdminFields(principal, input, SITE_DEFAULTS, ["adminActive"]))
          return yield* tx(
            Effect.gen(function* () {
              if (!principal.admin) {
                yield* sql`SELECT id FROM users WHERE id = ${principal.userId} FOR UPDATE`.pipe(Effect.orDie)
                const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM site_admins
                  WHERE user_id = ${principal.userId}`.pipe(Effect.orDie)
                if ((row?.n ?? 0) >= policy.maxSitesPerUser) {
                  return yield* new Unprocessable({ detail: `at most ${policy.maxSitesPerUser} sites per user` })
                }
              }
              const site = yield* sites.insert({ ...values, createdBy: principal.username })
              yield* sql`INSERT INTO site_admins (site_id, user_id) VALUES (${site.id}, ${principal.userId})`.pipe(
                Effect.orDie
              )
              return site
            })
          )
        }),
        update: Effect.fn("Sites.update")(function* (principal, id, input) {
          const current = yield* get(principal, id)
          const values = yield* withPassword(yield* guardAdminFields(principal, input, current, ["adminActive"]))
          return yield* tx(
            Effect.gen(function* () {
              if (input.private !== undefined && input.private !== current.private) {
                // docs/registry.md#derived-rules: a change of privacy means every directory of its hosts is verified
                // again.
                // Its hosts' rows first (in id order), as their entities take them: no deadlock with a check-in, and
                // no crawl writes bits back under the reset.
                yield* sql`SELECT id FROM hosts WHERE site_id = ${id} ORDER BY id FOR UPDATE`.pipe(Effect.orDie)
                yield* sql`UPDATE host_category_dirs SET up2date = false WHERE host_category_id IN (
                  SELECT hc.id FROM host_categories hc JOIN hosts h ON h.id = hc.host_id WHERE h.site_id = ${id})`.pipe(
                  Effect.orDie
                )
                yield* sql`UPDATE host_category_up2date SET bits = '\\x', changed_at = now() WHERE bits <> '\\x'
                  AND host_category_id IN (SELECT hc.id FROM host_categories hc JOIN hosts h ON h.id = hc.host_id
                    WHERE h.site_id = ${id})`.pipe(Effect.orDie)
              }
              return yield* sites.update(id, values)
            })
          )
        }),
        remove: Effect.fn("Sites.remove")(function* (principal, id) {
          const site = yield* get(principal, id)
          yield* tx(
            Effect.gen(function* () {
              const reasons = yield* adminStateOfHosts(sql, sql`h.site_id = ${id}`)
              if (!site.adminActive) reasons.unshift("been disabled")
              yield* keepAdminState(principal, `site ${id}`, reasons)
              yield* sites.remove(id)
            })
          )
        }),
        listAdmins: Effect.fn("Sites.listAdmins")(function* (principal, id, page) {
          yield* get(principal, id)
          return yield* siteAdmins.list(page, sql`t.site_id = ${id}`)
        }),
        addAdmin: Effect.fn("Sites.addAdmin")(function* (principal, id, username) {
          yield* get(principal, id)
          return yield* tx(
            Effect.gen(function* () {
              const [user] = yield* sql<{ id: UserId }>`SELECT id FROM users WHERE username = ${username}`.pipe(
                Effect.orDie
              )
              if (user === undefined) {
                return yield* new Unprocessable({ detail: `no user named "${username}"; a global admin creates users` })
              }
              const inserted = yield* sql`INSERT INTO site_admins (site_id, user_id) VALUES (${id}, ${user.id})
                ON CONFLICT DO NOTHING RETURNING user_id`.pipe(Effect.orDie)
              if (inserted.length === 0) {
                return yield* new Conflict({ detail: `${username} is already an admin of site ${id}` })
              }
              return { siteId: id, userId: user.id, username }
            })
          )
        }),
        removeAdmin: Effect.fn("Sites.removeAdmin")(function* (principal, id, userId) {
          yield* get(principal, id)
          yield* tx(
            Effect.gen(function* () {
              // Two admins removing each other at once: the row lock makes the second see the first's removal.
              yield* sql`SELECT id FROM sites WHERE id = ${id} FOR UPDATE`.pipe(Effect.orDie)
              const current = yield* admins(id)
              if (!current.some((a) => a.userId === userId)) {
                return yield* new NotFound({
                  resource: "site admin",
                  detail: `user ${userId} is not an admin of site ${id}`
                })
              }
              if (current.length === 1) {
                return yield* new Unprocessable({ detail: "the last admin of a site cannot be removed" })
              }
              yield* sql`DELETE FROM site_admins WHERE site_id = ${id} AND user_id = ${userId}`.pipe(Effect.orDie)
            })
          )
        })
      })
    })
  )
}
