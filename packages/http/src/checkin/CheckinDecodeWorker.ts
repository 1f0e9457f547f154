// The worker thread of CheckinDecoder: reads check-in request bodies (XML, base64, bz2, JSON, the payload's checks)
// and looks their paths up among the categories' directories, away from the event loop that answers requests. A
// message is a body (answered with a CheckinCallMessage) or the categories' directory numbers to use from then on.
import { setPriority } from "node:os"
import { parentPort, workerData } from "node:worker_threads"
import { DirectoryNumbering } from "@mirrormanager/actors/numbering"
import { type CategoryNumbering, numberCheckinCall, readCheckinCall } from "./CheckinCall.ts"
import type { DecodeWorkerMessage } from "./CheckinDecoder.ts"
import type { CheckinPayloadLimits } from "./CheckinPayload.ts"

const port = parentPort
if (port === null) throw new Error("CheckinDecodeWorker.ts runs as a worker thread of CheckinDecoder")
const { limits, nice } = workerData as { readonly limits: CheckinPayloadLimits; readonly nice: number }

// On Linux a thread has a nice value of its own (pid 0: the calling thread): when the cores are busy, the event loop
// that answers requests and refreshes shard locks runs before the reading of check-ins. Elsewhere pid 0 would be the
// whole process, which keeps its priority.
if (process.platform === "linux" && nice > 0) {
  try {
    setPriority(0, nice)
  } catch {
    // Not allowed here (a container's policy): reading at the normal priority is still correct.
  }
}

let categories = new Map<string, CategoryNumbering>()

port.on("message", (message: DecodeWorkerMessage) => {
  if (message._tag === "Numbers") {
    // The tables are shared memory: nothing is copied, each gets a scratch buffer of this thread.
    categories = new Map(
      message.categories.map((c) => [c.key, { categoryId: c.categoryId, numbering: new DirectoryNumbering(c.numbers) }])
    )
    return
  }
  const { message: reply, transfer } = numberCheckinCall(readCheckinCall(message.body, limits), categories)
  port.postMessage(reply, [...transfer])
})
