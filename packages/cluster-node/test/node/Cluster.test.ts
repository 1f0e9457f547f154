// Three node processes on one database, as a cluster: a check-in sent to one node is applied by the host's entity
// wherever it lives and reaches every node's mirrorlist within a second; after `kill -9` of the node that holds the
// host, a check-in sent to a survivor is applied within the shard-lock expiration and a few seconds (usually within
// a few seconds; docs/operations.md#shard-locks), and nothing applied before is lost.
import { assert, describe, it } from "vitest"
import {
  addCampusMirror,
  campusConfig,
  checkIn,
  checkInAsync,
  mirrorlist,
  newDatabase,
  setUpContent,
  TOKEN,
  until
} from "../support/Nodes.ts"
import { type RunningNode, startNode, tempDir } from "../support/Process.ts"

const SUCCESS = /checked in successful$/

describe("a cluster of three nodes", () => {
  it("routes check-ins to the host's entity, and takes the host over when its node is killed", async () => {
    const database = await newDatabase()
    const env = { DATABASE_URL: database, MM_ADMIN_TOKEN: TOKEN, MM_ACCESS_LOG: "off" }
    const nodes: Array<RunningNode> = []
    for (let i = 0; i < 3; i++) nodes.push(await startNode({ ...env, MM_DATA_DIR: tempDir() }))
    const [a, , c] = nodes as [RunningNode, RunningNode, RunningNode]
    const categoryId = await setUpContent(a)

    // A private mirror for the clients of its netblock; up to date on what its check-ins say.
    const { host } = await addCampusMirror(a, categoryId)
    const config = (paths: ReadonlyArray<string>) => campusConfig(a, paths)
    const url = "https://mirror.campus.example/epel/9/Everything/x86_64/"
    const campus = "repo=epel-9&arch=x86_64&ip=198.51.100.7"
    assert.notInclude((await mirrorlist(c, campus)).text, url)

    // Sent to A, served by C within a second.
    const sent = Date.now()
    assert.strictEqual(
      checkIn(a, config(["", "9", "9/Everything", "9/Everything/x86_64", "9/Everything/x86_64/repodata"])),
      "Category Fedora EPEL directories updated: 0  added: 5  deleted 0\nchecked in successful"
    )
    const took = await until("C lists the checked-in mirror", 1_000, async () =>
      (await mirrorlist(c, campus)).text.includes(url)
    )
    assert.isAtMost(took, 1_000, `listed ${Date.now() - sent} ms after the check-in was sent`)
    assert.match((await mirrorlist(c, campus)).text, /^# repo = epel-9 arch = x86_64 Using preferred netblock /)

    // Check-ins of the host sent to all three nodes at once are applied one after the other: each whole, none lost.
    const sets = [
      ["", "9"],
      ["", "9", "9/Everything"],
      ["", "9/Everything/x86_64"],
      ["9", "9/Everything/x86_64"]
    ]
    const replies = await Promise.all(sets.map((paths, i) => checkInAsync(nodes[i % 3]!, config(paths))))
    for (const reply of replies) assert.match(reply, SUCCESS)
    const counts = replies.map((reply) =>
      /updated: (\d+) {2}added: (\d+) {2}deleted (\d+)/.exec(reply)!.slice(1).join(",")
    )
    // They were applied in some order, each to exactly what the one before it left: one order explains every reply.
    const whole = ["", "9", "9/Everything", "9/Everything/x86_64", "9/Everything/x86_64/repodata"]
    const orders = (items: ReadonlyArray<number>): Array<Array<number>> =>
      items.length === 0 ? [[]] : items.flatMap((x) => orders(items.filter((y) => y !== x)).map((rest) => [x, ...rest]))
    const explains = orders([0, 1, 2, 3]).some((order) => {
      let state = new Set(whole)
      return order.every((i) => {
        const next = new Set(sets[i])
        const updated = [...next].filter((p) => state.has(p)).length
        const expected = `${updated},${next.size - updated},${[...state].filter((p) => !next.has(p)).length}`
        state = next
        return counts[i] === expected
      })
    })
    assert.isTrue(explains, `no order of the check-ins explains the replies ${JSON.stringify(counts)}`)
    // Back to the whole tree, for what follows.
    assert.match(
      checkIn(a, config(["", "9", "9/Everything", "9/Everything/x86_64", "9/Everything/x86_64/repodata"])),
      SUCCESS
    )

    // The node holding the host's entity says so in its log; it is killed without a chance to hand over.
    const owner = nodes.find(
      (n) => n.output().includes(`hostId=${host.id} `) && n.output().includes("host entity active")
    )
    assert.isDefined(owner, "one node holds the host's entity")
    owner!.process.kill("SIGKILL")
    await owner!.exited
    const survivors = nodes.filter((n) => n !== owner)

    // A check-in sent to a survivor is applied once the host has moved: within seconds when a survivor's health check
    // finds the node gone, at worst once its runner has been silent for the shard-lock expiration (30 s: when the
    // killed node was the one checking the others' health). An attempt during the hand-over may fail or wait; it is
    // given up after 4 s and sent again, as the client's next run would.
    let reply = ""
    const tookOver = await until("a survivor applies the next check-in", 45_000, async () => {
      reply = checkIn(
        survivors[0]!,
        config(["", "9", "9/Everything", "9/Everything/x86_64", "9/Everything/x86_64/repodata"]),
        4_000
      )
      return SUCCESS.test(reply)
    }).catch((error) => {
      throw new Error(
        `${error}\n${survivors.map((n) => n.output().split("\n").slice(-25).join("\n")).join("\n----\n")}`
      )
    })
    assert.isAtMost(tookOver, 45_000)
    // Nothing applied before was lost: the five directories are there, unchanged.
    assert.strictEqual(reply, "Category Fedora EPEL directories updated: 5  added: 0  deleted 0\nchecked in successful")
    for (const node of survivors) assert.include((await mirrorlist(node, campus)).text, url)

    // And the host's new home applies changes as before: the repository gone, on every survivor within a second.
    assert.match(checkIn(survivors[1]!, config(["", "9"])), /added: 0 {2}deleted 3\nchecked in successful$/)
    for (const node of survivors) {
      await until(
        "the survivors drop the repository",
        1_000,
        async () => !(await mirrorlist(node, campus)).text.includes(url)
      )
    }
  }, 180_000)
})
