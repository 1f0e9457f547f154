// The report_mirror check-in (docs/checkin.md#protocol): what a mirror host reports after its rsync, as the server
// reads it from the upstream client's payload, and the reply strings the upstream client prints.
import { Schema } from "effect"
import { CategoryId } from "../registry/index.ts"

/** One category section of the client's config file. */
export const CheckinCategory = Schema.Struct({
  /** The section name, lower-cased by the client (matched case-insensitively against category names). */
  key: Schema.String,
  /** False when the section says `enabled` other than "1" (the upstream client sends disabled sections too). */
  enabled: Schema.Boolean,
  /** Directories relative to the category's top, `/` stripped at both ends; "" is the top itself. */
  directories: Schema.Array(Schema.String)
}).annotate({ identifier: "CheckinCategory" })
export type CheckinCategory = typeof CheckinCategory.Type

/** Who checks in: the site and its password, the host, and `user_active` of the host section (undefined: absent). */
const checkinHeader = {
  siteName: Schema.String,
  sitePassword: Schema.Redacted(Schema.String),
  hostName: Schema.String,
  userActive: Schema.UndefinedOr(Schema.Boolean)
}

/** A check-in payload that passed the checks of docs/checkin.md#payload. */
export const CheckinReport = Schema.Struct({
  ...checkinHeader,
  categories: Schema.Array(CheckinCategory)
}).annotate({ identifier: "CheckinReport" })
export type CheckinReport = typeof CheckinReport.Type

/**
 * A category section of a check-in as the host's entity applies it: its paths looked up among the category's
 * directories where the check-in was read (docs/checkin.md#decoding), so that what crosses threads and nodes is a
 * bitset of some kilobytes, not 100,000 strings.
 */
export const CheckinSection = Schema.Struct({
  /** The section name, as sent. */
  key: Schema.String,
  enabled: Schema.Boolean,
  /**
   * The category the key names (case-insensitively), and the directories among the paths as a bitset of their
   * numbers (`category_directories.ordinal`; byte n >> 3, bit n & 7 from the lowest); null when it names none.
   */
  category: Schema.NullOr(Schema.Struct({ categoryId: CategoryId, directories: Schema.Uint8Array }))
}).annotate({ identifier: "CheckinSection" })
export type CheckinSection = typeof CheckinSection.Type

/** A check-in payload that passed the checks, its sections' paths looked up (see CheckinSection). */
export const NumberedCheckin = Schema.Struct({
  ...checkinHeader,
  sections: Schema.Array(CheckinSection)
}).annotate({ identifier: "NumberedCheckin" })
export type NumberedCheckin = typeof NumberedCheckin.Type

/** The reply strings of the upstream server, which the upstream client prints as they are. */
export const CheckinReplies = {
  invalidConfig: "Invalid config file provided, please check your report_mirror.conf.\nerror checking in",
  badCredentials: "Config file site name or password incorrect.\nerror checking in",
  unknownHost: "Config file host name for site not found.\nerror checking in",
  success: "checked in successful",
  failure: "error checking in"
} as const

/** XML-RPC fault codes of malformed calls (the specification for fault code interoperability). */
export const XmlRpcFaultCodes = {
  /** The body is not well-formed XML, or holds a DTD. */
  parseError: -32700,
  /** Not an XML-RPC method call, or too large. */
  invalidRequest: -32600,
  unknownMethod: -32601,
  /** Not exactly one string parameter. */
  invalidParams: -32602,
  /** The server cannot take the call now (too many check-ins waiting to be read): try again later. */
  serverBusy: -32400
} as const
