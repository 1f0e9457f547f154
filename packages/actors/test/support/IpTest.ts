// Small helpers of the IP-data tests: addresses that must parse, temporary directories, waiting for a reload.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { type ClientAddress, parseClientAddress } from "../../src/ipdata/IpAddress.ts"

export const address = (text: string): ClientAddress => {
  const parsed = parseClientAddress(text)
  if (parsed === undefined) throw new Error(`test address ${text} does not parse`)
  return parsed
}

export const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), `mm-${prefix}-`))

/** Polls `check` until it holds or `seconds` pass; the last answer. */
export const eventually = (check: () => boolean, seconds = 5) =>
  Effect.gen(function* () {
    for (let waited = 0; waited < seconds * 1000; waited += 50) {
      if (check()) return true
      yield* Effect.sleep("50 millis")
    }
    return check()
  })
