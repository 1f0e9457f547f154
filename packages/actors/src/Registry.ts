// Every registry service of a node, over one SqlClient.
import { Layer } from "effect"
import { ChangeLog } from "./db/index.ts"
import { Readiness } from "./health/index.ts"
import { Directories, MasterScanner } from "./masterscan/index.ts"
import { Accounts, Content, Hosts, Overrides, Sites } from "./registry/index.ts"

export const RegistryLayer = Layer.mergeAll(
  Accounts.layer,
  Sites.layer,
  Hosts.layer,
  Content.layer,
  Directories.layer,
  Overrides.layer,
  Readiness.layer,
  MasterScanner.layer
).pipe(Layer.provideMerge(ChangeLog.layer))
