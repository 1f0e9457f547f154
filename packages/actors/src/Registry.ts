// Every registry service of a node, over one SqlClient.
import { Layer } from "effect"
import { Accounts } from "./Accounts.ts"
import { ChangeLog } from "./ChangeLog.ts"
import { Content } from "./Content.ts"
import { Directories } from "./Directories.ts"
import { Hosts } from "./Hosts.ts"
import { MasterScanner } from "./MasterScanner.ts"
import { Overrides } from "./Overrides.ts"
import { Readiness } from "./Readiness.ts"
import { Sites } from "./Sites.ts"

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
