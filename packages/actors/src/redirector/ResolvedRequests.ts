// What the redirector worked out from a request's path and query (its parameters, the repository or path it names,
// the directory that is, what is wrong with it), kept per path and query: dnf clients ask the same few URLs over
// and over. Kept for one index while nothing a request can name (directories, files, repositories, redirects)
// changes in it; any such change, or another index, starts afresh.
import type { MirrorIndex } from "./MirrorIndex.ts"

/** Longer paths and queries are worked out every time (and cannot crowd out the others). */
const MAX_KEY_LENGTH = 1024

export class ResolvedRequests<R> {
  private readonly entries = new Map<string, R>()
  private index: MirrorIndex | undefined
  private version = -1
  /** At most this many are kept; past it, all go (the next requests make the common ones again). */
  private readonly limit: number
  /** Which are kept (an error that lists every repository is not: thousands of those would be a lot of memory). */
  private readonly worthKeeping: (resolved: R) => boolean

  constructor(limit: number, worthKeeping: (resolved: R) => boolean) {
    this.limit = limit
    this.worthKeeping = worthKeeping
  }

  /** Forgets everything (a new index is served: nothing kept may hold on to the one it replaced). */
  clear(): void {
    this.entries.clear()
    this.index = undefined
    this.version = -1
  }

  get(index: MirrorIndex, path: string, query: string, resolve: () => R): R {
    if (index !== this.index || index.version !== this.version) {
      this.entries.clear()
      this.index = index
      this.version = index.version
    }
    if (path.length + query.length > MAX_KEY_LENGTH) return resolve()
    const key = `${path}?${query}`
    let resolved = this.entries.get(key)
    if (resolved === undefined) {
      resolved = resolve()
      if (!this.worthKeeping(resolved)) return resolved
      if (this.entries.size >= this.limit) this.entries.clear()
      this.entries.set(key, resolved)
    }
    return resolved
  }
}
