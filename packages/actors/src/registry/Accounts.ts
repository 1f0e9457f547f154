// Users and API tokens: authentication of API calls, the bootstrap global admin, token issue and revocation.
import type {
  ApiToken,
  ApiTokenId,
  Forbidden,
  IssuedApiToken,
  NotFound,
  Page,
  PageRequest,
  Principal,
  SiteId,
  User,
  UserId
} from "@mirrormanager/domain/registry"
import { Unprocessable } from "@mirrormanager/domain/registry"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { epoch, makeTable, transaction, type WriteError } from "../db/index.ts"
import { requireAdmin } from "./Access.ts"
import { newApiToken, tokenSha256 } from "./Secrets.ts"

export const BOOTSTRAP_ADMIN = "admin"
const CONFIGURED_TOKEN_NAME = "MM_ADMIN_TOKEN"
const BOOTSTRAP_LOCK = 4242001
/** Held while the set of global admins changes, so two demotions cannot leave none. */
const GLOBAL_ADMINS_LOCK = 4242002

export interface BootstrapResult {
  /** Set only when a global admin token was generated now; it is shown once and stored hashed. */
  readonly generatedToken: Option.Option<Redacted.Redacted<string>>
  readonly source: "configured" | "generated" | "existing"
}

export class Accounts extends Context.Service<
  Accounts,
  {
    readonly authenticate: (token: string) => Effect.Effect<Option.Option<Principal>>
    readonly bootstrap: (configured: Option.Option<Redacted.Redacted<string>>) => Effect.Effect<BootstrapResult>
    readonly me: (principal: Principal) => Effect.Effect<{ user: User; siteIds: ReadonlyArray<SiteId> }, NotFound>
    readonly listUsers: (principal: Principal, page: PageRequest) => Effect.Effect<Page<User>, Forbidden>
    readonly getUser: (principal: Principal, id: UserId) => Effect.Effect<User, Forbidden | NotFound>
    readonly createUser: (
      principal: Principal,
      input: { readonly username: string; readonly admin?: boolean }
    ) => Effect.Effect<User, Forbidden | WriteError>
    readonly updateUser: (
      principal: Principal,
      id: UserId,
      input: { readonly admin?: boolean }
    ) => Effect.Effect<User, Forbidden | WriteError>
    readonly deleteUser: (principal: Principal, id: UserId) => Effect.Effect<void, Forbidden | WriteError>
    readonly listTokens: (
      principal: Principal,
      userId: UserId,
      page: PageRequest
    ) => Effect.Effect<Page<ApiToken>, Forbidden | NotFound>
    readonly issueToken: (
      principal: Principal,
      userId: UserId,
      input: { readonly name?: string }
    ) => Effect.Effect<IssuedApiToken, Forbidden | WriteError>
    readonly revokeToken: (principal: Principal, id: ApiTokenId) => Effect.Effect<ApiToken, Forbidden | NotFound>
  }
>()("actors/Accounts") {
  static readonly layer = Layer.effect(
    Accounts,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const users = yield* makeTable<User>({
        table: "users",
        resource: "user",
        select: { id: "t.id", username: "t.username", admin: "t.admin", createdAt: epoch("t.created_at") },
        columns: { username: "username", admin: "admin" },
        unique: { users_username_key: "a user with this username already exists" }
      })
      const tokens = yield* makeTable<ApiToken>({
        table: "api_tokens",
        resource: "API token",
        select: {
          id: "t.id",
          userId: "t.user_id",
          name: "t.name",
          createdAt: epoch("t.created_at"),
          lastUsedAt: epoch("t.last_used_at"),
          revokedAt: epoch("t.revoked_at")
        },
        columns: { userId: "user_id", name: "name", tokenSha256: "token_sha256" }
      })
      const tx = transaction(sql)

      const siteIdsOf = (userId: number) =>
        sql<{
          siteId: SiteId
        }>`SELECT site_id AS "siteId" FROM site_admins WHERE user_id = ${userId} ORDER BY site_id`.pipe(
          Effect.map((rows) => rows.map((r) => r.siteId)),
          Effect.orDie
        )

      const authenticate = Effect.fn("Accounts.authenticate")(function* (token: string) {
        const rows = yield* sql<{ tokenId: number; userId: UserId; username: string; admin: boolean }>`
          SELECT t.id AS "tokenId", u.id AS "userId", u.username, u.admin
          FROM api_tokens t JOIN users u ON u.id = t.user_id
          WHERE t.token_sha256 = ${tokenSha256(token)} AND t.revoked_at IS NULL`.pipe(Effect.orDie)
        const row = rows[0]
        if (row === undefined) return Option.none<Principal>()
        // Record use at most once a minute, so authentication is not a write per request.
        yield* sql`UPDATE api_tokens SET last_used_at = now() WHERE id = ${row.tokenId}
          AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`.pipe(Effect.orDie)
        const siteIds = yield* siteIdsOf(row.userId)
        return Option.some<Principal>({
          userId: row.userId,
          username: row.username,
          admin: row.admin,
          siteIds: new Set(siteIds)
        })
      })

      const insertToken = (userId: number, name: string, token: string) =>
        tokens.insert({ userId, name, tokenSha256: tokenSha256(token) })

      /** The bootstrap admin is marked in its row, never found by name: a later user called "admin" gains nothing. */
      const bootstrapUser = Effect.gen(function* () {
        const [marked] = yield* sql<{ id: UserId }>`SELECT id FROM users WHERE bootstrap`
        if (marked !== undefined) {
          yield* sql`UPDATE users SET admin = true WHERE id = ${marked.id}`
          return marked.id
        }
        for (const username of [BOOTSTRAP_ADMIN, `${BOOTSTRAP_ADMIN}-bootstrap`]) {
          const [created] = yield* sql<{ id: UserId }>`INSERT INTO users (username, admin, bootstrap)
            VALUES (${username}, true, true) ON CONFLICT (username) DO NOTHING RETURNING id`
          if (created !== undefined) return created.id
        }
        return yield* Effect.die(
          new Error(`cannot create the bootstrap admin: usernames "${BOOTSTRAP_ADMIN}" are taken`)
        )
      })

      const bootstrap = Effect.fn("Accounts.bootstrap")(function* (
        configured: Option.Option<Redacted.Redacted<string>>
      ) {
        return yield* tx(
          Effect.gen(function* () {
            // Several nodes may start at once: serialise bootstrap on an advisory lock.
            yield* sql`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`
            const adminId = yield* bootstrapUser
            if (Option.isSome(configured)) {
              const hash = tokenSha256(Redacted.value(configured.value))
              const [row] = yield* sql<{ id: number; userId: number; revoked: boolean }>`SELECT id,
                user_id AS "userId", revoked_at IS NOT NULL AS revoked FROM api_tokens WHERE token_sha256 = ${hash}`
              if (row !== undefined && row.userId !== adminId) {
                return yield* Effect.die(
                  new Error("MM_ADMIN_TOKEN equals the API token of another user: choose a different value")
                )
              }
              if (row === undefined) {
                // The configured token was changed: the previous one stops working.
                yield* sql`UPDATE api_tokens SET revoked_at = now() WHERE user_id = ${adminId}
                  AND name = ${CONFIGURED_TOKEN_NAME} AND revoked_at IS NULL`
                yield* insertToken(adminId, CONFIGURED_TOKEN_NAME, Redacted.value(configured.value)).pipe(Effect.orDie)
              } else if (row.revoked) {
                // The operator's configuration wins over a revocation through the API.
                yield* sql`UPDATE api_tokens SET revoked_at = NULL WHERE id = ${row.id}`
              }
              return { generatedToken: Option.none(), source: "configured" } as const
            }
            const usable = yield* sql`SELECT 1 FROM api_tokens t JOIN users u ON u.id = t.user_id
              WHERE u.admin AND t.revoked_at IS NULL LIMIT 1`
            if (usable.length > 0) return { generatedToken: Option.none(), source: "existing" } as const
            const token = newApiToken()
            yield* insertToken(adminId, "generated on first start", token).pipe(Effect.orDie)
            return { generatedToken: Option.some(Redacted.make(token)), source: "generated" } as const
          })
        )
      })

      const me = Effect.fn("Accounts.me")(function* (principal: Principal) {
        const user = yield* users.get(principal.userId)
        return { user, siteIds: yield* siteIdsOf(principal.userId) }
      })

      const requireSelfOrAdmin = (principal: Principal, userId: UserId) =>
        principal.admin || principal.userId === userId ? Effect.void : requireAdmin(principal, "manage other users")

      /** Inside the transaction that demotes or deletes a global admin: never the bootstrap admin, never the last. */
      const keepGlobalAdmins = (id: UserId) =>
        Effect.gen(function* () {
          yield* sql`SELECT pg_advisory_xact_lock(${GLOBAL_ADMINS_LOCK})`.pipe(Effect.orDie)
          const [row] = yield* sql<{ bootstrap: boolean; others: number }>`SELECT
            (SELECT bootstrap FROM users WHERE id = ${id}) AS bootstrap,
            (SELECT count(*)::int FROM users WHERE admin AND id <> ${id}) AS others`.pipe(Effect.orDie)
          if (row?.bootstrap === true) {
            return yield* new Unprocessable({
              detail: "the bootstrap admin (MM_ADMIN_TOKEN) cannot be removed or demoted"
            })
          }
          if ((row?.others ?? 0) === 0) {
            return yield* new Unprocessable({ detail: "the last global admin cannot be removed or demoted" })
          }
        })

      return Accounts.of({
        authenticate,
        bootstrap,
        me,
        listUsers: Effect.fn("Accounts.listUsers")(function* (principal, page) {
          yield* requireAdmin(principal, "list users")
          return yield* users.list(page)
        }),
        getUser: Effect.fn("Accounts.getUser")(function* (principal, id) {
          yield* requireSelfOrAdmin(principal, id)
          return yield* users.get(id)
        }),
        createUser: Effect.fn("Accounts.createUser")(function* (principal, input) {
          yield* requireAdmin(principal, "create users")
          return yield* tx(users.insert({ username: input.username, admin: input.admin ?? false }))
        }),
        updateUser: Effect.fn("Accounts.updateUser")(function* (principal, id, input) {
          yield* requireAdmin(principal, "change users")
          return yield* tx(
            Effect.gen(function* () {
              const user = yield* users.get(id)
              if (user.admin && input.admin === false) yield* keepGlobalAdmins(id)
              return yield* users.update(id, input)
            })
          )
        }),
        deleteUser: Effect.fn("Accounts.deleteUser")(function* (principal, id) {
          yield* requireAdmin(principal, "delete users")
          return yield* tx(
            Effect.gen(function* () {
              const user = yield* users.get(id)
              if (user.admin) yield* keepGlobalAdmins(id)
              // Lock the user's sites (in id order, as Sites does one at a time) before counting their admins.
              yield* sql`SELECT id FROM sites WHERE id IN (SELECT site_id FROM site_admins WHERE user_id = ${id})
                ORDER BY id FOR UPDATE`.pipe(Effect.orDie)
              const sole = yield* sql<{ siteId: number }>`SELECT a.site_id AS "siteId" FROM site_admins a
                WHERE a.user_id = ${id}
                AND NOT EXISTS (SELECT 1 FROM site_admins b WHERE b.site_id = a.site_id AND b.user_id <> ${id})`.pipe(
                Effect.orDie
              )
              if (sole.length > 0) {
                return yield* new Unprocessable({
                  detail: `user ${user.username} is the last admin of site(s) ${sole.map((s) => s.siteId).join(", ")}`
                })
              }
              yield* users.remove(id)
            })
          )
        }),
        listTokens: Effect.fn("Accounts.listTokens")(function* (principal, userId, page) {
          yield* requireSelfOrAdmin(principal, userId)
          yield* users.get(userId)
          return yield* tokens.list(page, sql`t.user_id = ${userId}`)
        }),
        issueToken: Effect.fn("Accounts.issueToken")(function* (principal, userId, input) {
          yield* requireAdmin(principal, "issue API tokens")
          return yield* tx(
            Effect.gen(function* () {
              yield* users.get(userId)
              const token = newApiToken()
              const issued = yield* insertToken(userId, input.name ?? "", token)
              return { ...issued, token }
            })
          )
        }),
        revokeToken: Effect.fn("Accounts.revokeToken")(function* (principal, id) {
          const token = yield* tokens.get(id)
          yield* requireSelfOrAdmin(principal, token.userId)
          yield* sql`UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = ${id}`.pipe(Effect.orDie)
          return yield* tokens.get(id)
        })
      })
    })
  )
}
