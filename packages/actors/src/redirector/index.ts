// The redirector of one node: the in-memory index of hosts, directories and networks, kept current from the change
// log (and a snapshot on disk) or from a full node's index feed, and the whole decision of a request: what it asks
// for, who the client is, which mirrors it gets and why none (`Redirector.decide`). The request path never touches
// the database. Imports db, ipdata.
export { ChangeFollowerLayer, type ChangeFollowerOptions, defaultChangeFollowerOptions } from "./ChangeFollower.ts"
export {
  type AccessFacts,
  type AnswerForm,
  type AnswerKey,
  type ClientFacts,
  DEFAULT_SCHEMES,
  type Decision,
  type MetalinkForm,
  type MirrorlistForm,
  type Plans,
  planAfresh,
  type RedirectForm,
  type Refused,
  type Selected,
  type Selecting,
  type Starting
} from "./Decision.ts"
export { defaultFeedFollowerOptions, FeedFollowerLayer, type FeedFollowerOptions } from "./FeedFollower.ts"
export {
  defaultIndexFeedOptions,
  type FeedCounts,
  type FeedPosition,
  type FeedRead,
  IndexFeed,
  type IndexFeedOptions,
  makeIndexFeed
} from "./IndexFeed.ts"
export { IndexSnapshotLayer, snapshotFile, snapshotLines } from "./IndexSnapshot.ts"
// The index's rows (the shape of the on-disk snapshot and of test indexes) and what a format reads of them.
export type {
  CategorySource,
  DirectorySource,
  FileDetailSource,
  HostCategorySource,
  HostSource,
  HostUrlSource,
  IndexSource,
  OverridesSource,
  RedirectSource,
  RepositorySource
} from "./IndexSource.ts"
export { inSchemeOrder } from "./IndexSource.ts"
export type { CarrierView, IndexHost } from "./MirrorIndex.ts"
export * from "./Redirector.ts"
export { clientAddress, type Endpoint, endpointOf, type RedirectorRequest } from "./RedirectorRequest.ts"
export { type RandomSource, type SelectedHost, type Selection, seededRandom } from "./Selection.ts"
