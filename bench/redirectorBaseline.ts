// The redirector benchmark's baseline: a bare node:http server, in its own process, answering every request with a
// fixed body: under /metalink a typical metalink response of the node, anywhere else a typical mirrorlist response
// (same bytes and Content-Type). `node bench/redirectorBaseline.ts <port> <mirrorlist file> <metalink file>`;
// prints "listening" once it accepts connections.

import * as fs from "node:fs"
import * as http from "node:http"

const [port, mirrorlistFile, metalinkFile] = process.argv.slice(2)
if (port === undefined || mirrorlistFile === undefined || metalinkFile === undefined) {
  console.error("usage: node bench/redirectorBaseline.ts <port> <mirrorlist body file> <metalink body file>")
  process.exit(2)
}

const answer = (body: Buffer, contentType: string) => ({
  body,
  headers: { "Content-Type": contentType, "Content-Length": body.length, "Cache-Control": "private" }
})
const mirrorlist = answer(fs.readFileSync(mirrorlistFile), "text/plain; charset=utf-8")
const metalink = answer(fs.readFileSync(metalinkFile), "application/metalink+xml")

http
  .createServer((request, response) => {
    const { body, headers } = request.url?.startsWith("/metalink") ? metalink : mirrorlist
    response.writeHead(200, headers)
    response.end(body)
  })
  .listen(Number(port), "127.0.0.1", () => console.log("listening"))
