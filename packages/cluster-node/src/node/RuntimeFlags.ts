// The flags a node's Node.js runs with (docs/operations.md#memory), wherever it is started: `npm start` and
// `npm run mirrormanager` (package.json says them again; a test keeps the two the same), the benchmarks, the local
// cluster and the demo.
//
// V8 sizes a process's young generation by the machine's memory: 128 MiB on a 24 GB machine, most of it resident under
// load, for no speed a node needs (its long-lived data is the index; requests leave short-lived garbage). 16 MiB
// semi-spaces: measured at Fedora's size, about 100 MB less resident memory after the index build and under load.
export const NODE_RUNTIME_FLAGS: ReadonlyArray<string> = ["--max-semi-space-size=16"]
