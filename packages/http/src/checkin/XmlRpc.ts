// XML-RPC as report_mirror speaks it (docs/checkin.md#payload): a method call read with a strict XML parser (no DTD, no
// entities beyond XML's own), and method responses and faults written.
import { XmlRpcFaultCodes } from "@mirrormanager/domain/checkin"
import { SaxesParser } from "saxes"

export type XmlRpcValue =
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "int" | "double"; readonly value: number }
  | { readonly type: "boolean"; readonly value: boolean }
  /** Types the check-in never needs (base64, dateTime, arrays, structs, nil), kept by name only. */
  | { readonly type: "other"; readonly name: string }

export interface XmlRpcCall {
  readonly methodName: string
  readonly params: ReadonlyArray<XmlRpcValue>
}

export interface XmlRpcFault {
  readonly faultCode: number
  readonly faultString: string
}

/** Elements a method call may hold: a check-in has seven; more is no check-in. */
const MAX_ELEMENTS = 10_000

interface Element {
  readonly name: string
  readonly children: Array<Element>
  text: string
}

const fault = (faultCode: number, faultString: string): XmlRpcFault => ({ faultCode, faultString })

/** The document as elements (text kept per element), or a parse-error fault. */
const readDocument = (xml: string): Element | XmlRpcFault => {
  const parser = new SaxesParser({ xmlns: false })
  const stack: Array<Element> = []
  let root: Element | undefined
  let elements = 0
  let failure: XmlRpcFault | undefined
  parser.on("error", (error) => {
    failure ??= fault(XmlRpcFaultCodes.parseError, `not well-formed XML: ${error.message}`)
  })
  parser.on("doctype", () => {
    failure ??= fault(XmlRpcFaultCodes.parseError, "a document type declaration is not accepted")
  })
  parser.on("opentag", (tag) => {
    if (++elements > MAX_ELEMENTS) {
      failure ??= fault(XmlRpcFaultCodes.invalidRequest, `more than ${MAX_ELEMENTS} elements`)
      return
    }
    const element: Element = { name: tag.name, children: [], text: "" }
    const parent = stack.at(-1)
    if (parent === undefined) root = element
    else parent.children.push(element)
    stack.push(element)
  })
  const addText = (text: string) => {
    const current = stack.at(-1)
    if (current !== undefined) current.text += text
  }
  parser.on("text", addText)
  parser.on("cdata", addText)
  parser.on("closetag", () => {
    stack.pop()
  })
  try {
    parser.write(xml)
    if (failure === undefined) parser.close()
  } catch (error) {
    failure ??= fault(
      XmlRpcFaultCodes.parseError,
      `not well-formed XML: ${error instanceof Error ? error.message : String(error)}`
    )
  }
  if (failure !== undefined) return failure
  if (root === undefined) return fault(XmlRpcFaultCodes.parseError, "no document element")
  return root
}

const isFault = (value: unknown): value is XmlRpcFault =>
  typeof value === "object" && value !== null && "faultCode" in value

const readValue = (element: Element): XmlRpcValue | XmlRpcFault => {
  // A <value> without a type element is a string, whitespace and all.
  if (element.children.length === 0) return { type: "string", value: element.text }
  if (element.children.length > 1) return fault(XmlRpcFaultCodes.invalidRequest, "a <value> holds one type element")
  const typed = element.children[0]!
  const text = typed.text
  switch (typed.name) {
    case "string":
      return typed.children.length === 0
        ? { type: "string", value: text }
        : fault(XmlRpcFaultCodes.invalidRequest, "a <string> holds text only")
    case "int":
    case "i4":
    case "i8":
      return /^\s*[+-]?\d{1,19}\s*$/.test(text)
        ? { type: "int", value: Number(text) }
        : fault(XmlRpcFaultCodes.invalidRequest, `not an integer: "${text.slice(0, 40)}"`)
    case "double":
      return Number.isFinite(Number(text)) && text.trim() !== ""
        ? { type: "double", value: Number(text) }
        : fault(XmlRpcFaultCodes.invalidRequest, `not a number: "${text.slice(0, 40)}"`)
    case "boolean":
      return text.trim() === "1" || text.trim() === "0"
        ? { type: "boolean", value: text.trim() === "1" }
        : fault(XmlRpcFaultCodes.invalidRequest, "a <boolean> is 0 or 1")
    default:
      return { type: "other", name: typed.name }
  }
}

/** Reads an XML-RPC method call; a fault says what is wrong with it. */
export const readMethodCall = (xml: string): XmlRpcCall | XmlRpcFault => {
  const root = readDocument(xml)
  if (isFault(root)) return root
  if (root.name !== "methodCall") {
    return fault(XmlRpcFaultCodes.invalidRequest, `the document is <${root.name}>, not <methodCall>`)
  }
  const names = root.children.filter((c) => c.name === "methodName")
  if (names.length !== 1 || names[0]!.children.length > 0) {
    return fault(XmlRpcFaultCodes.invalidRequest, "a method call names one method in <methodName>")
  }
  const others = root.children.filter((c) => c.name !== "methodName" && c.name !== "params")
  if (others.length > 0) return fault(XmlRpcFaultCodes.invalidRequest, `unexpected <${others[0]!.name}>`)
  const paramsElements = root.children.filter((c) => c.name === "params")
  if (paramsElements.length > 1) return fault(XmlRpcFaultCodes.invalidRequest, "more than one <params>")
  const params: Array<XmlRpcValue> = []
  for (const param of paramsElements[0]?.children ?? []) {
    const value = param.children[0]
    if (param.name !== "param" || param.children.length !== 1 || value?.name !== "value") {
      return fault(XmlRpcFaultCodes.invalidRequest, "each <param> holds one <value>")
    }
    const read = readValue(value)
    if (isFault(read)) return read
    params.push(read)
  }
  return { methodName: names[0]!.text.trim(), params }
}

export const isXmlRpcFault = isFault

/** Text as XML 1.0 allows it: markup characters escaped, control characters other than tab and newline as `?`. */
const escapeText = (text: string) => {
  let safe = ""
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    safe += c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d ? "?" : text[i]
  }
  return safe.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
}

/** A method response holding one string, as Python's xmlrpc.server writes it. */
export const methodResponse = (value: string): string =>
  `<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><string>${escapeText(value)}</string></value>\n</param>\n</params>\n</methodResponse>\n`

/** A fault response (struct of int faultCode and string faultString). */
export const faultResponse = ({ faultCode, faultString }: XmlRpcFault): string =>
  `<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>${faultCode}</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>${escapeText(faultString)}</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n`
