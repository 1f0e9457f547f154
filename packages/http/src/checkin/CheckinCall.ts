// A check-in request body read whole (docs/checkin.md#protocol): the XML-RPC method call, its one string parameter
// and the payload in it, each section's paths looked up among its category's directories. CheckinDecoder does this on
// a worker thread; the result crosses to the event loop as a CheckinCallMessage (plain data: the password as text,
// each section's directories as a bitset).
import type { DirectoryNumbering } from "@mirrormanager/actors/numbering"
import {
  type CheckinReport,
  type CheckinSection,
  type NumberedCheckin,
  XmlRpcFaultCodes
} from "@mirrormanager/domain/checkin"
import type { CategoryId } from "@mirrormanager/domain/registry"
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

/** A CheckinCall whose report's paths were looked up among the categories' directories (docs/checkin.md#decoding). */
export type NumberedCheckinCall =
  | { readonly _tag: "Fault"; readonly fault: XmlRpcFault }
  | { readonly _tag: "Invalid"; readonly reason: string }
  | { readonly _tag: "Report"; readonly report: NumberedCheckin }

/** A category's numbering, as the thread reading check-ins holds it. */
export interface CategoryNumbering {
  readonly categoryId: CategoryId
  readonly numbering: DirectoryNumbering
}

/**
 * A NumberedCheckinCall as it crosses between threads: a Redacted does not survive the copy, so the password travels
 * as text; each section's bitset is moved, not copied (`transfer`).
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
      readonly sections: ReadonlyArray<CheckinSection>
    }

/**
 * Looks each section's paths up in the numbering of the category its key names (lower-cased): the message, and the
 * buffers to move with it.
 */
export const numberCheckinCall = (
  call: CheckinCall,
  categories: ReadonlyMap<string, CategoryNumbering>
): { readonly message: CheckinCallMessage; readonly transfer: ReadonlyArray<ArrayBuffer> } => {
  if (call._tag !== "Report") return { message: call, transfer: [] }
  const { report } = call
  const transfer: Array<ArrayBuffer> = []
  const sections = report.categories.map((section): CheckinSection => {
    const numbered = categories.get(section.key.toLowerCase())
    // A disabled section is skipped by the entity: its paths are not looked up.
    if (numbered === undefined || !section.enabled) {
      return {
        key: section.key,
        enabled: section.enabled,
        category: numbered === undefined ? null : { categoryId: numbered.categoryId, directories: new Uint8Array(0) }
      }
    }
    const bits = numbered.numbering.numberAll(section.directories)
    transfer.push(bits.buffer as ArrayBuffer)
    return { key: section.key, enabled: true, category: { categoryId: numbered.categoryId, directories: bits } }
  })
  return {
    message: {
      _tag: "Report",
      siteName: report.siteName,
      sitePassword: Redacted.value(report.sitePassword),
      hostName: report.hostName,
      userActive: report.userActive,
      sections
    },
    transfer
  }
}

export const fromCheckinCallMessage = (message: CheckinCallMessage): NumberedCheckinCall => {
  if (message._tag !== "Report") return message
  const { sitePassword, _tag, ...rest } = message
  return { _tag: "Report", report: { ...rest, sitePassword: Redacted.make(sitePassword) } }
}
