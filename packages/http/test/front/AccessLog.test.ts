// The access log: one line per request in upstream's form, fields an outsider controls made harmless, and a log
// that cannot be written given up without harm to the node.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { accessLogLine, openAccessLog } from "../../src/front/AccessLog.ts"
import type { Answer } from "../../src/redirector/Answer.ts"

const answerWith = (fields: Partial<Answer["log"]>): Answer => ({
  endpoint: "metalink",
  status: 200,
  headers: {},
  body: [],
  log: {
    client: "192.0.2.10",
    country: "DE",
    repo: "epel-9",
    arch: "x86_64",
    path: undefined,
    hosts: 12,
    countme: "1",
    result: "ok",
    ...fields
  }
})

describe("access log", () => {
  it("writes upstream's fields, and nothing a client sends can split or stretch a line", () => {
    const at = Date.UTC(2026, 10, 25, 12, 0, 0)
    assert.strictEqual(
      accessLogLine(at, answerWith({})),
      "2026-11-25T12:00:00.000Z IP: 192.0.2.10; DATE: 2026-11-25; COUNTRY: DE; REPO: epel-9; ARCH: x86_64; PATH: -; MODE: metalink; STATUS: 200; HOSTS: 12; COUNTME: 1; RESULT: ok\n"
    )
    const line = accessLogLine(at, answerWith({ repo: `a;b\r\nIP: 1.2.3.4 ${"x".repeat(5000)}`, result: "x\ny" }))
    assert.strictEqual(line.split("\n").length, 2)
    assert.include(line, "REPO: a_b__IP:_1.2.3.4_xxx")
    assert.isBelow(line.length, 700)
  })

  it("lines reach the file; a file that cannot be written is given up, and the node goes on", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mm-access-"))
    const file = path.join(dir, "access.log")
    const log = openAccessLog(file)
    log.record(Date.now(), answerWith({}))
    await log.close()
    assert.include(fs.readFileSync(file, "utf8"), "REPO: epel-9; ARCH: x86_64")

    const broken = openAccessLog(path.join(dir, "missing", "access.log"))
    broken.record(Date.now(), answerWith({}))
    await new Promise((resolve) => setTimeout(resolve, 300))
    broken.record(Date.now(), answerWith({}))
    await broken.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
