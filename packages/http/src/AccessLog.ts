// One access-log line per redirector request (SPEC 10.1): the legacy text form plus structured fields, written in
// batches so the request path never waits for a disk.
import * as fs from "node:fs"
import type { Answer } from "./RedirectorAnswer.ts"

export interface AccessLog {
  readonly record: (at: number, answer: Answer) => void
  readonly close: () => Promise<void>
}

const field = (value: string | undefined) => (value === undefined || value === "" ? "-" : value.replace(/[;\s]/g, "_"))

export const accessLogLine = (at: number, answer: Answer): string => {
  const log = answer.log
  const date = new Date(at).toISOString()
  return `${date} IP: ${field(log.client)}; DATE: ${date.slice(0, 10)}; COUNTRY: ${field(log.country)}; REPO: ${field(log.repo)}; ARCH: ${field(log.arch)}; PATH: ${field(log.path)}; MODE: ${answer.endpoint}; STATUS: ${answer.status}; HOSTS: ${log.hosts}; COUNTME: ${field(log.countme)}; RESULT: ${log.result.replace(/\n/g, " ")}\n`
}

/** `-` = standard output, `off` = nowhere, else a file (appended). Flushed every 200 ms or at 64 KiB. */
export const openAccessLog = (destination: string): AccessLog => {
  if (destination === "off") return { record: () => {}, close: () => Promise.resolve() }
  const stream = destination === "-" ? process.stdout : fs.createWriteStream(destination, { flags: "a" })
  let buffer: Array<string> = []
  let size = 0
  const flush = () => {
    if (buffer.length === 0) return
    const chunk = buffer.join("")
    buffer = []
    size = 0
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
