// The node's master scans: the policy with the operator's repository rules, and the schedule that scans every
// category with a master path.

import {
  defaultMasterScanPolicy,
  loadRepositoryRules,
  MasterScanPolicy,
  MasterScanScheduleLayer
} from "@mirrormanager/actors/masterscan"
import { Effect, Layer, Option } from "effect"
import { NodeConfig } from "./Config.ts"

/** The scan policy, with the operator's repository rules file if MM_REPOSITORY_RULES names one. */
export const MasterScanPolicyLayer = Layer.effect(
  MasterScanPolicy,
  Effect.gen(function* () {
    const config = yield* NodeConfig
    if (Option.isNone(config.repositoryRules)) return defaultMasterScanPolicy
    const file = config.repositoryRules.value
    const rules = yield* Effect.try({
      try: () => loadRepositoryRules(file),
      catch: (error) => (error instanceof Error ? error : new Error(String(error)))
    })
    yield* Effect.logInfo(`repository rules: ${file} (${rules.rules.length} rules)`)
    return { ...defaultMasterScanPolicy, rules }
  })
)

/** The schedule of master scans, every MM_SCAN_INTERVAL. */
export const NodeMasterScanScheduleLayer = Layer.unwrap(
  Effect.map(NodeConfig, (config) =>
    MasterScanScheduleLayer({ interval: config.scanInterval, deleteDirectories: config.scanDeleteDirectories })
  )
)
