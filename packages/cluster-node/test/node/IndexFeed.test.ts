// The index feed (docs/redirector.md#the-index-feed): a redirector node with MM_INDEX_FEED takes its index from a full
// node instead of the database, follows the full node's changes, keeps serving while the full node restarts and
// fetches the index anew after it; the feed answers only its token.
import { assert, describe, it } from "vitest"
import { addMirror, mirrorlist, NO_CRAWLS, newDatabase, setUpContent, TOKEN, until } from "../support/Nodes.ts"
import { freePort, type RunningNode, startNode, stop, tempDir } from "../support/Process.ts"

const FEED_TOKEN = "mm_index-feed-test-token-0123456789"
/** No crawls: the mirrors here do not exist, and a crawl would take them out of the answers. */

const readiness = async (node: RunningNode) => {
  const response = await fetch(`${node.url}/healthz/ready`).catch(() => undefined)
  if (response === undefined) return "down"
  return ((await response.json()) as { status?: string }).status ?? `http ${response.status}`
}

/** The mirrorlist's URLs, in order of their lines sorted (the answer's order is shuffled). */
const listed = async (node: RunningNode) =>
  (await mirrorlist(node)).text
    .split("\n")
    .filter((line) => line.startsWith("https://"))
    .sort()

const feedRequest = (node: RunningNode, route: string, token: string | undefined) =>
  fetch(`${node.url}${route}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } })

describe("the index feed", () => {
  it("feeds a redirector node that answers like the full node, follows changes and survives the full node's restart", async () => {
    const database = await newDatabase()
    const port = await freePort()
    const fullEnv = {
      ...NO_CRAWLS,
      DATABASE_URL: database,
      MM_ADMIN_TOKEN: TOKEN,
      MM_ACCESS_LOG: "off",
      MM_DATA_DIR: tempDir(),
      MM_HTTP_PORT: String(port),
      MM_INDEX_FEED_TOKEN: FEED_TOKEN
    }
    let full = await startNode(fullEnv)
    const categoryId = await setUpContent(full)
    await addMirror(full, categoryId, "mirror-se", "SE", "https://mirror.example.se/pub/epel")
    const first = "https://mirror.example.se/pub/epel/9/Everything/x86_64/"
    await until("the full node lists the mirror", 10_000, async () => (await listed(full)).includes(first))

    // The feed answers its token only.
    for (const token of [undefined, "mm_not-the-token", `${FEED_TOKEN}x`]) {
      const refused = await feedRequest(full, "/internal/index/snapshot", token)
      assert.strictEqual(refused.status, 401, String(token))
      assert.strictEqual(refused.headers.get("www-authenticate"), "Bearer")
      await refused.text()
      const changes = await feedRequest(full, "/internal/index/changes?generation=x&after=0", token)
      assert.strictEqual(changes.status, 401, String(token))
      await changes.text()
    }
    const snapshot = await feedRequest(full, "/internal/index/snapshot", FEED_TOKEN)
    assert.strictEqual(snapshot.status, 200)
    assert.match(snapshot.headers.get("x-mm-index-generation") ?? "", /^[0-9a-f-]{36}$/)
    assert.match(snapshot.headers.get("x-mm-index-sequence") ?? "", /^\d+$/)
    await snapshot.arrayBuffer()
    const stale = await feedRequest(full, "/internal/index/changes?generation=another&after=0", FEED_TOKEN)
    assert.strictEqual(stale.status, 410)
    await stale.text()

    // The redirector node: its index from the full node's feed; no database at all (no DATABASE_URL, no embedded one).
    const follower = await startNode({
      ...NO_CRAWLS,
      MM_ROLE: "redirector",
      MM_ADMIN_TOKEN: TOKEN,
      MM_ACCESS_LOG: "off",
      MM_DATA_DIR: tempDir(),
      MM_INDEX_FEED: `http://127.0.0.1:${await freePort()},${full.url}`,
      MM_INDEX_FEED_TOKEN: FEED_TOKEN
    })
    await until("the redirector node lists the mirror", 20_000, async () => (await listed(follower)).includes(first))
    assert.deepStrictEqual(await mirrorlist(follower), await mirrorlist(full))
    assert.include(follower.output(), `index fetched from ${full.url}`)
    assert.notInclude(follower.output(), "index built in")
    assert.include(follower.output(), "role: redirector (fed by")
    assert.notInclude(follower.output(), "embedded PostgreSQL")

    // A change made through the full node's admin API reaches the redirector node through the feed.
    await addMirror(full, categoryId, "mirror-se-2", "SE", "https://mirror2.example.se/pub/epel")
    const second = "https://mirror2.example.se/pub/epel/9/Everything/x86_64/"
    await until("the redirector node lists the second mirror", 10_000, async () =>
      (await listed(follower)).includes(second)
    )
    assert.deepStrictEqual(await listed(follower), await listed(full))

    // The full node stops: the redirector node keeps answering from its index, and says it is degraded.
    // (Stopped gracefully, within the bound, though the redirector node's long poll was waiting on it.)
    assert.strictEqual(await stop(full), 0)
    await until("the redirector node says degraded", 20_000, async () => (await readiness(follower)) === "degraded")
    assert.deepStrictEqual(await listed(follower), [second, first].sort())

    // It comes back (a new generation of its index): the redirector node fetches it anew and follows it again.
    full = await startNode(fullEnv)
    await until("the redirector node is ready again", 30_000, async () => (await readiness(follower)) === "ready")
    await addMirror(full, categoryId, "mirror-se-3", "SE", "https://mirror3.example.se/pub/epel")
    const third = "https://mirror3.example.se/pub/epel/9/Everything/x86_64/"
    await until("the redirector node lists the third mirror", 10_000, async () =>
      (await listed(follower)).includes(third)
    )
    assert.deepStrictEqual(await listed(follower), await listed(full))
    assert.isAtLeast(follower.output().split(`index fetched from ${full.url}`).length - 1, 2)
    assert.strictEqual(await stop(follower), 0)
    assert.strictEqual(await stop(full), 0)
  }, 240_000)

  it("is off without a token", async () => {
    const node = await startNode({
      DATABASE_URL: await newDatabase(),
      MM_ADMIN_TOKEN: TOKEN,
      MM_ACCESS_LOG: "off",
      MM_DATA_DIR: tempDir()
    })
    for (const route of ["/internal/index/snapshot", "/internal/index/changes?generation=x&after=0"]) {
      const response = await feedRequest(node, route, "")
      assert.strictEqual(response.status, 404, route)
      await response.text()
    }
    await stop(node)
  }, 120_000)
})
