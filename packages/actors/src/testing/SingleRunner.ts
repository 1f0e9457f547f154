// The cluster of a test or a benchmark: one runner in this process, its storage in the database it is given (SQL),
// no network between runners.

import { NodeCrypto } from "@effect/platform-node"
import { Layer } from "effect"
import { SingleRunner } from "effect/cluster"

/** One runner that polls for its entities' messages and replies often enough for a test not to wait on it. */
export const SingleRunnerLayer = SingleRunner.layer({
  shardingConfig: { entityMessagePollInterval: "100 millis", entityReplyPollInterval: "50 millis" }
}).pipe(Layer.provide(NodeCrypto.layerDigest))
