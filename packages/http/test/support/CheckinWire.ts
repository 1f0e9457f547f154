// Check-in requests exactly as the upstream report_mirror client makes them: Python's own json, bz2, base64 and
// xmlrpc.client (the client runs on Python's standard library alone), driven through python3.
import { spawnSync } from "node:child_process"

const python = (script: string, input: string | Buffer): Buffer => {
  const run = spawnSync("python3", ["-c", script], { input, maxBuffer: 256 * 1024 * 1024 })
  if (run.status !== 0) throw new Error(`python3 failed (${run.status}): ${run.stderr?.toString()}`)
  return run.stdout
}

/** The payload of a config (a JSON object as the client builds it): URL-safe base64 of bz2 of `json.dumps`. */
export const checkinPayload = (config: unknown): string =>
  python(
    "import base64, bz2, json, sys\n" +
      "config = json.loads(sys.stdin.read())\n" +
      "sys.stdout.write(base64.urlsafe_b64encode(bz2.compress(json.dumps(config).encode('utf-8'))).decode('ascii'))",
    JSON.stringify(config)
  ).toString("ascii")

/** URL-safe base64 of bz2 of any bytes (for payloads no client would send). */
export const bz2Payload = (bytes: Buffer): string =>
  python(
    "import base64, bz2, sys\nsys.stdout.write(base64.urlsafe_b64encode(bz2.compress(sys.stdin.buffer.read())).decode('ascii'))",
    bytes
  ).toString("ascii")

/** An XML-RPC method call body, as xmlrpc.client writes it. */
export const methodCallBody = (method: string, params: ReadonlyArray<unknown>): string =>
  python(
    "import json, sys, xmlrpc.client\n" +
      "request = json.loads(sys.stdin.read())\n" +
      "sys.stdout.write(xmlrpc.client.dumps(tuple(request['params']), request['method']))",
    JSON.stringify({ method, params })
  ).toString("utf8")

/** What xmlrpc.client makes of a response body: `{ value }` or `{ fault: [code, string] }`. */
export const readResponseAsPython = (body: string): { value?: unknown; fault?: [number, string] } =>
  JSON.parse(
    python(
      "import json, sys, xmlrpc.client\n" +
        "try:\n" +
        "    (value,), _ = xmlrpc.client.loads(sys.stdin.read())\n" +
        "    print(json.dumps({'value': value}))\n" +
        "except xmlrpc.client.Fault as fault:\n" +
        "    print(json.dumps({'fault': [fault.faultCode, fault.faultString]}))",
      body
    ).toString("utf8")
  )
