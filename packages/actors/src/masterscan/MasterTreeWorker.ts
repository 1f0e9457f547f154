// Worker thread entry: walks one master tree (MasterTreeWalker.ts), posting progress and batches of directories as
// it goes, then the result.
import { parentPort, workerData } from "node:worker_threads"
import { type WalkOptions, walkMasterTree } from "./MasterTreeWalker.ts"

const port = parentPort
if (port !== null) {
  const result = walkMasterTree(
    workerData as WalkOptions,
    (progress) => port.postMessage({ _tag: "Progress", progress }),
    (directories) => port.postMessage({ _tag: "Directories", directories })
  )
  port.postMessage({ _tag: "Done", result })
}
