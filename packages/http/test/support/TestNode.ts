// A node's admin API on a loopback port over a fresh database, with a known global admin token, for tests.

import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { RegistryLayer } from "@mirrormanager/actors"
import { Checkins } from "@mirrormanager/actors/checkin"
import { CrawlerStateLayer } from "@mirrormanager/actors/crawler"
import { HostEntityLayer } from "@mirrormanager/actors/host"
import { Accounts, RegistryPolicy, type RegistryPolicyShape } from "@mirrormanager/actors/registry"
import { freshDatabaseLayer, SingleRunnerLayer } from "@mirrormanager/actors/testing"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import type { SqlClient } from "effect/sql"
import { inject } from "vitest"
import { AdminApiRoutes } from "../../src/admin/AdminApi.ts"

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

export const ADMIN_TOKEN = "mm_test-global-admin-token-0123456789"

export interface Reply {
  readonly status: number
  readonly body: any
  readonly text: string
  readonly headers: Headers
}

export interface RequestOptions {
  /** `null` sends no Authorization header; default: the global admin token. */
  readonly token?: string | null
  readonly body?: unknown
  readonly rawBody?: string
  readonly headers?: Record<string, string>
}

export class TestNode extends Context.Service<
  TestNode,
  {
    readonly baseUrl: string
    readonly request: (method: string, path: string, options?: RequestOptions) => Effect.Effect<Reply>
  }
>()("test/TestNode") {
  /** The node's base URL and requests to it, on the HTTP server it is given. */
  static readonly layer = Layer.effect(
    TestNode,
    Effect.gen(function* () {
      const server = yield* HttpServer.HttpServer
      const address = server.address
      if (address._tag === "UnixPathAddress") return yield* Effect.die("expected a TCP address")
      const baseUrl = `http://127.0.0.1:${address.port}`
      const request = (method: string, path: string, options: RequestOptions = {}) =>
        Effect.promise(async () => {
          const headers: Record<string, string> = { ...options.headers }
          const token = options.token === undefined ? ADMIN_TOKEN : options.token
          if (token !== null) headers.authorization = `Bearer ${token}`
          let body: string | undefined = options.rawBody
          if (options.body !== undefined) body = JSON.stringify(options.body)
          if (body !== undefined) headers["content-type"] ??= "application/json"
          const response = await fetch(`${baseUrl}${path}`, {
            method,
            headers,
            ...(body === undefined ? {} : { body })
          })
          const text = await response.text()
          let parsed: unknown
          try {
            parsed = text.length > 0 ? JSON.parse(text) : undefined
          } catch {
            parsed = undefined
          }
          return { status: response.status, body: parsed, text, headers: response.headers }
        })
      return TestNode.of({ baseUrl, request })
    })
  )
}

const Bootstrap = Layer.effectDiscard(
  Effect.gen(function* () {
    const accounts = yield* Accounts
    yield* accounts.bootstrap(Option.some(Redacted.make(ADMIN_TOKEN)))
  })
)

/** The entities of a node on one runner of the cluster in this process, its storage in the test database. */
const EntitiesLayer = Layer.mergeAll(HostEntityLayer, Checkins.layer()).pipe(
  Layer.provide(CrawlerStateLayer),
  Layer.provideMerge(SingleRunnerLayer)
)

/** Services of a node (registry + HTTP) over a fresh database; SqlClient stays available to assert on rows. */
export const testNodeLayer = (options: { readonly policy?: Partial<RegistryPolicyShape> } = {}) =>
  TestNode.layer.pipe(
    Layer.provideMerge(HttpRouter.serve(AdminApiRoutes, { disableLogger: true, disableListenLog: true })),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(Bootstrap),
    Layer.provideMerge(EntitiesLayer),
    Layer.provideMerge(RegistryLayer),
    Layer.provide(
      Layer.effect(
        RegistryPolicy,
        Effect.gen(function* () {
          return { ...(yield* RegistryPolicy), ...options.policy }
        })
      )
    ),
    Layer.provideMerge(freshDatabaseLayer(inject("databaseUrl")))
  )

export type TestServices = TestNode | SqlClient.SqlClient
