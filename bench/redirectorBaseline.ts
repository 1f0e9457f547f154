// The redirector benchmark's baseline: a bare node:http server, in its own process, answering each request path with
// the very bytes the node answered it with when the benchmark probed it (same body and Content-Type): the cost of
// sending the node's answers and nothing else. `node bench/redirectorBaseline.ts <port> <answers file>`, the file
// written by `writeAnswers` (bench/redirector.ts); prints "listening" once it accepts connections.

import * as fs from "node:fs"
import * as http from "node:http"

const [port, answersFile] = process.argv.slice(2)
if (port === undefined || answersFile === undefined) {
  console.error("usage: node bench/redirectorBaseline.ts <port> <answers file>")
  process.exit(2)
}

interface Kept {
  readonly body: Buffer
  readonly headers: Record<string, string | number>
}

/** Records of a 4-byte path length, the path, a 4-byte body length, the body. */
const answers = new Map<string, Kept>()
const bytes = fs.readFileSync(answersFile)
for (let at = 0; at < bytes.length; ) {
  const pathLength = bytes.readUInt32BE(at)
  const requestPath = bytes.toString("utf8", at + 4, at + 4 + pathLength)
  at += 4 + pathLength
  const bodyLength = bytes.readUInt32BE(at)
  const body = bytes.subarray(at + 4, at + 4 + bodyLength)
  at += 4 + bodyLength
  const contentType = requestPath.startsWith("/metalink") ? "application/metalink+xml" : "text/plain; charset=utf-8"
  answers.set(requestPath, {
    body,
    headers: { "Content-Type": contentType, "Content-Length": body.length, "Cache-Control": "private" }
  })
}

http
  .createServer((request, response) => {
    const kept = answers.get(request.url ?? "")
    if (kept === undefined) {
      response.writeHead(404, { "Content-Type": "text/plain" })
      response.end("not probed\n")
      return
    }
    response.writeHead(200, kept.headers)
    response.end(kept.body)
  })
  .listen(Number(port), "127.0.0.1", () => console.log("listening"))
