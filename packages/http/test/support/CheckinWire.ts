// Check-in requests exactly as the upstream report_mirror client makes them (test-support/checkin_wire.py: Python's
// own json, bz2, base64 and xmlrpc.client), and replies as that client reads them.
import { spawnSync } from "node:child_process"
import * as path from "node:path"

const SCRIPT = path.resolve(import.meta.dirname, "../../../../test-support/checkin_wire.py")

const wire = (command: string, input: string | Buffer): Buffer => {
  const run = spawnSync("python3", [SCRIPT, command], { input, maxBuffer: 256 * 1024 * 1024 })
  if (run.status !== 0) throw new Error(`python3 checkin_wire.py ${command} failed (${run.status}): ${run.stderr}`)
  return run.stdout
}

/** The payload of a config (a JSON object as the client builds it): URL-safe base64 of bz2 of `json.dumps`. */
export const checkinPayload = (config: unknown): string => wire("payload", JSON.stringify(config)).toString("ascii")

/** URL-safe base64 of bz2 of any bytes (for payloads no client would send). */
export const bz2Payload = (bytes: Buffer): string => wire("bz2", bytes).toString("ascii")

/** An XML-RPC method call body, as xmlrpc.client writes it. */
export const methodCallBody = (method: string, params: ReadonlyArray<unknown>): string =>
  wire("call", JSON.stringify({ method, params })).toString("utf8")

/** What xmlrpc.client makes of a response body: `{ value }` or `{ fault: [code, string] }`. */
export const readResponseAsPython = (body: string): { value?: unknown; fault?: [number, string] } =>
  JSON.parse(wire("response", body).toString("utf8"))
