// Builds master trees on disk for scan tests: directories, rpm-like files with chosen times, repomd.xml files with
// known <timestamp> values, checksum files; and the hashes a scan must find.

import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const makeTempDir = (prefix = "mm-master-") => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  fs.chmodSync(dir, 0o755)
  return dir
}

export const DAY = 86_400

export const hashesOf = (content: string | Buffer) => ({
  md5: createHash("md5").update(content).digest("hex"),
  sha1: createHash("sha1").update(content).digest("hex"),
  sha256: createHash("sha256").update(content).digest("hex"),
  sha512: createHash("sha512").update(content).digest("hex")
})

/** A repomd.xml as createrepo_c writes it, with one <data> entry per timestamp. */
export const repomdXml = (timestamps: ReadonlyArray<number>, revision = timestamps[0] ?? 0) =>
  `<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>${revision}</revision>
${timestamps
  .map(
    (timestamp, index) => `  <data type="type${index}">
    <checksum type="sha256">${createHash("sha256").update(String(index)).digest("hex")}</checksum>
    <location href="repodata/type${index}.xml.gz"/>
    <timestamp>${timestamp}</timestamp>
    <size>${100 + index}</size>
  </data>`
  )
  .join("\n")}
</repomd>
`

export class MasterTree {
  readonly root: string
  constructor(root: string) {
    this.root = root
    fs.mkdirSync(root, { recursive: true, mode: 0o755 })
  }
  path(rel: string) {
    return rel === "" ? this.root : path.join(this.root, rel)
  }
  dir(rel: string) {
    fs.mkdirSync(this.path(rel), { recursive: true, mode: 0o755 })
    return this
  }
  /** Writes a file (creating its directory) with an optional modification time in epoch seconds. */
  file(rel: string, content: string | Buffer, mtime?: number) {
    this.dir(path.dirname(rel))
    fs.writeFileSync(this.path(rel), content)
    if (mtime !== undefined) fs.utimesSync(this.path(rel), mtime, mtime)
    return this
  }
  /** Replaces a file the way rsync does: a temporary file renamed over it (the directory's ctime changes). */
  replace(rel: string, content: string | Buffer, mtime?: number) {
    const temporary = `${this.path(rel)}.tmp-${process.pid}`
    fs.writeFileSync(temporary, content)
    if (mtime !== undefined) fs.utimesSync(temporary, mtime, mtime)
    fs.renameSync(temporary, this.path(rel))
    return this
  }
  /** A repository: `<rel>/repodata/repomd.xml`; returns the repomd.xml content. */
  repo(rel: string, timestamps: ReadonlyArray<number>, mtime?: number) {
    const xml = repomdXml(timestamps)
    this.file(`${rel}/repodata/repomd.xml`, xml, mtime)
    return xml
  }
  symlink(rel: string, target: string) {
    this.dir(path.dirname(rel))
    fs.symlinkSync(target, this.path(rel))
    return this
  }
  remove(rel: string) {
    fs.rmSync(this.path(rel), { recursive: true, force: true })
    return this
  }
}
