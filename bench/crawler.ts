// Crawler benchmark (issue 6): 200 mirror hosts on their own loopback addresses (127.0.1.x), each carrying one
// category of 500 directories (two files each, a repomd.xml in every tenth), crawled in full by their Host entities
// (a cluster runner in this process, storage in an embedded PostgreSQL), 50 at once. Prints the requests made,
// HEAD requests/s, the total crawl time and the peak resident memory of this process (crawler, entities and the
// mirrors' servers together).
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import {
  CrawlerStateLayer,
  defaultCrawlOptions,
  hostsToCrawl,
  Propagation,
  runCrawls
} from "@mirrormanager/actors/crawler"
import { databaseLayer } from "@mirrormanager/actors/db"
import { hostEntityLayer } from "@mirrormanager/actors/host"
import { SingleRunnerLayer } from "@mirrormanager/actors/testing"
import { type RunningPostgres, startEmbeddedPostgres } from "@mirrormanager/cluster-node/db"
import { freePort } from "@mirrormanager/cluster-node/node"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"

const HOSTS = Number(process.env.BENCH_CRAWLER_HOSTS ?? 200)
const DIRECTORIES = Number(process.env.BENCH_CRAWLER_DIRECTORIES ?? 500)
const PARALLEL = 50
const REPOMD = "<repomd>bench</repomd>\n"

const line = (label: string, text: string) => console.log(`${`  ${label}`.padEnd(40)}${text}`)
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const peakRss = () => {
  const status = fs.readFileSync("/proc/self/status", "utf8")
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024
}

/** One server per mirror address, answering every file of the tree (HEAD with its size, GET of repomd.xml). */
const startMirror = (n: number) =>
  new Promise<{ server: http.Server; url: string }>((resolve, reject) => {
    const server = http.createServer((request, response) => {
      const url = request.url ?? "/"
      if (url.endsWith("/")) {
        response.writeHead(200, { "content-length": 0 }).end()
        return
      }
      const body = url.endsWith("/repomd.xml") ? REPOMD : "0123456789"
      response.writeHead(200, { "content-length": Buffer.byteLength(body) })
      response.end(request.method === "HEAD" ? undefined : body)
    })
    server.keepAliveTimeout = 30_000
    server.once("error", reject)
    server.listen(0, `127.0.1.${n}`, () =>
      resolve({ server, url: `http://127.0.1.${n}:${(server.address() as AddressInfo).port}` })
    )
  })

const world = (urls: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO products (name) VALUES ('Bench')`
    yield* sql`INSERT INTO directories (name, files)
      SELECT CASE WHEN i = 0 THEN 'pub/bench' ELSE 'pub/bench/d' || lpad(i::text, 4, '0') ||
               CASE WHEN i % 10 = 0 THEN '/repodata' ELSE '' END END,
             CASE WHEN i % 10 = 0 AND i > 0 THEN ${JSON.stringify([{ name: "repomd.xml", size: REPOMD.length }])}::jsonb
                  ELSE '[{"name":"a.rpm","size":10},{"name":"b.rpm","size":10}]'::jsonb END
      FROM generate_series(0, ${DIRECTORIES - 1}) i`
    yield* sql`INSERT INTO file_details (directory_id, filename, timestamp, size, sha256)
      SELECT id, 'repomd.xml', 1700000000, ${REPOMD.length}, ${createHash("sha256").update(REPOMD).digest("hex")}
      FROM directories WHERE name LIKE '%/repodata'`
    yield* sql`INSERT INTO categories (name, product_id, topdir_id)
      SELECT 'Bench', p.id, d.id FROM products p, directories d WHERE d.name = 'pub/bench'`
    yield* sql`INSERT INTO category_directories (category_id, directory_id) SELECT c.id, d.id FROM categories c, directories d`
    yield* sql`INSERT INTO sites (name, password_hash) VALUES ('Bench', 'x')`
    yield* sql`INSERT INTO hosts (site_id, name, country)
      SELECT s.id, 'mirror' || n, 'DE' FROM sites s, generate_series(1, ${urls.length}) n`
    yield* sql`INSERT INTO host_categories (host_id, category_id) SELECT h.id, c.id FROM hosts h, categories c`
    yield* sql`INSERT INTO host_category_urls (host_category_id, url)
      SELECT hc.id, (${JSON.stringify(urls)}::jsonb ->> (h.id - 1)) || '/pub/bench'
      FROM host_categories hc JOIN hosts h ON h.id = hc.host_id`
    return yield* sql<{ id: number }>`SELECT id FROM hosts ORDER BY id`
  })

export const run = async () => {
  const began = performance.now()
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), "mm-bench-crawler-"))
  fs.chmodSync(temp, 0o755)
  let postgres: RunningPostgres | undefined
  const mirrors: Array<http.Server> = []
  try {
    postgres = await startEmbeddedPostgres({ dataDir: path.join(temp, "pg"), port: await freePort(), database: "b" })
    let start = performance.now()
    for (let n = 1; n <= HOSTS; n++) mirrors.push((await startMirror(n)).server)
    const urls = mirrors.map((server) => {
      const address = server.address() as AddressInfo
      return `http://${address.address}:${address.port}`
    })
    line("mirrors listening", `${seconds(performance.now() - start)}   ${HOSTS} on 127.0.1.1-${HOSTS}`)
    const layer = Layer.mergeAll(
      hostEntityLayer({ ...defaultCrawlOptions, allowPrivateAddresses: true }),
      Propagation.layer
    ).pipe(
      Layer.provide(CrawlerStateLayer),
      Layer.provideMerge(SingleRunnerLayer),
      Layer.provideMerge(databaseLayer(Redacted.make(postgres.url), { maxConnections: 20 }))
    )
    await Effect.runPromise(
      Effect.gen(function* () {
        start = performance.now()
        const hosts = yield* world(urls)
        line("world", `${seconds(performance.now() - start)}   ${hosts.length} hosts x ${DIRECTORIES} directories`)
        // As the schedule and `mirrormanager crawl` run them: slowest first, PARALLEL at once.
        const due = yield* hostsToCrawl(yield* SqlClient.SqlClient, { mode: "full" })
        start = performance.now()
        const summary = yield* runCrawls(due, {
          mode: "full",
          parallel: PARALLEL,
          deadline: Date.now() + 3_600_000,
          onCrawled: (_host, done, total) =>
            Effect.sync(() => {
              if (done % 50 === 0) line("  crawled", `${done} of ${total}`)
            })
        })
        const ms = performance.now() - start
        const { requests, directoriesUpToDate: upToDate } = summary
        const statuses = Object.fromEntries(
          (["ok", "failure", "timeout", "unknown", "skipped", "errors"] as const)
            .map((status) => [status, summary[status]])
            .filter(([, count]) => count !== 0)
        )
        line("crawls", `${hosts.length} hosts in ${seconds(ms)}, ${PARALLEL} at once; ${JSON.stringify(statuses)}`)
        line(
          "requests",
          `${requests.toLocaleString("en-US")} (HEAD and repomd.xml GET): ${Math.round(requests / (ms / 1000)).toLocaleString("en-US")} requests/s`
        )
        line(
          "directories up to date",
          `${upToDate.toLocaleString("en-US")} of ${(hosts.length * DIRECTORIES).toLocaleString("en-US")}`
        )
        line(
          "peak resident memory",
          `${(peakRss() / 1024 ** 2).toFixed(0)} MB (this process: crawler, entities, mirrors)`
        )
      }).pipe(Effect.provide(layer), Effect.scoped)
    )
  } finally {
    for (const server of mirrors) server.close()
    await postgres?.stop()
    fs.rmSync(temp, { recursive: true, force: true })
    line("whole run", seconds(performance.now() - began))
  }
}
