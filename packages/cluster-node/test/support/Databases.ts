// The databases of a test file that runs nodes as processes: each a fresh one on the shared test server, all dropped
// after the file's tests.
import { freshDatabases } from "@mirrormanager/actors/testing"
import { afterAll, inject } from "vitest"

const databases = freshDatabases(inject("databaseUrl"))
afterAll(databases.dropAll)

/** A new, empty database on the test server (a node or a command migrates it itself); its URL. */
export const newDatabase = databases.create
