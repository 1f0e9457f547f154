// What a scheduled rebuild finds (docs/redirector.md#building-and-following): the rows read afresh against those the
// index holds, as changes. The change log keeps an index current; the rebuild every 15 minutes is the safety net for
// what it might have missed, and in the normal case finds nothing. Applied as changes, what it does find replaces only
// the hosts and directories that differ: the carrier views and answers kept for the rest stay, and redirector nodes
// fed by this one get a batch rather than the whole index again. A change of categories (what every directory's
// number hangs on) still makes a new index.
import { sameBits } from "../db/index.ts"
import type {
  DirectorySource,
  FileDetailSource,
  HostCategorySource,
  HostSource,
  IndexChanges,
  IndexSource
} from "./IndexSource.ts"

const sameList = <T>(a: ReadonlyArray<T>, b: ReadonlyArray<T>, same: (x: T, y: T) => boolean): boolean =>
  a.length === b.length && a.every((x, i) => same(x, b[i]!))

const sameDetail = (a: FileDetailSource, b: FileDetailSource): boolean =>
  a.filename === b.filename &&
  a.timestamp === b.timestamp &&
  a.size === b.size &&
  a.md5 === b.md5 &&
  a.sha1 === b.sha1 &&
  a.sha256 === b.sha256 &&
  a.sha512 === b.sha512

const sameDirectory = (a: DirectorySource, b: DirectorySource): boolean =>
  a.name === b.name &&
  sameList(a.categories, b.categories, (x, y) => x.categoryId === y.categoryId && x.ordinal === y.ordinal) &&
  sameList(a.fileDetails, b.fileDetails, sameDetail)

const sameHostCategory = (a: HostCategorySource, b: HostCategorySource, bits: boolean): boolean =>
  a.id === b.id &&
  a.categoryId === b.categoryId &&
  a.alwaysUp2date === b.alwaysUp2date &&
  sameList(a.urls, b.urls, (x, y) => x.url === y.url && x.scheme === y.scheme) &&
  (!bits || sameBits(a.upToDate, b.upToDate))

/**
 * Whether two rows of a host are the same; with `bits` false, but for what they are up to date on (the index keeps a
 * host whose only change is that, and follows its new bits).
 */
export const sameHost = (a: HostSource, b: HostSource, bits = true): boolean =>
  a.siteId === b.siteId &&
  a.name === b.name &&
  a.country === b.country &&
  a.bandwidth === b.bandwidth &&
  a.private === b.private &&
  a.asn === b.asn &&
  a.asnClients === b.asnClients &&
  a.internet2 === b.internet2 &&
  a.internet2Clients === b.internet2Clients &&
  a.ipv4 === b.ipv4 &&
  a.ipv6 === b.ipv6 &&
  sameList(a.peerAsns, b.peerAsns, Object.is) &&
  sameList(a.countriesAllowed, b.countriesAllowed, Object.is) &&
  sameList(a.netblocks, b.netblocks, Object.is) &&
  sameList(a.categories, b.categories, (x, y) => sameHostCategory(x, y, bits))

/** The same rows in any order (the database gives no order the index keeps). */
const sameRows = <T>(a: ReadonlyArray<T>, b: ReadonlyArray<T>): boolean => {
  if (a.length !== b.length) return false
  const key = (row: T) => JSON.stringify(row)
  const counts = new Map<string, number>()
  for (const row of a) counts.set(key(row), (counts.get(key(row)) ?? 0) + 1)
  for (const row of b) {
    const left = counts.get(key(row))
    if (left === undefined || left === 0) return false
    counts.set(key(row), left - 1)
  }
  return true
}

/**
 * The rows of `next` that are new or differ from `current`'s of the same id, and the ids of `current` missing from
 * `next` (gone), as the change log names them; a step every `perStep` rows.
 */
function* changedRows<R extends { readonly id: number }>(
  current: ReadonlyArray<R>,
  next: ReadonlyArray<R>,
  same: (a: R, b: R) => boolean,
  perStep: number
): Generator<void, { readonly ids: ReadonlyArray<number>; readonly rows: ReadonlyArray<R> }> {
  const now = new Map<number, R>()
  let n = 0
  for (const row of current) {
    now.set(row.id, row)
    if (++n % perStep === 0) yield
  }
  const ids: Array<number> = []
  const rows: Array<R> = []
  for (const row of next) {
    const was = now.get(row.id)
    now.delete(row.id)
    if (was === undefined || !same(was, row)) {
      ids.push(row.id)
      rows.push(row)
    }
    if (++n % perStep === 0) yield
  }
  for (const id of now.keys()) ids.push(id)
  return { ids, rows }
}

/**
 * The differences of `next` from `current` as changes to apply (undefined when the categories differ), a step every
 * few hundred rows: at Fedora's size the comparison is a few hundred milliseconds of work, run in slices.
 */
export function* indexDifferences(current: IndexSource, next: IndexSource): Generator<void, IndexChanges | undefined> {
  if (!sameRows(current.categories, next.categories)) return undefined
  const directories = yield* changedRows(current.directories, next.directories, sameDirectory, 512)
  const hosts = yield* changedRows(current.hosts, next.hosts, (a, b) => sameHost(a, b), 64)
  yield
  const repositoriesSame =
    sameRows(current.repositories, next.repositories) && sameRows(current.redirects, next.redirects)
  const overridesSame =
    sameRows(current.overrides.netblockCountries, next.overrides.netblockCountries) &&
    sameRows(current.overrides.continentRedirects, next.overrides.continentRedirects)
  // Only what differs, as the change log would name it.
  return {
    ...(directories.ids.length === 0 ? {} : { directories }),
    ...(hosts.ids.length === 0 ? {} : { hosts }),
    ...(repositoriesSame ? {} : { repositories: { repositories: next.repositories, redirects: next.redirects } }),
    ...(overridesSame ? {} : { overrides: next.overrides })
  }
}
