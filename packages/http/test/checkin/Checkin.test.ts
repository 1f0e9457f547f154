// report_mirror check-ins over real HTTP (docs/checkin.md#protocol): requests built as the upstream client builds them,
// replies read by Python's xmlrpc.client, and what each check-in wrote (or, refused, did not write).
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, layer } from "@effect/vitest"
import { CheckinReplies, XmlRpcFaultCodes } from "@mirrormanager/domain/checkin"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { checkinPayload, methodCallBody, readResponseAsPython } from "../support/CheckinWire.ts"
import {
  createCategory,
  createHost,
  createHostCategory,
  createSite,
  SITE_PASSWORD,
  scanCategory,
  unique
} from "../support/Fixtures.ts"
import { changedTables, snapshot } from "../support/Requests.ts"
import { TestNode, testNodeLayer } from "../support/TestNode.ts"

const CHECKIN_WIRE = path.resolve(import.meta.dirname, "../../../../test-support/checkin_wire.py")

/** A master tree: 9, 9/Everything, 9/Everything/x86_64, 9/Everything/x86_64/repodata, 10. */
const masterTree = () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mm-checkin-master-"))
  fs.chmodSync(root, 0o755)
  fs.mkdirSync(path.join(root, "9/Everything/x86_64/repodata"), { recursive: true })
  fs.mkdirSync(path.join(root, "10"))
  return root
}

/** A scanned category, and a site with one host carrying it. */
const world = (hostFields: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const name = unique("Fedora EPEL ")
    const category = yield* createCategory({ name, topdir: unique("pub/epel-"), masterPath: masterTree() })
    yield* scanCategory(category.id)
    const site = yield* createSite()
    const host = yield* createHost(site.id, { name: unique("mirror-"), ...hostFields })
    const hostCategory = yield* createHostCategory(host.id, category.id)
    return { category, site, host, hostCategory, key: name.toLowerCase() }
  })

type World = Effect.Success<ReturnType<typeof world>>

/** The config the client would send for the world, with these categories' dirtrees. */
const configOf = (
  w: World,
  dirtrees: Record<string, ReadonlyArray<string>>,
  overrides: { site?: Record<string, string>; host?: Record<string, string>; extra?: Record<string, unknown> } = {}
) => ({
  version: 0,
  global: { enabled: "1", server: "http://127.0.0.1/xmlrpc" },
  site: { enabled: "1", name: w.site.name, password: SITE_PASSWORD, ...overrides.site },
  host: { enabled: "1", name: w.host.name, ...overrides.host },
  stats: {},
  ...Object.fromEntries(
    Object.entries(dirtrees).map(([key, paths]) => [
      key,
      { enabled: "1", dirtree: Object.fromEntries(paths.map((p) => [p, {}])) }
    ])
  ),
  ...overrides.extra
})

/** POSTs a body to /xmlrpc; the reply as Python's xmlrpc.client reads it. */
const post = (body: string, headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const node = yield* TestNode
    const reply = yield* node.request("POST", "/xmlrpc", {
      token: null,
      rawBody: body,
      headers: { "content-type": "text/xml", "user-agent": "Python-xmlrpc/3.11", ...headers }
    })
    assert.strictEqual(reply.status, 200, reply.text)
    assert.match(reply.headers.get("content-type") ?? "", /^text\/xml/)
    return readResponseAsPython(reply.text)
  })

const checkIn = (config: unknown) =>
  Effect.map(post(methodCallBody("checkin", [checkinPayload(config)])), (reply) => reply.value as string)

const directoriesOf = (hostCategoryId: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // What selection reads: the directories whose bit is set in the host category's bitset.
    return yield* sql<{ path: string }>`
      SELECT CASE WHEN d.name = t.name THEN '' ELSE substr(d.name, length(t.name) + 2) END AS path
      FROM host_category_up2date b JOIN host_categories hc ON hc.id = b.host_category_id
      JOIN categories c ON c.id = hc.category_id JOIN directories t ON t.id = c.topdir_id
      JOIN category_directories cd ON cd.category_id = hc.category_id JOIN directories d ON d.id = cd.directory_id
      WHERE b.host_category_id = ${hostCategoryId} AND cd.ordinal < length(b.bits) * 8
        AND get_bit(b.bits, cd.ordinal) = 1
      ORDER BY path`
  }).pipe(Effect.orDie)

const hostRow = (hostId: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ userActive: boolean; disabledBy: string; lastCheckedIn: Date | null }>`
      SELECT user_active AS "userActive", disabled_by AS "disabledBy", last_checked_in AS "lastCheckedIn"
      FROM hosts WHERE id = ${hostId}`
    return row!
  }).pipe(Effect.orDie)

const forgetFailures = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DELETE FROM checkin_failures`
}).pipe(Effect.orDie)

layer(testNodeLayer(), { excludeTestServices: true })("report_mirror check-ins", (it) => {
  it.effect("a private host's check-in is authoritative: reported directories up to date, the others gone", () =>
    Effect.gen(function* () {
      const w = yield* world({ private: true })
      const name = w.category.name
      const first = yield* checkIn(configOf(w, { [w.key]: ["", "9/", "/9/Everything/x86_64", "9/not-in-the-tree"] }))
      assert.strictEqual(
        first,
        `Category ${name} directories updated: 0  added: 3  deleted 0\n${CheckinReplies.success}`
      )
      assert.deepStrictEqual(yield* directoriesOf(w.hostCategory.id), [
        { path: "" },
        { path: "9" },
        { path: "9/Everything/x86_64" }
      ])
      assert.isNotNull((yield* hostRow(w.host.id)).lastCheckedIn)

      // The next check-in: one kept, one new, two gone; a category the host lacks and a disabled one are named or
      // ignored, in the section names the client sent.
      const second = yield* checkIn(
        configOf(
          w,
          { [w.key]: ["9", "9/Everything"], "fedora nothing": [""] },
          { extra: { "fedora off": { enabled: "0", dirtree: { "": {} } } } }
        )
      )
      assert.strictEqual(
        second,
        `Category ${name} directories updated: 1  added: 1  deleted 2\n` +
          `Category fedora nothing not configured for this host, skipped\n${CheckinReplies.success}`
      )
      assert.deepStrictEqual(
        (yield* directoriesOf(w.hostCategory.id)).map((d) => d.path),
        ["9", "9/Everything"]
      )

      // A directory the master tree gains (and one it renames) counts at the very next check-in: what the node keeps
      // of the category's directories follows them.
      const sql = yield* SqlClient.SqlClient
      const [topdir] = yield* sql<{ name: string }>`SELECT d.name FROM categories c JOIN directories d
        ON d.id = c.topdir_id WHERE c.id = ${w.category.id}`
      const [added] = yield* sql<{ id: number }>`INSERT INTO directories (name) VALUES (${`${topdir!.name}/11`})
        RETURNING id`
      yield* sql`INSERT INTO category_directories (category_id, directory_id) VALUES (${w.category.id}, ${added!.id})`
      yield* sql`UPDATE directories SET name = ${`${topdir!.name}/9/Renamed`}
        WHERE name = ${`${topdir!.name}/9/Everything`}`
      const third = yield* checkIn(configOf(w, { [w.key]: ["9", "11", "9/Renamed", "9/Everything"] }))
      assert.strictEqual(
        third,
        `Category ${name} directories updated: 2  added: 1  deleted 0\n${CheckinReplies.success}`
      )
      assert.deepStrictEqual(
        (yield* directoriesOf(w.hostCategory.id)).map((d) => d.path),
        ["11", "9", "9/Renamed"]
      )
    })
  )

  it.effect("a config file as operators write it: its copy walked and sent as report_mirror does", () =>
    Effect.gen(function* () {
      const w = yield* world({ private: true })
      const node = yield* TestNode
      const copy = masterTree()
      const conf = path.join(copy, "..", `${path.basename(copy)}.conf`)
      fs.writeFileSync(
        conf,
        fs
          .readFileSync(path.join(import.meta.dirname, "../fixtures/report_mirror.conf"), "utf8")
          .replace("{server}", `${node.baseUrl}/xmlrpc`)
          .replace("{site}", w.site.name)
          .replace("{password}", SITE_PASSWORD)
          .replace("{host}", w.host.name)
          .replace("{category}", w.category.name)
          .replace("{path}", copy)
      )
      const run = yield* Effect.promise(
        () =>
          new Promise<{ code: number | null; out: string }>((resolve) => {
            const child = spawn("python3", [CHECKIN_WIRE, "report", conf])
            let out = ""
            child.stdout.on("data", (chunk) => (out += chunk))
            child.stderr.on("data", (chunk) => (out += chunk))
            child.on("exit", (code) => resolve({ code, out }))
          })
      )
      assert.strictEqual(run.code, 0, run.out)
      // The copy has the master's six directories; the disabled [Fedora Archive] section is not reported.
      assert.strictEqual(
        run.out,
        `Category ${w.category.name} directories updated: 0  added: 6  deleted 0\n${CheckinReplies.success}`
      )
      assert.deepStrictEqual(
        (yield* directoriesOf(w.hostCategory.id)).map((d) => d.path),
        ["", "10", "9", "9/Everything", "9/Everything/x86_64", "9/Everything/x86_64/repodata"]
      )
    })
  )

  it.effect("a public host's check-in is a claim waiting for a crawl: no directory changes", () =>
    Effect.gen(function* () {
      const w = yield* world({ private: false })
      const reply = yield* checkIn(configOf(w, { [w.key]: ["", "9", "9/nowhere"] }))
      assert.strictEqual(
        reply,
        `Category ${w.category.name} directories reported: 2  verification scheduled\n${CheckinReplies.success}`
      )
      assert.deepStrictEqual(yield* directoriesOf(w.hostCategory.id), [])
      const sql = yield* SqlClient.SqlClient
      const [claim] = yield* sql<{ paths: Array<string>; verificationDue: boolean }>`
        SELECT paths, verification_due AS "verificationDue" FROM host_category_claims
        WHERE host_category_id = ${w.hostCategory.id}`.pipe(Effect.orDie)
      assert.deepStrictEqual(claim?.paths.toSorted(), ["", "9"])
      assert.isTrue(claim?.verificationDue)
    })
  )

  it.effect("user_active switches the host off and on again; a crawler's disable of a public host stays", () =>
    Effect.gen(function* () {
      const w = yield* world({ private: false })
      yield* checkIn(configOf(w, { [w.key]: [""] }, { host: { user_active: "0" } }))
      assert.deepInclude(yield* hostRow(w.host.id), { userActive: false, disabledBy: "user" })
      yield* checkIn(configOf(w, { [w.key]: [""] }, { host: { user_active: "yes" } }))
      assert.deepInclude(yield* hostRow(w.host.id), { userActive: true, disabledBy: "none" })
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE hosts SET user_active = false, disabled_by = 'crawler' WHERE id = ${w.host.id}`.pipe(
        Effect.orDie
      )
      yield* checkIn(configOf(w, { [w.key]: [""] }, { host: { user_active: "1" } }))
      assert.deepInclude(yield* hostRow(w.host.id), { userActive: false, disabledBy: "crawler" })
    })
  )

  it.effect("wrong site names, passwords and hosts are refused with upstream's strings, writing nothing", () =>
    Effect.gen(function* () {
      const w = yield* world({ private: true })
      const before = yield* snapshot
      assert.strictEqual(
        yield* checkIn(configOf(w, { [w.key]: [""] }, { site: { password: "wrong" } })),
        CheckinReplies.badCredentials
      )
      assert.strictEqual(
        yield* checkIn(configOf(w, { [w.key]: [""] }, { site: { name: "no such site" } })),
        CheckinReplies.badCredentials
      )
      assert.strictEqual(
        yield* checkIn(configOf(w, { [w.key]: [""] }, { host: { name: "no-such-host" } })),
        CheckinReplies.unknownHost
      )
      assert.strictEqual(
        yield* checkIn({ ...configOf(w, { [w.key]: [""] }), version: 1 }),
        CheckinReplies.invalidConfig
      )
      assert.deepStrictEqual(changedTables(before, yield* snapshot), [])
      yield* forgetFailures
    })
  )

  it.effect("after ten failed logins a site is refused even with its password, for a while", () =>
    Effect.gen(function* () {
      const w = yield* world({ private: true })
      for (let i = 0; i < 10; i++) {
        yield* checkIn(configOf(w, { [w.key]: [""] }, { site: { password: `guess ${i}` } }))
      }
      assert.strictEqual(yield* checkIn(configOf(w, { [w.key]: [""] })), CheckinReplies.badCredentials)
      assert.deepStrictEqual(yield* directoriesOf(w.hostCategory.id), [])
      yield* forgetFailures
      assert.match(yield* checkIn(configOf(w, { [w.key]: [""] })), /checked in successful$/)
    })
  )

  it.effect("malformed calls get XML-RPC faults; oversized bodies are refused unread", () =>
    Effect.gen(function* () {
      const before = yield* snapshot
      const faultOf = (body: string) => Effect.map(post(body), (reply) => reply.fault?.[0])
      assert.strictEqual(yield* faultOf("<methodCall><methodName>checkin"), XmlRpcFaultCodes.parseError)
      assert.strictEqual(yield* faultOf(methodCallBody("system.listMethods", [])), XmlRpcFaultCodes.unknownMethod)
      assert.strictEqual(yield* faultOf(methodCallBody("checkin", [])), XmlRpcFaultCodes.invalidParams)
      assert.strictEqual(yield* faultOf(methodCallBody("checkin", ["a", "b"])), XmlRpcFaultCodes.invalidParams)
      assert.strictEqual(yield* faultOf(methodCallBody("checkin", [42])), XmlRpcFaultCodes.invalidParams)
      const huge = methodCallBody("checkin", ["A".repeat(9 * 1024 * 1024)])
      assert.strictEqual(yield* faultOf(huge), XmlRpcFaultCodes.invalidRequest)
      assert.deepStrictEqual(
        (yield* post(methodCallBody("checkin", ["not a payload"]))).value,
        CheckinReplies.invalidConfig
      )
      assert.deepStrictEqual(changedTables(before, yield* snapshot), [])
    })
  )

  it.effect("concurrent check-ins of one host apply one after the other, none lost", () =>
    Effect.gen(function* () {
      const w = yield* world({ private: true })
      const sets = [[""], ["9"], ["9", "9/Everything"], ["10"], ["", "10"], ["9/Everything/x86_64"]]
      const replies = yield* Effect.forEach(sets, (paths) => checkIn(configOf(w, { [w.key]: paths })), {
        concurrency: "unbounded"
      })
      for (const reply of replies)
        assert.match(reply, /directories updated: \d+ {2}added: \d+ {2}deleted \d+\nchecked in successful$/)
      // The final state is one of the reported sets, whole.
      const final = (yield* directoriesOf(w.hostCategory.id)).map((d) => d.path)
      assert.isTrue(
        sets.some((set) => JSON.stringify(set.toSorted()) === JSON.stringify(final)),
        final.join(",")
      )
    })
  )
})
