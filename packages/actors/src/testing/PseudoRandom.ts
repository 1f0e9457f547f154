// Numbers that look random but are the same on every run: trees, requests and addresses of tests and benchmarks.

/** Deterministic pseudo-random numbers in [0, 1) from `seed` (mulberry32). */
export const pseudoRandom = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
