// The worker thread of CheckinDecoder: reads check-in request bodies (XML, base64, bz2, JSON, the payload's checks)
// away from the event loop that answers requests. Each message is a body; each reply a CheckinCallMessage.
import { parentPort, workerData } from "node:worker_threads"
import { readCheckinCall, toCheckinCallMessage } from "./CheckinCall.ts"
import type { CheckinPayloadLimits } from "./CheckinPayload.ts"

const port = parentPort
if (port === null) throw new Error("CheckinDecodeWorker.ts runs as a worker thread of CheckinDecoder")
const limits = (workerData as { readonly limits: CheckinPayloadLimits }).limits

port.on("message", (body: string) => {
  port.postMessage(toCheckinCallMessage(readCheckinCall(body, limits)))
})
