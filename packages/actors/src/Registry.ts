// Every database service of a node (the registry, the scanned tree, host events, propagation), over one SqlClient.
import { Layer } from "effect"
import { Propagation } from "./crawler/index.ts"
import { ChangeLog } from "./db/index.ts"
import { HostEvents } from "./events/index.ts"
import { Readiness } from "./health/index.ts"
import { Directories, MasterScanner } from "./masterscan/index.ts"
import { HostStatuses, PublicMirrors } from "./publiclist/index.ts"
import { Accounts, Content, Hosts, Overrides, Sites } from "./registry/index.ts"

export const RegistryLayer = Layer.mergeAll(
  Accounts.layer,
  Sites.layer,
  Hosts.layer,
  Content.layer,
  Directories.layer,
  Overrides.layer,
  Readiness.layer,
  MasterScanner.layer,
  HostEvents.layer,
  Propagation.layer,
  PublicMirrors.layer,
  HostStatuses.layer
).pipe(Layer.provideMerge(ChangeLog.layer))
