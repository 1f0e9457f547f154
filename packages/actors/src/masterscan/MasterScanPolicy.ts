// Operator policy of the master-tree scan (docs/masterscan.md#the-walk, docs/masterscan.md#aging).
import { Context } from "effect"
import { type CompiledRepositoryRules, compileRepositoryRules, defaultRepositoryRules } from "./RepositoryRules.ts"

export interface MasterScanPolicyShape {
  readonly rules: CompiledRepositoryRules
  /** Path components never walked. */
  readonly excludes: ReadonlyArray<string>
  /** More bulk files (.rpm .drpm .hdr .html) than this in a directory: only the newest `keepNewest` are listed. */
  readonly bulkThreshold: number
  readonly keepNewest: number
  /** A directory changed less than this long before it was read is read again by the next scan. */
  readonly settleMs: number
  /** MAX_STALE_DAYS: how long older file details stay as metalink alternates. */
  readonly maxStaleDays: number
  /** Largest repomd.xml or checksum file read. */
  readonly maxMetadataBytes: number
  /** Largest tree walked (symbolic links can multiply one). */
  readonly maxDirectories: number
  /** Scans of different categories running at once on a node; each holds a database connection while it runs. */
  readonly maxConcurrentScans: number
}

export const defaultMasterScanPolicy: MasterScanPolicyShape = {
  rules: compileRepositoryRules(defaultRepositoryRules),
  excludes: [".snapshot", ".~tmp~"],
  bulkThreshold: 10,
  keepNewest: 3,
  settleMs: 2000,
  maxStaleDays: 4,
  maxMetadataBytes: 16 * 1024 * 1024,
  maxDirectories: 2_000_000,
  maxConcurrentScans: 2
}

export const MasterScanPolicy = Context.Reference<MasterScanPolicyShape>("actors/MasterScanPolicy", {
  defaultValue: () => defaultMasterScanPolicy
})
