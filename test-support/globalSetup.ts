// Starts one embedded PostgreSQL for the whole test run; each test file creates its own database on it.

import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startEmbeddedPostgres } from "@mirrormanager/cluster-node/db"
import { freePort } from "@mirrormanager/cluster-node/node"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

export default async function setup(project: TestProject) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mm-test-pg-"))
  fs.chmodSync(dir, 0o755)
  const server = await startEmbeddedPostgres({
    dataDir: path.join(dir, "postgres"),
    port: await freePort(),
    database: "mirrormanager_test"
  })
  project.provide("databaseUrl", server.url)
  return async () => {
    await server.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
