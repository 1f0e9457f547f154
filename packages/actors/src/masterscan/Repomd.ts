// repomd.xml, the index of a yum repository's metadata: its timestamp is the newest `<timestamp>` of its `<data>`.
import { SaxesParser } from "saxes"

/** 9999-12-31T23:59:59Z: a larger <timestamp> is not a time. */
const LATEST_TIME = 253_402_300_799

export type RepomdTimestamp =
  | { readonly _tag: "Timestamp"; readonly timestamp: number }
  | { readonly _tag: "NoTimestamp" }
  | { readonly _tag: "Malformed"; readonly reason: string }

/** Reads repomd.xml with a strict XML parser; entities are never expanded beyond XML's predefined ones. */
export const repomdTimestamp = (xml: string): RepomdTimestamp => {
  const parser = new SaxesParser({ xmlns: true, position: true })
  const stack: Array<string> = []
  let root: string | undefined
  let newest: number | undefined
  let text = ""
  let failure: string | undefined
  parser.on("error", (error) => {
    failure ??= error.message
  })
  parser.on("opentag", (tag) => {
    root ??= tag.local
    stack.push(tag.local)
    text = ""
  })
  parser.on("text", (chunk) => {
    text += chunk
  })
  parser.on("cdata", (chunk) => {
    text += chunk
  })
  parser.on("closetag", (tag) => {
    if (tag.local === "timestamp" && stack.at(-2) === "data") {
      const value = Number(text.trim())
      if (!/^\d+(\.\d+)?$/.test(text.trim()) || value > LATEST_TIME) {
        failure ??= `<data><timestamp> is not a time: "${text.trim().slice(0, 40)}"`
      } else {
        newest = Math.max(newest ?? 0, Math.floor(value))
      }
    }
    stack.pop()
  })
  try {
    parser.write(xml).close()
  } catch (error) {
    failure ??= error instanceof Error ? error.message : String(error)
  }
  if (failure !== undefined) return { _tag: "Malformed", reason: failure }
  if (root !== "repomd") return { _tag: "Malformed", reason: `the root element is <${root ?? ""}>, not <repomd>` }
  return newest === undefined ? { _tag: "NoTimestamp" } : { _tag: "Timestamp", timestamp: newest }
}
