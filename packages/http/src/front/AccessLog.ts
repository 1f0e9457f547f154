// One access-log line per redirector request (docs/redirector.md#access-log): the legacy text form plus structured
// fields, written in batches so the request path never waits for a disk.
import * as fs from "node:fs"
import type { Answer } from "../redirector/index.ts"

export interface AccessLog {
  readonly record: (at: number, answer: Answer) => void
  readonly close: () => Promise<void>
}

/** A field as written: at most 256 characters, no separators, no whitespace or control characters. */
const field = (value: string | undefined) =>
  value === undefined || value === "" ? "-" : value.slice(0, 256).replace(/[^!-:<-~\u00a0-\uffff]/g, "_")

export const accessLogLine = (at: number, answer: Answer): string => {
  const log = answer.log
  const date = new Date(at).toISOString()
  return `${date} IP: ${field(log.client)}; DATE: ${date.slice(0, 10)}; COUNTRY: ${field(log.country)}; REPO: ${field(log.repo)}; ARCH: ${field(log.arch)}; PATH: ${field(log.path)}; MODE: ${answer.endpoint}; STATUS: ${answer.status}; HOSTS: ${log.hosts}; COUNTME: ${field(log.countme)}; RESULT: ${field(log.result)}\n`
}

/** `-` = standard output, `off` = nowhere, else a file (appended). Flushed every 200 ms or at 64 KiB. */
export const openAccessLog = (destination: string): AccessLog => {
  if (destination === "off") return { record: () => {}, close: () => Promise.resolve() }
  const stream = destination === "-" ? process.stdout : fs.createWriteStream(destination, { flags: "a" })
  let buffer: Array<string> = []
  let size = 0
  let dropped = 0
  let failed = false
  // A log that cannot be written (disk full, closed pipe) is given up, never the node.
  stream.on("error", (error) => {
    if (!failed) process.stderr.write(`access log ${destination} failed, no more lines are written: ${error.message}\n`)
    failed = true
  })
  const flush = () => {
    if (buffer.length === 0) return
    const chunk = buffer.join("")
    buffer = []
    size = 0
    // A sink slower than the requests loses lines (counted) rather than memory.
    if (failed || stream.writableLength > 16 * 1024 * 1024) {
      dropped += chunk.split("\n").length - 1
      return
    }
    if (dropped > 0) {
      stream.write(`${new Date().toISOString()} ACCESS-LOG: ${dropped} lines dropped (log sink too slow)\n`)
      dropped = 0
    }
    stream.write(chunk)
  }
  const timer = setInterval(flush, 200)
  timer.unref()
  return {
    record: (at, answer) => {
      const line = accessLogLine(at, answer)
      buffer.push(line)
      size += line.length
      if (size >= 65_536) flush()
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer)
        flush()
        if (stream === process.stdout) resolve()
        else (stream as fs.WriteStream).end(() => resolve())
      })
  }
}
