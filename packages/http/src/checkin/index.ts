// The XML-RPC check-in of report_mirror: the method call parsed strictly, the bz2 payload decoded within bounds on
// worker threads (CheckinDecoder), faults and reply strings. Imports actors/checkin (and actors/db, actors/health for
// its time bound and readiness).
export * from "./CheckinCall.ts"
export * from "./CheckinDecoder.ts"
export * from "./CheckinPayload.ts"
export * from "./XmlRpcRoute.ts"
