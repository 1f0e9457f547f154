// The worker thread of CheckinDecoder: reads check-in request bodies (XML, base64, bz2, JSON, the payload's checks)
// away from the event loop that answers requests. Each message is a body; each reply a CheckinCallMessage.
import { setPriority } from "node:os"
import { parentPort, workerData } from "node:worker_threads"
import { readCheckinCall, toCheckinCallMessage } from "./CheckinCall.ts"
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

port.on("message", (body: string) => {
  port.postMessage(toCheckinCallMessage(readCheckinCall(body, limits)))
})
