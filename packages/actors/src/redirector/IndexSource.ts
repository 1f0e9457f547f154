// What the Redirector's index is made of, as plain rows (the on-disk snapshot holds the same, bitsets in base64).
// IndexRows reads them from the registry database.
import type { MirrorUrlScheme } from "@mirrormanager/domain/registry"
import type { UpToDateBits } from "../db/index.ts"

export type FamilySupport = "yes" | "no" | "unknown"

export interface HostUrlSource {
  readonly url: string
  readonly scheme: MirrorUrlScheme
}

/** The order of a host category's URLs in the index: https, http, ftp, rsync (its first is its best). */
export const SCHEME_RANK: Readonly<Record<MirrorUrlScheme, number>> = { https: 0, http: 1, ftp: 2, rsync: 3 }

/** URLs in that order. */
export const inSchemeOrder = (urls: Array<HostUrlSource>): Array<HostUrlSource> =>
  urls.sort((a, b) => SCHEME_RANK[a.scheme] - SCHEME_RANK[b.scheme])

export interface HostCategorySource {
  readonly id: number
  readonly categoryId: number
  readonly alwaysUp2date: boolean
  /** Usable URLs only (not private, not known unreachable, no invalid TLS), https first. */
  readonly urls: ReadonlyArray<HostUrlSource>
  /** The directories this host category is up to date on, by their number in the category (UpToDateBits). */
  readonly upToDate: UpToDateBits
}

/** An active host (inactive hosts carry nothing and are left out). */
export interface HostSource {
  readonly id: number
  readonly siteId: number
  readonly name: string
  readonly country: string
  readonly bandwidth: number
  /** Effectively private: the host's or its site's flag. */
  readonly private: boolean
  readonly asn: number | null
  readonly asnClients: boolean
  readonly internet2: boolean
  readonly internet2Clients: boolean
  readonly ipv4: FamilySupport
  readonly ipv6: FamilySupport
  readonly peerAsns: ReadonlyArray<number>
  readonly countriesAllowed: ReadonlyArray<string>
  readonly netblocks: ReadonlyArray<string>
  readonly categories: ReadonlyArray<HostCategorySource>
}

export interface CategorySource {
  readonly id: number
  readonly name: string
  readonly topdir: string
}

export interface FileDetailSource {
  readonly filename: string
  readonly timestamp: number
  readonly size: number
  readonly md5: string | null
  readonly sha1: string | null
  readonly sha256: string | null
  readonly sha512: string | null
}

/** A category a directory is linked to, and the directory's number in it (`category_directories.ordinal`). */
export interface DirectoryCategory {
  readonly categoryId: number
  readonly ordinal: number
}

export interface DirectorySource {
  readonly id: number
  readonly name: string
  readonly categories: ReadonlyArray<DirectoryCategory>
  readonly fileDetails: ReadonlyArray<FileDetailSource>
}

export interface RepositorySource {
  readonly prefix: string
  readonly arch: string
  readonly directoryId: number
  readonly disabled: boolean
}

export interface RedirectSource {
  readonly from: string
  readonly to: string
}

export interface OverridesSource {
  readonly netblockCountries: ReadonlyArray<{ readonly netblock: string; readonly country: string }>
  readonly continentRedirects: ReadonlyArray<{ readonly country: string; readonly continent: string }>
}

export interface IndexSource {
  readonly hosts: ReadonlyArray<HostSource>
  readonly categories: ReadonlyArray<CategorySource>
  readonly directories: ReadonlyArray<DirectorySource>
  readonly repositories: ReadonlyArray<RepositorySource>
  readonly redirects: ReadonlyArray<RedirectSource>
  readonly overrides: OverridesSource
}

export interface LoadedIndex {
  readonly source: IndexSource
  /** The snapshot (`pg_current_snapshot()`) the rows were read in: changes not visible in it come next. */
  readonly snapshot: string
}

/** Rows of the change log applied to the index in one step: what replaces the named hosts and directories, etc. */
export interface IndexChanges {
  /** Directories by id: those of `ids` missing from `rows` are gone. */
  readonly directories?: { readonly ids: ReadonlyArray<number>; readonly rows: ReadonlyArray<DirectorySource> }
  /** Hosts by id: those of `ids` missing from `rows` are gone (or inactive). */
  readonly hosts?: { readonly ids: ReadonlyArray<number>; readonly rows: ReadonlyArray<HostSource> }
  readonly repositories?: {
    readonly repositories: ReadonlyArray<RepositorySource>
    readonly redirects: ReadonlyArray<RedirectSource>
  }
  readonly overrides?: OverridesSource
}
