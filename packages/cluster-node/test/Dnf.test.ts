// A real yum client (dnf 4 with librepo) against a real node: the master tree is scanned, two mirrors on loopback
// carry it — one fresh, one stale — and dnf gets them through /metalink and /mirrorlist.
//
// First both hosts are only declared up to date (alwaysUp2date): through a metalink dnf checks the repomd.xml of
// each mirror against the master's hashes and moves on from a stale one; through a plain mirrorlist nothing is
// verified and the first mirror wins. The stale mirror is put first on purpose: it has a netblock holding
// 127.0.0.1 (the client), and netblock hosts come first. Then both are crawled: the stale mirror's repodata/ is
// known stale, so no answer for the repository lists it — not even the plain mirrorlist, whose client cannot
// verify anything — and an answer left without a mirror says why.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { newDatabase } from "./support/Databases.ts"
import { api, type RunningNode, startNode, tempDir } from "./support/Process.ts"
import { createRepo, type DnfResult, dnfClient, onPath, serveDirectory, type WatchedMirror } from "./support/Yum.ts"

const missing = ["dnf", "createrepo_c"].filter((tool) => !onPath(tool))
if (missing.length > 0) {
  console.warn(
    `Dnf.test.ts skipped: ${missing.join(" and ")} not on PATH ` +
      "(Debian: apt-get install --no-install-recommends dnf createrepo-c; .ci/run installs them when run as root)"
  )
}

const TOKEN = "mm_dnf-test-admin"
const REPO = "epel-9"
const ARCH = "x86_64"
/** The repository below the category's top directory `pub/epel` that the built-in rules name `epel-9`/x86_64. */
const REPO_DIR = "9/Everything/x86_64"
const REPODATA = `${REPO_DIR}/repodata`

const hex = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest("hex")

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The end of a long log, for assertion messages. */
const tail = (text: string, lines = 40) => text.split("\n").slice(-lines).join("\n")

describe.skipIf(missing.length > 0)("a real dnf client", () => {
  let node: RunningNode
  let fresh: WatchedMirror
  let stale: WatchedMirror
  let masterRepomd: Buffer
  let freshHostId: number
  let staleHostId: number
  let categoryId: number
  /** Host category ids of the fresh and the stale host. */
  const hostCategories: Array<number> = []

  /** An admin API call that must answer `status`; on failure the message has the answer and the node's log. */
  const call = async (status: number, method: string, route: string, body?: unknown) => {
    const response = await api(node, TOKEN, method, route, body)
    if (response.status !== status) {
      throw new Error(
        `${method} ${route} answered ${response.status}, not ${status}: ${response.text}\nnode log:\n${tail(node.output())}`
      )
    }
    return response.body
  }

  const baseUrl = (mirror: WatchedMirror) => `${mirror.url}/pub/epel/${REPO_DIR}/`
  const redirector = (kind: "metalink" | "mirrorlist") => `${node.url}/${kind}?repo=${REPO}&arch=${ARCH}`

  /** Polls the plain mirrorlist until it lists exactly `expected` (the redirector follows admin writes shortly). */
  const awaitMirrorlist = async (expected: ReadonlyArray<string>) => {
    const deadline = Date.now() + 20_000
    let last = ""
    while (Date.now() < deadline) {
      const response = await fetch(redirector("mirrorlist")).then(
        async (r) => `${r.status} ${await r.text()}`,
        (error) => `no answer: ${error}`
      )
      last = response
      const urls = response
        .split("\n")
        .slice(1)
        .filter((line) => line.includes("://"))
      if (response.startsWith("200 ") && JSON.stringify(urls) === JSON.stringify(expected)) return
      await sleep(200)
    }
    throw new Error(
      `the mirrorlist did not list ${JSON.stringify(expected)} within 20 s; last answer: ${last}\n` +
        `node log:\n${tail(node.output())}`
    )
  }

  const fetchMetalink = async () => {
    const response = await fetch(redirector("metalink"))
    return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() }
  }

  const revision = async (client: ReturnType<typeof dnfClient>) => {
    const info = await client.run(["-C", "repoinfo"])
    assert.strictEqual(info.code, 0, info.describe())
    return /^Repo-revision\s*:\s*(\S+)/m.exec(info.stdout)?.[1]
  }

  const metalinkClient = () => dnfClient("mm-epel", { metalink: redirector("metalink") })

  beforeAll(async () => {
    const root = tempDir()

    // The master tree as the "Fedora EPEL" category (top directory pub/epel) has it, and two mirrors of it: a
    // fresh copy, and a stale one from another createrepo_c run (another repomd.xml; its metadata files are
    // named without checksums, so it also has none of the fresh generation's files, like a mirror that has not
    // synced yet).
    const master = path.join(root, "master/pub/epel")
    masterRepomd = await createRepo(path.join(master, REPO_DIR), { revision: "fresh" })
    fs.cpSync(path.join(root, "master"), path.join(root, "fresh"), { recursive: true })
    const staleRepomd = await createRepo(path.join(root, "stale/pub/epel", REPO_DIR), {
      revision: "stale",
      simpleFilenames: true
    })
    assert.notStrictEqual(hex("sha512", staleRepomd), hex("sha512", masterRepomd))
    fresh = await serveDirectory(path.join(root, "fresh"))
    stale = await serveDirectory(path.join(root, "stale"))

    const databaseUrl = await newDatabase()
    node = await startNode({
      DATABASE_URL: databaseUrl,
      MM_ADMIN_TOKEN: TOKEN,
      MM_DATA_DIR: tempDir(),
      MM_SCAN_INTERVAL: "0 seconds",
      // Crawls on request only, of mirrors on loopback.
      MM_CRAWL_INTERVAL: "0 seconds",
      MM_CRAWL_PRIVATE_ADDRESSES: "true"
    })

    // The content, as a global admin describes it; then a scan finds the repository and its repomd.xml.
    const product = await call(201, "POST", "/api/products", { name: "EPEL" })
    await call(201, "POST", "/api/arches", { name: ARCH })
    const category = await call(201, "POST", "/api/categories", {
      name: "Fedora EPEL",
      productId: product.id,
      topdir: "pub/epel",
      masterPath: master
    })
    categoryId = category.id
    await call(202, "POST", `/api/categories/${categoryId}/scan`)
    const deadline = Date.now() + 30_000
    for (;;) {
      const scan = await call(200, "GET", `/api/categories/${categoryId}/scan`)
      if (scan.running === null && scan.last !== null) {
        assert.strictEqual(scan.last.outcome, "completed", JSON.stringify(scan.last))
        assert.strictEqual(scan.last.problemCount, 0, JSON.stringify(scan.last.problems))
        break
      }
      if (Date.now() > deadline)
        throw new Error(`the scan did not end within 30 s: ${JSON.stringify(scan)}\n${tail(node.output())}`)
      await sleep(100)
    }

    // Two mirrors in DE carrying the category (always up to date: there is no crawler or check-in yet); the
    // stale one also serves the loopback netblock, so it is listed first for this client.
    const site = await call(201, "POST", "/api/sites", { name: "Loopback Mirrors", password: "a-long-check-in-secret" })
    const host = async (name: string, mirror: WatchedMirror) => {
      const created = await call(201, "POST", `/api/sites/${site.id}/hosts`, { name, country: "DE", bandwidth: 100 })
      const hostCategory = await call(201, "POST", `/api/hosts/${created.id}/categories`, {
        categoryId,
        alwaysUp2date: true
      })
      await call(201, "POST", `/api/host-categories/${hostCategory.id}/urls`, { url: `${mirror.url}/pub/epel` })
      hostCategories.push(hostCategory.id)
      return created.id as number
    }
    freshHostId = await host("fresh.mirror.test", fresh)
    staleHostId = await host("stale.mirror.test", stale)
    await call(201, "POST", `/api/hosts/${staleHostId}/netblocks`, { netblock: "127.0.0.0/8", name: "loopback" })
  })

  afterAll(async () => {
    await Promise.all([fresh?.close(), stale?.close()])
  })

  it("the fixture: the scan recorded the master's repomd.xml, and dnf reads the fresh mirror by baseurl", async () => {
    const repositories = await call(200, "GET", "/api/repositories?pageSize=100")
    const repository = repositories.items.find((r: any) => r.prefix === REPO && r.arch === ARCH)
    assert.isDefined(repository, JSON.stringify(repositories))
    assert.strictEqual(repository.directory, `pub/epel/${REPO_DIR}`)
    const details = await call(200, "GET", `/api/repositories/${repository.id}/file-details`)
    assert.lengthOf(details, 1, JSON.stringify(details))
    assert.strictEqual(details[0].sha256, hex("sha256", masterRepomd))
    assert.strictEqual(details[0].sha512, hex("sha512", masterRepomd))

    const client = dnfClient("mm-epel", { baseurl: baseUrl(fresh) })
    const made = await client.run(["makecache"])
    assert.strictEqual(made.code, 0, made.describe())
    assert.strictEqual(await revision(client), "fresh")
    fresh.requests.length = 0
  })

  it("metalink: dnf rejects the stale mirror listed first and takes the metadata from the fresh one", async () => {
    await awaitMirrorlist([baseUrl(stale), baseUrl(fresh)])
    const metalink = await fetchMetalink()
    const describe = () =>
      `metalink ${metalink.status} ${metalink.contentType}:\n${metalink.body}\nnode log:\n${tail(node.output(), 20)}`
    assert.strictEqual(metalink.status, 200, describe())
    const order = [stale, fresh].map((m) => metalink.body.indexOf(`>${baseUrl(m)}repodata/repomd.xml</url>`))
    assert.isTrue(order[0]! >= 0 && order[1]! > order[0]!, `stale, then fresh: ${describe()}`)
    assert.include(metalink.body, `<hash type="sha512">${hex("sha512", masterRepomd)}</hash>`, describe())

    fresh.requests.length = 0
    stale.requests.length = 0
    const client = metalinkClient()
    const made: DnfResult = await client.run(["makecache"])
    const explain = () => `${made.describe()}\n${describe()}`
    assert.strictEqual(made.code, 0, explain())
    // librepo downloads the stale repomd.xml, hashes it with the strongest hash of the metalink and gives up on it:
    //   Error during transfer: Downloading successful, but checksum doesn't match. Calculated: <…>(sha512)
    //   Expected: <the master's sha512>(sha512)
    assert.match(made.librepoLog, new RegExp(`Downloading: ${stale.url}/pub/epel/${REPODATA}/repomd\\.xml`), explain())
    assert.include(made.librepoLog, "Downloading successful, but checksum doesn't match", explain())
    assert.include(made.librepoLog, `Expected: ${hex("sha512", masterRepomd)}(sha512)`, explain())
    assert.lengthOf(stale.requested("/repodata/repomd.xml"), 1, explain())
    // The fresh mirror served repomd.xml and the metadata it lists (the stale mirror has none of those files).
    assert.deepStrictEqual(
      fresh.requested("/repodata/repomd.xml").map((r) => r.status),
      [200],
      explain()
    )
    assert.isNotEmpty(
      fresh.requested("-primary.xml.gz").filter((r) => r.status === 200),
      explain()
    )
    assert.strictEqual(await revision(client), "fresh")
  })

  it("mirrorlist, hosts only declared up to date: dnf takes the first mirror, stale, without verifying anything", async () => {
    await awaitMirrorlist([baseUrl(stale), baseUrl(fresh)])
    fresh.requests.length = 0
    stale.requests.length = 0
    const client = dnfClient("mm-epel", { mirrorlist: redirector("mirrorlist") })
    const made = await client.run(["makecache"])
    assert.strictEqual(made.code, 0, made.describe())
    // The contrast with the metalink: a plain list carries no hashes, so the stale repomd.xml is accepted as is.
    assert.notInclude(made.librepoLog, "checksum doesn't match", made.describe())
    assert.deepStrictEqual(
      stale.requested("/repodata/repomd.xml").map((r) => r.status),
      [200],
      made.describe()
    )
    assert.isEmpty(fresh.requests, made.describe())
    assert.strictEqual(await revision(client), "stale")
  })

  it("metalink with only the stale mirror: dnf fails, all mirrors were tried", async () => {
    await call(200, "PATCH", `/api/hosts/${freshHostId}`, { adminActive: false })
    await awaitMirrorlist([baseUrl(stale)])
    fresh.requests.length = 0
    const made = await metalinkClient().run(["makecache"])
    const body = (await fetchMetalink()).body
    assert.notStrictEqual(made.code, 0, `${made.describe()}\n${body}`)
    assert.include(made.stderr, "Downloading successful, but checksum doesn't match", made.describe())
    assert.include(made.stderr, "All mirrors were tried", made.describe())
    assert.include(made.stderr, "Failed to download metadata for repo 'mm-epel'", made.describe())
    assert.isEmpty(fresh.requests, made.describe())
  })

  it("mirrorlist, hosts crawled: the stale repodata/ keeps its mirror out of every answer, and dnf gets fresh metadata", async () => {
    // Back on, and no longer declared up to date: what counts now is what the crawler finds.
    await call(200, "PATCH", `/api/hosts/${freshHostId}`, { adminActive: true })
    for (const id of hostCategories) {
      await call(200, "PATCH", `/api/host-categories/${id}`, { alwaysUp2date: false })
    }
    const freshCrawl = await call(200, "POST", `/api/hosts/${freshHostId}/crawl`, {})
    const staleCrawl = await call(200, "POST", `/api/hosts/${staleHostId}/crawl`, {})
    const crawls = () => `fresh: ${JSON.stringify(freshCrawl)}\nstale: ${JSON.stringify(staleCrawl)}`
    assert.deepInclude(freshCrawl, { status: "ok", directoriesStale: 0 }, crawls())
    // Only its repodata/ is stale: the repository's own directory holds no file, so it is up to date there.
    assert.deepInclude(staleCrawl, { status: "ok", directoriesStale: 1 }, crawls())
    assert.isAbove(staleCrawl.directoriesUpToDate, 0, crawls())

    await awaitMirrorlist([baseUrl(fresh)])
    // path= of the repository's directory, its redirect, and a redirect to its repomd.xml: the fresh mirror only.
    const byPath = await fetch(`${node.url}/mirrorlist?path=pub/epel/${REPO_DIR}`).then((r) => r.text())
    assert.strictEqual(
      byPath
        .split("\n")
        .filter((line) => line.includes("://"))
        .join("\n"),
      baseUrl(fresh)
    )
    for (const url of [
      `${redirector("mirrorlist")}&redirect`,
      `${node.url}/download/pub/epel/${REPODATA}/repomd.xml`,
      `${node.url}/download/pub/epel/${REPODATA}/repomd.xml?netblock=1`
    ]) {
      const response = await fetch(url, { redirect: "manual" })
      assert.strictEqual(response.status, 302, url)
      assert.isTrue(
        response.headers.get("location")!.startsWith(baseUrl(fresh)),
        `${url}: ${response.headers.get("location")}`
      )
      assert.notInclude(response.headers.get("link") ?? "", stale.url, url)
    }
    const metalink = await fetchMetalink()
    assert.include(metalink.body, `>${baseUrl(fresh)}repodata/repomd.xml</url>`, metalink.body)
    assert.notInclude(metalink.body, stale.url, metalink.body)

    fresh.requests.length = 0
    stale.requests.length = 0
    const client = dnfClient("mm-epel", { mirrorlist: redirector("mirrorlist") })
    const made = await client.run(["makecache"])
    assert.strictEqual(made.code, 0, made.describe())
    assert.isEmpty(stale.requests, made.describe())
    assert.deepStrictEqual(
      fresh.requested("/repodata/repomd.xml").map((r) => r.status),
      [200],
      made.describe()
    )
    assert.strictEqual(await revision(client), "fresh")
  })

  it("no mirror left: the mirrorlist and the metalink say why, and dnf fails instead of taking stale metadata", async () => {
    await call(200, "PATCH", `/api/hosts/${freshHostId}`, { adminActive: false })
    await awaitMirrorlist([])
    const mirrorlist = await fetch(redirector("mirrorlist")).then((r) => r.text())
    assert.strictEqual(
      mirrorlist,
      `# repo = ${REPO} arch = ${ARCH} \n` +
        "# no mirror carries this repository: its repodata/ is stale or not yet verified on the 1 host up to date on its directory\n"
    )
    const metalink = await fetchMetalink()
    assert.strictEqual(metalink.status, 200)
    assert.include(
      metalink.body,
      '   <resources maxconnections="1">\n    <!-- no mirror carries this yet: none of the 1 host with the category "Fedora EPEL" is up to date on it (stale, or not yet verified by a check-in or a crawl) -->\n   </resources>\n',
      metalink.body
    )

    stale.requests.length = 0
    for (const client of [dnfClient("mm-epel", { mirrorlist: redirector("mirrorlist") }), metalinkClient()]) {
      const made = await client.run(["makecache"])
      assert.notStrictEqual(made.code, 0, made.describe())
      assert.include(made.stderr, "Failed to download metadata for repo 'mm-epel'", made.describe())
    }
    assert.isEmpty(stale.requests)
  })
})
