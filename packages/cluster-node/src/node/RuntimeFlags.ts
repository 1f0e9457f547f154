// How a node's Node.js runs (docs/operations.md#deployment), wherever it is started: `npm start` and
// `npm run mirrormanager` (package.json says both again; a test keeps them the same), the benchmarks, the local
// cluster and the demo. Measured at Fedora's size (the scale benchmark), each keeps resident memory down:
//
// - `--max-semi-space-size=16`: V8 sizes the young generation by the machine's memory, 128 MiB on a 24 GB machine,
//   most of it resident under load, for no speed a node needs (its long-lived data is the index; requests leave
//   short-lived garbage). About 100 MB less after the index build and under load.
// - `--heap-growing-percent=50`: after a full collection V8 lets the heap grow to up to four times what is live
//   before the next one; under a burst of check-ins that was 550–620 MB of heap for about 220 MB live. Growing by half
//   at most: about 400 MB at the same moment.
// - `MALLOC_MMAP_THRESHOLD_=131072` (glibc; an operator's own value is kept): allocations of 128 KiB and more (check-in
//   bodies, the bz2 decoder's blocks, database reads) come from the system and go back to it when freed. By default
//   glibc raises that threshold after the first such free, and the decoding threads' heaps then kept 150–180 MB they
//   were no longer using.
export const NODE_RUNTIME_FLAGS: ReadonlyArray<string> = ["--max-semi-space-size=16", "--heap-growing-percent=50"]

/** The environment a node starts with, besides the operator's. */
export const NODE_RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: "131072" }

/** `env` with NODE_RUNTIME_ENV put in where it does not say otherwise. */
export const withRuntimeEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...NODE_RUNTIME_ENV, ...env })
