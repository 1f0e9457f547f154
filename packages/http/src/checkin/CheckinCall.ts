// A check-in request body read whole (docs/checkin.md#protocol): the XML-RPC method call, its one string parameter
// and the payload in it. CheckinDecoder does this on a worker thread; the result crosses to the event loop as a
// CheckinCallMessage (plain data: the password as text, each category's directories as one string).
import { type CheckinReport, XmlRpcFaultCodes } from "@mirrormanager/domain/checkin"
import { Redacted } from "effect"
import { CHECKIN_PAYLOAD_LIMITS, type CheckinPayloadLimits, readCheckinPayload } from "./CheckinPayload.ts"
import { isXmlRpcFault, readMethodCall, type XmlRpcFault } from "./XmlRpc.ts"

export type CheckinCall =
  /** A malformed call: answered with this XML-RPC fault. */
  | { readonly _tag: "Fault"; readonly fault: XmlRpcFault }
  /** A well-formed call whose payload was refused: answered with CheckinReplies.invalidConfig; why, for the log. */
  | { readonly _tag: "Invalid"; readonly reason: string }
  | { readonly _tag: "Report"; readonly report: CheckinReport }

/** Reads a request body of `POST /xmlrpc`: a fault, a refused payload, or the report to apply. */
export const readCheckinCall = (body: string, limits: CheckinPayloadLimits = CHECKIN_PAYLOAD_LIMITS): CheckinCall => {
  const call = readMethodCall(body)
  if (isXmlRpcFault(call)) return { _tag: "Fault", fault: call }
  if (call.methodName !== "checkin") {
    return {
      _tag: "Fault",
      fault: {
        faultCode: XmlRpcFaultCodes.unknownMethod,
        faultString: `method "${call.methodName.slice(0, 100)}" is not supported`
      }
    }
  }
  const param = call.params[0]
  if (call.params.length !== 1 || param?.type !== "string") {
    return {
      _tag: "Fault",
      fault: { faultCode: XmlRpcFaultCodes.invalidParams, faultString: "checkin takes exactly one string parameter" }
    }
  }
  const payload = readCheckinPayload(param.value, limits)
  return payload._tag === "Invalid" ? payload : { _tag: "Report", report: payload.report }
}

/** Separates directories in a CheckinCallMessage: a NUL is in no accepted path (docs/checkin.md#limits). */
const SEPARATOR = "\u0000"

/**
 * A CheckinCall as it crosses between threads. One string per category rather than an array of strings: it is
 * copied in one piece, and split on the other side in a few milliseconds where an array of 100,000 strings takes
 * several times as long to copy. A Redacted does not survive the copy, so the password travels as text.
 */
export type CheckinCallMessage =
  | { readonly _tag: "Fault"; readonly fault: XmlRpcFault }
  | { readonly _tag: "Invalid"; readonly reason: string }
  | {
      readonly _tag: "Report"
      readonly siteName: string
      readonly sitePassword: string
      readonly hostName: string
      readonly userActive: boolean | undefined
      readonly categories: ReadonlyArray<{
        readonly key: string
        readonly enabled: boolean
        readonly count: number
        readonly directories: string
      }>
    }

export const toCheckinCallMessage = (call: CheckinCall): CheckinCallMessage => {
  if (call._tag !== "Report") return call
  const { report } = call
  return {
    _tag: "Report",
    siteName: report.siteName,
    sitePassword: Redacted.value(report.sitePassword),
    hostName: report.hostName,
    userActive: report.userActive,
    categories: report.categories.map((category) => ({
      key: category.key,
      enabled: category.enabled,
      count: category.directories.length,
      directories: category.directories.join(SEPARATOR)
    }))
  }
}

export const fromCheckinCallMessage = (message: CheckinCallMessage): CheckinCall => {
  if (message._tag !== "Report") return message
  return {
    _tag: "Report",
    report: {
      siteName: message.siteName,
      sitePassword: Redacted.make(message.sitePassword),
      hostName: message.hostName,
      userActive: message.userActive,
      categories: message.categories.map((category) => ({
        key: category.key,
        enabled: category.enabled,
        // "" is a directory too (the category's top): only the count tells no directory from that one.
        directories: category.count === 0 ? [] : category.directories.split(SEPARATOR)
      }))
    }
  }
}
