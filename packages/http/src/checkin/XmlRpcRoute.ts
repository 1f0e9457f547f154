// `POST /xmlrpc`, where report_mirror checks in (docs/checkin.md#protocol): malformed calls get XML-RPC faults,
// everything else a string the client prints. Always HTTP 200 with text/xml, as the upstream client expects.
import { Checkins } from "@mirrormanager/actors/checkin"
import { until } from "@mirrormanager/actors/db"
import { Readiness } from "@mirrormanager/actors/health"
import { CheckinReplies, XmlRpcFaultCodes } from "@mirrormanager/domain/checkin"
import { ByteSize, Effect, Option } from "effect"
import { HttpIncomingMessage, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { readCheckinPayload } from "./CheckinPayload.ts"
import { faultResponse, isXmlRpcFault, methodResponse, readMethodCall } from "./XmlRpc.ts"

/** The largest request body read (docs/checkin.md#limits); a larger one is refused unread. */
export const XMLRPC_MAX_BODY_BYTES = 8 * 1024 * 1024

export const XMLRPC_PATH = "/xmlrpc"

const xml = (body: string) => HttpServerResponse.text(body, { contentType: "text/xml; charset=utf-8" })
const fault = (faultCode: number, faultString: string) => xml(faultResponse({ faultCode, faultString }))
const tooLarge = () => fault(XmlRpcFaultCodes.invalidRequest, `the request body exceeds ${XMLRPC_MAX_BODY_BYTES} bytes`)

const checkin = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  if (Number(request.headers["content-length"] ?? 0) > XMLRPC_MAX_BODY_BYTES) return tooLarge()
  const body = yield* request.text.pipe(
    Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(XMLRPC_MAX_BODY_BYTES)),
    Effect.option
  )
  // A body cut short by the limit, or not read at all.
  if (Option.isNone(body)) return tooLarge()
  const call = readMethodCall(body.value)
  if (isXmlRpcFault(call)) return xml(faultResponse(call))
  if (call.methodName !== "checkin") {
    return fault(XmlRpcFaultCodes.unknownMethod, `method "${call.methodName.slice(0, 100)}" is not supported`)
  }
  const param = call.params[0]
  if (call.params.length !== 1 || param?.type !== "string") {
    return fault(XmlRpcFaultCodes.invalidParams, "checkin takes exactly one string parameter")
  }
  // The client as MM_TRUSTED_PROXIES says (see withClientAddress), which failed logins are limited by.
  const address = Option.getOrUndefined(request.remoteAddress)
  const payload = readCheckinPayload(param.value)
  if (payload._tag === "Invalid") {
    yield* Effect.logWarning("check-in payload refused").pipe(Effect.annotateLogs({ address, reason: payload.reason }))
    return xml(methodResponse(CheckinReplies.invalidConfig))
  }
  const checkins = yield* Checkins
  const readiness = yield* Readiness
  // A check-in waiting for a database found unreachable is answered as failed (the client tries again later).
  const reply = yield* checkins.checkIn(payload.report, { address }).pipe(until(readiness.unreachable))
  if (Option.isNone(reply)) {
    yield* Effect.logWarning("check-in not applied: the registry database is unreachable").pipe(
      Effect.annotateLogs({ site: payload.report.siteName, host: payload.report.hostName })
    )
    return xml(methodResponse(CheckinReplies.failure))
  }
  return xml(methodResponse(reply.value))
})

export const XmlRpcRoute = HttpRouter.add("POST", XMLRPC_PATH, checkin)
