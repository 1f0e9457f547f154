// What `npm run demo` serves: a small yum repository written here (createrepo_c need not be installed) and static
// mirrors of it on loopback addresses.
//
// The repodata is real (gzipped primary, filelists and other; a repomd.xml whose checksums, sizes and timestamps are
// right, files named by their checksum as createrepo_c names them), so dnf reads it; the package files are small
// placeholders whose checksums and sizes the metadata gives, not installable RPMs.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { gzipSync } from "node:zlib"

export interface DemoPackage {
  readonly name: string
  readonly version: string
  readonly release: string
  readonly summary: string
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex")

const xml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const fileName = (p: DemoPackage) => `${p.name}-${p.version}-${p.release}.noarch.rpm`

/** Where createrepo_c's layout puts a package: Packages/<first letter>/<file>. */
const location = (p: DemoPackage) => `Packages/${p.name[0]}/${fileName(p)}`

const evr = (p: DemoPackage) => `<version epoch="0" ver="${xml(p.version)}" rel="${xml(p.release)}"/>`

/**
 * Writes the packages and repodata of a repository into `dir` (created if missing) and returns its repomd.xml.
 * `timestamp` (epoch seconds) is the repository's revision, its metadata's `<timestamp>` and its files' times, so two
 * calls with different timestamps (or packages) give different repomd.xml files.
 */
export const writeRepository = (
  dir: string,
  options: { readonly packages: ReadonlyArray<DemoPackage>; readonly timestamp: number }
) => {
  const { packages, timestamp } = options
  const time = new Date(timestamp * 1000)
  const write = (relative: string, data: Buffer | string) => {
    const file = path.join(dir, relative)
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 })
    fs.writeFileSync(file, data, { mode: 0o644 })
    fs.utimesSync(file, time, time)
  }

  const described = packages.map((p) => {
    const payload = Buffer.from(
      `${fileName(p)}: a placeholder package of the mirrormanager demo (not an installable RPM)\n`
    )
    write(location(p), payload)
    return { ...p, pkgid: sha256(payload), size: payload.length }
  })

  const primary = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${packages.length}">`,
    ...described.map((p) =>
      [
        '<package type="rpm">',
        `  <name>${xml(p.name)}</name>`,
        "  <arch>noarch</arch>",
        `  ${evr(p)}`,
        `  <checksum type="sha256" pkgid="YES">${p.pkgid}</checksum>`,
        `  <summary>${xml(p.summary)}</summary>`,
        `  <description>${xml(p.summary)}</description>`,
        "  <packager/>",
        "  <url/>",
        `  <time file="${timestamp}" build="${timestamp}"/>`,
        `  <size package="${p.size}" installed="0" archive="0"/>`,
        `  <location href="${xml(location(p))}"/>`,
        "  <format>",
        "    <rpm:license>MIT</rpm:license>",
        "    <rpm:vendor/>",
        "    <rpm:group>Unspecified</rpm:group>",
        "    <rpm:buildhost>localhost</rpm:buildhost>",
        `    <rpm:sourcerpm>${xml(`${p.name}-${p.version}-${p.release}.src.rpm`)}</rpm:sourcerpm>`,
        '    <rpm:header-range start="0" end="0"/>',
        "    <rpm:provides>",
        `      <rpm:entry name="${xml(p.name)}" flags="EQ" epoch="0" ver="${xml(p.version)}" rel="${xml(p.release)}"/>`,
        "    </rpm:provides>",
        "  </format>",
        "</package>"
      ].join("\n")
    ),
    "</metadata>",
    ""
  ].join("\n")
  const perPackage = (root: string, namespace: string) =>
    [
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<${root} xmlns="${namespace}" packages="${packages.length}">`,
      ...described.map(
        (p) => `<package pkgid="${p.pkgid}" name="${xml(p.name)}" arch="noarch">\n  ${evr(p)}\n</package>`
      ),
      `</${root}>`,
      ""
    ].join("\n")

  const data = (
    [
      ["primary", primary],
      ["filelists", perPackage("filelists", "http://linux.duke.edu/metadata/filelists")],
      ["other", perPackage("otherdata", "http://linux.duke.edu/metadata/other")]
    ] as const
  ).map(([type, text]) => {
    const open = Buffer.from(text)
    const compressed = gzipSync(open)
    const href = `repodata/${sha256(compressed)}-${type}.xml.gz`
    write(href, compressed)
    return [
      `  <data type="${type}">`,
      `    <checksum type="sha256">${sha256(compressed)}</checksum>`,
      `    <open-checksum type="sha256">${sha256(open)}</open-checksum>`,
      `    <location href="${href}"/>`,
      `    <timestamp>${timestamp}</timestamp>`,
      `    <size>${compressed.length}</size>`,
      `    <open-size>${open.length}</open-size>`,
      "  </data>"
    ].join("\n")
  })
  const repomd = Buffer.from(
    [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">',
      `  <revision>${timestamp}</revision>`,
      ...data,
      "</repomd>",
      ""
    ].join("\n")
  )
  write("repodata/repomd.xml", repomd)
  return repomd
}

/** Sets the times of `dir` and every directory below it (a scan reads again a directory changed just before). */
export const backdateDirectories = (dir: string, time: Date) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) backdateDirectories(path.join(dir, entry.name), time)
  }
  fs.utimesSync(dir, time, time)
}

export interface StaticMirror {
  /** `http://<address>:<port>`, no trailing slash. */
  readonly url: string
  readonly close: () => Promise<void>
}

/** A request a mirror served: its method, decoded path and the status it got (for tests that watch a mirror). */
export interface MirrorRequest {
  readonly method: string
  readonly path: string
  readonly status: number
}

/**
 * A plain HTTP mirror of the files below `root` on `address` (a loopback address), as a web server with directory
 * listings serves them: GET and HEAD, directories answered with a listing, anything else 404. `served` is told of
 * each request answered.
 */
export const serveMirror = async (
  root: string,
  address: string,
  served: (request: MirrorRequest) => void = () => {}
): Promise<StaticMirror> => {
  const server = http.createServer((request, response) => {
    let pathname: string
    try {
      pathname = decodeURIComponent(new URL(request.url ?? "/", "http://mirror").pathname)
    } catch {
      return void response.writeHead(400).end()
    }
    const file = path.join(root, path.normalize(pathname))
    let stat: fs.Stats | undefined
    try {
      stat = file === root || file.startsWith(root + path.sep) ? fs.statSync(file) : undefined
    } catch {
      stat = undefined
    }
    const method = request.method ?? ""
    if (stat === undefined || (method !== "GET" && method !== "HEAD")) {
      served({ method, path: pathname, status: 404 })
      return void response.writeHead(404, { "content-type": "text/plain" }).end("not found\n")
    }
    served({ method, path: pathname, status: 200 })
    if (stat.isDirectory()) {
      const names = fs.readdirSync(file).sort()
      const body = `<html><body>\n${names.map((n) => `<a href="${encodeURIComponent(n)}">${xml(n)}</a><br>`).join("\n")}\n</body></html>\n`
      response.writeHead(200, { "content-type": "text/html", "content-length": Buffer.byteLength(body) })
      return void response.end(request.method === "HEAD" ? undefined : body)
    }
    response.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": stat.size,
      "last-modified": stat.mtime.toUTCString()
    })
    if (request.method === "HEAD") response.end()
    else fs.createReadStream(file).pipe(response)
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, address, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
