// The redirector of one node: the in-memory index of hosts, directories and networks, kept current from the change
// log (and a snapshot on disk), and the selection of mirrors for a client. The request path never touches the
// database. Imports db, ipdata.
export * from "./ChangeFollower.ts"
export * from "./IndexSnapshot.ts"
export * from "./IndexSource.ts"
export * from "./MirrorIndex.ts"
export * from "./Redirector.ts"
export * from "./Selection.ts"
