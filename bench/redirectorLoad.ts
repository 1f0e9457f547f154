// The redirector benchmark's load generator, run as its own process (`node bench/redirectorLoad.ts <config.json>`)
// so that it never shares an event loop with a server it measures. Prints one JSON `LoadResult` on stdout.
//
// Modes:
// - "max": autocannon, `connections` keep-alive connections each sending its next request as soon as the previous
//   answer arrives (closed loop): the highest rate the server sustains.
// - "rate": the same with autocannon's `overallRate`. autocannon limits per connection and per whole second, so
//   each second starts with a burst at full speed and then pauses: latencies are close to those under full load.
// - "paced": open loop with node:http, requests started evenly spaced at `rate` per second over at most
//   `connections` sockets; a latency runs from the moment the request was due (queueing included, no coordinated
//   omission).
// Latencies are recorded by this script from each response (milliseconds, not rounded); the connections share
// `paths` out among themselves.

import * as fs from "node:fs"
import * as http from "node:http"
import { createRequire } from "node:module"

export interface LoadConfig {
  readonly origin: string
  readonly paths: ReadonlyArray<string>
  readonly mode: "max" | "rate" | "paced"
  readonly connections: number
  readonly warmupSeconds: number
  readonly durationSeconds: number
  /** Requests per second for "rate" and "paced". */
  readonly rate?: number
  /** The server's process id: its CPU time over the measured run is reported (Linux /proc). */
  readonly serverPid?: number
}

export interface LoadResult {
  readonly mode: LoadConfig["mode"]
  readonly requests: number
  readonly seconds: number
  readonly requestsPerSecond: number
  readonly statusCounts: Readonly<Record<string, number>>
  readonly errors: number
  readonly timeouts: number
  readonly bytesPerResponse: number
  /** CPU time over the measured run, in cores (1 = one core busy all the time): the server's and this process's. */
  readonly cpu: { readonly server: number; readonly loadGenerator: number }
  readonly latencyMs: {
    readonly mean: number
    readonly p50: number
    readonly p90: number
    readonly p99: number
    readonly p999: number
    readonly max: number
  }
}

interface AutocannonResult {
  readonly duration: number
  readonly errors: number
  readonly timeouts: number
  readonly statusCodeStats: Readonly<Record<string, { readonly count: number }>>
  readonly requests: { readonly total: number }
  readonly throughput: { readonly total: number }
}
interface AutocannonInstance {
  on(
    event: "response",
    listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void
  ): void
}
type Autocannon = (
  options: Record<string, unknown>,
  callback: (error: Error | null, result: AutocannonResult) => void
) => AutocannonInstance

/** Latency samples in a growing typed array (a million doubles is 8 MB). */
class Samples {
  private values = new Float64Array(1 << 16)
  length = 0
  add(value: number) {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2)
      grown.set(this.values)
      this.values = grown
    }
    this.values[this.length++] = value
  }
  summary(): LoadResult["latencyMs"] {
    const sorted = this.values.subarray(0, this.length).sort()
    const at = (q: number) =>
      sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
    let sum = 0
    for (const value of sorted) sum += value
    return {
      mean: sorted.length === 0 ? 0 : sum / sorted.length,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      p999: at(0.999),
      max: sorted.length === 0 ? 0 : sorted[sorted.length - 1]!
    }
  }
}

/** CPU seconds (user + system) of a process so far, from /proc/<pid>/stat; NaN where that cannot be read. */
const processCpuSeconds = (pid: number | undefined) => {
  if (pid === undefined) return Number.NaN
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name; in clock ticks (100/s).
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

/** Measures the CPU the server and this process use from now until the returned function is called. */
const cpuMeter = (serverPid: number | undefined) => {
  const began = performance.now()
  const server = processCpuSeconds(serverPid)
  const own = process.cpuUsage()
  return (): LoadResult["cpu"] => {
    const wall = (performance.now() - began) / 1000
    const used = process.cpuUsage(own)
    return {
      server: (processCpuSeconds(serverPid) - server) / wall,
      loadGenerator: (used.user + used.system) / 1e6 / wall
    }
  }
}

const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon

const runAutocannon = (config: LoadConfig, seconds: number, samples: Samples | undefined) =>
  new Promise<AutocannonResult>((resolve, reject) => {
    let nextClient = 0
    const instance = autocannon(
      {
        url: config.origin,
        connections: config.connections,
        duration: seconds,
        // Connection i cycles through paths i, i + connections, ...: every path is used, and each connection
        // builds only its own share of request buffers (autocannon builds the whole `requests` list for every
        // connection, which for 4,000 paths x 50 connections stalls the start by seconds).
        requests: [{ method: "GET", path: config.paths[0] }],
        setupClient: (client: { setRequests(requests: ReadonlyArray<{ method: string; path: string }>): void }) => {
          const index = nextClient++ % config.connections
          client.setRequests(
            config.paths.filter((_, i) => i % config.connections === index).map((path) => ({ method: "GET", path }))
          )
        },
        ...(config.mode === "rate" && config.rate !== undefined ? { overallRate: config.rate } : {}),
        timeout: 10
      },
      (error, result) => (error ? reject(error) : resolve(result))
    )
    if (samples !== undefined) instance.on("response", (_client, _status, _bytes, ms) => samples.add(ms))
  })

const autocannonLoad = async (config: LoadConfig): Promise<LoadResult> => {
  if (config.warmupSeconds > 0) await runAutocannon(config, config.warmupSeconds, undefined)
  const samples = new Samples()
  const meter = cpuMeter(config.serverPid)
  const result = await runAutocannon(config, config.durationSeconds, samples)
  const cpu = meter()
  const statusCounts: Record<string, number> = {}
  let ok = 0
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) {
    statusCounts[status] = count
    if (status.startsWith("2")) ok += count
  }
  return {
    mode: config.mode,
    requests: result.requests.total,
    seconds: result.duration,
    requestsPerSecond: result.requests.total / result.duration,
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    bytesPerResponse: ok === 0 ? 0 : result.throughput.total / ok,
    cpu,
    latencyMs: samples.summary()
  }
}

const pacedLoad = async (config: LoadConfig): Promise<LoadResult> => {
  const rate = config.rate ?? 1000
  const url = new URL(config.origin)
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.connections })
  const phase = (seconds: number, samples: Samples | undefined) =>
    new Promise<Omit<LoadResult, "mode" | "latencyMs" | "cpu">>((resolve) => {
      const statusCounts: Record<string, number> = {}
      let sent = 0
      let done = 0
      let errors = 0
      let bytes = 0
      let ok = 0
      let next = 0
      const start = performance.now()
      const interval = 1000 / rate
      const total = Math.floor(seconds * rate)
      let finished = false
      const finish = () => {
        if (finished) return
        finished = true
        resolve({
          requests: done,
          seconds: (performance.now() - start) / 1000,
          requestsPerSecond: done / seconds,
          statusCounts,
          errors,
          timeouts: 0,
          bytesPerResponse: ok === 0 ? 0 : bytes / ok
        })
      }
      const fire = (due: number) => {
        const path = config.paths[next++ % config.paths.length]!
        const request = http.get({ agent, host: url.hostname, port: url.port, path }, (response) => {
          let size = 0
          response.on("data", (chunk: Buffer) => {
            size += chunk.length
          })
          response.on("end", () => {
            samples?.add(performance.now() - due)
            const status = String(response.statusCode)
            statusCounts[status] = (statusCounts[status] ?? 0) + 1
            if (status.startsWith("2")) {
              ok++
              bytes += size
            }
            if (++done + errors === total) finish()
          })
        })
        request.on("error", () => {
          errors++
          if (done + errors === total) finish()
        })
      }
      // Answers that never come must not hang the run: give up on them 10 s after the last request was due.
      setTimeout(
        () => {
          if (done + errors < total) {
            errors = total - done
            finish()
          }
        },
        (seconds + 10) * 1000
      ).unref()
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1)
        while (sent < due) fire(start + sent++ * interval)
        if (sent === total) clearInterval(timer)
      }, 1)
    })
  if (config.warmupSeconds > 0) await phase(config.warmupSeconds, undefined)
  const samples = new Samples()
  const meter = cpuMeter(config.serverPid)
  const result = await phase(config.durationSeconds, samples)
  const cpu = meter()
  agent.destroy()
  return { mode: config.mode, ...result, cpu, latencyMs: samples.summary() }
}

const configFile = process.argv[2]
if (configFile === undefined) {
  console.error("usage: node bench/redirectorLoad.ts <config.json>")
  process.exit(2)
}
const config = JSON.parse(fs.readFileSync(configFile, "utf8")) as LoadConfig
const result = config.mode === "paced" ? await pacedLoad(config) : await autocannonLoad(config)
process.stdout.write(`${JSON.stringify(result)}\n`)
// Now, not when the last socket closes: requests still queued for a server that stalled would hold the process (and
// the caller waiting for it) past the run's end. Standard output is a file, written synchronously.
process.exit(0)
