// A real yum client for tests: `createrepo_c` to make repositories, static mirrors on loopback, and `dnf` run with
// its own configuration so that nothing from the machine's /etc/dnf or /etc/yum.repos.d leaks in.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { type MirrorRequest, type StaticMirror, serveMirror } from "../../src/demo/index.ts"
import { tempDir } from "./Process.ts"

/** Whether an executable of that name is on PATH. */
export const onPath = (name: string) =>
  (process.env.PATH ?? "").split(path.delimiter).some((dir) => {
    if (dir === "") return false
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })

export interface ProcessResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

/** Runs a program to its end (killed after `timeoutMs`), with exactly the environment given. */
export const runProgram = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env: Record<string, string>; readonly timeoutMs: number }
) =>
  new Promise<ProcessResult>((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let timedOut = false
    child.stdout!.on("data", (chunk) => (stdout += chunk))
    child.stderr!.on("data", (chunk) => (stderr += chunk))
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, options.timeoutMs)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, timedOut })
    })
  })

/** The environment of the programs run here: no proxy variables (librepo honours them), C locale messages. */
const cleanEnv = (home: string): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: home,
  LANG: "C.UTF-8",
  LC_ALL: "C.UTF-8"
})

/**
 * `createrepo_c` on `dir` (created if missing): a repository of the rpms in it (none is fine). `revision` is
 * written into repomd.xml, so two runs with different revisions give different repomd.xml files.
 */
export const createRepo = async (
  dir: string,
  options: { readonly revision: string; readonly simpleFilenames?: boolean }
) => {
  fs.mkdirSync(dir, { recursive: true })
  const args = ["--quiet", "--no-database", "--revision", options.revision]
  if (options.simpleFilenames === true) args.push("--simple-md-filenames")
  const result = await runProgram("createrepo_c", [...args, dir], { env: cleanEnv(dir), timeoutMs: 30_000 })
  if (result.code !== 0) {
    throw new Error(`createrepo_c ${dir} failed (${result.code}):\n${result.stdout}${result.stderr}`)
  }
  return fs.readFileSync(path.join(dir, "repodata/repomd.xml"))
}

export interface WatchedMirror extends StaticMirror {
  /** Every request served, in order. */
  readonly requests: Array<MirrorRequest>
  /** The requests whose path ends with `suffix`. */
  readonly requested: (suffix: string) => ReadonlyArray<MirrorRequest>
}

/** The demo's plain HTTP mirror of the files below `root`, on 127.0.0.1, with every request it served kept. */
export const serveDirectory = async (root: string): Promise<WatchedMirror> => {
  const requests: Array<MirrorRequest> = []
  const mirror = await serveMirror(root, "127.0.0.1", (request) => requests.push(request))
  return { ...mirror, requests, requested: (suffix) => requests.filter((r) => r.path.endsWith(suffix)) }
}

export interface DnfResult extends ProcessResult {
  /** `dnf.librepo.log` of the run: every URL librepo downloaded and why it gave up on one. */
  readonly librepoLog: string
  /** Everything, for assertion messages. */
  readonly describe: () => string
}

export interface DnfClient {
  /** Runs `dnf <args>` against only the repository given, with a cache that starts empty. */
  readonly run: (args: ReadonlyArray<string>) => Promise<DnfResult>
  readonly installroot: string
}

/**
 * A dnf with its own configuration and one repository, `[repoId]` with the given options (e.g.
 * `{ metalink: "http://…" }`). Debian's /etc/dnf/dnf.conf sets skip_if_unavailable=True, which turns a failed
 * repository into a warning and exit 0; here failures are failures, metadata is always fetched again
 * (metadata_expire=0), mirrors are tried in the order given (fastestmirror off) and countme is off.
 */
export const dnfClient = (repoId: string, repoOptions: Record<string, string>): DnfClient => {
  const dir = tempDir()
  const installroot = path.join(dir, "installroot")
  const reposdir = path.join(dir, "repos.d")
  const config = path.join(dir, "dnf.conf")
  fs.mkdirSync(installroot)
  fs.mkdirSync(reposdir)
  fs.writeFileSync(
    config,
    [
      "[main]",
      "gpgcheck=0",
      "skip_if_unavailable=False",
      "metadata_expire=0",
      "fastestmirror=False",
      "countme=False",
      "plugins=0",
      `reposdir=${reposdir}`,
      ""
    ].join("\n")
  )
  fs.writeFileSync(
    path.join(reposdir, `${repoId}.repo`),
    [
      `[${repoId}]`,
      `name=${repoId}`,
      "enabled=1",
      "gpgcheck=0",
      ...Object.entries(repoOptions).map(([k, v]) => `${k}=${v}`),
      ""
    ].join("\n")
  )
  // As root dnf logs to <installroot>/var/log; as anyone else to its cache, <installroot>/var/tmp/dnf-<user>-*/.
  const librepoLog = () => {
    const candidates = [path.join(installroot, "var/log/dnf.librepo.log")]
    const userCaches = path.join(installroot, "var/tmp")
    if (fs.existsSync(userCaches)) {
      for (const entry of fs.readdirSync(userCaches)) candidates.push(path.join(userCaches, entry, "dnf.librepo.log"))
    }
    return candidates.find((file) => fs.existsSync(file))
  }
  const run = async (args: ReadonlyArray<string>): Promise<DnfResult> => {
    const logBefore = librepoLog()
    const before = logBefore === undefined ? 0 : fs.statSync(logBefore).size
    const common = [
      "--config",
      config,
      "--installroot",
      installroot,
      "--releasever",
      "9",
      `--setopt=reposdir=${reposdir}`,
      "--disablerepo=*",
      `--enablerepo=${repoId}`,
      "-y"
    ]
    const result = await runProgram("dnf", [...common, ...args], { env: cleanEnv(dir), timeoutMs: 45_000 })
    const logFile = librepoLog()
    const log = logFile === undefined ? "" : fs.readFileSync(logFile).subarray(before).toString("utf8")
    return {
      ...result,
      librepoLog: log,
      describe: () =>
        `dnf ${args.join(" ")}: exit ${result.code}${result.timedOut ? " (killed after 45 s)" : ""}\n` +
        `--- stdout\n${result.stdout}--- stderr\n${result.stderr}--- dnf.librepo.log\n${log}`
    }
  }
  return { run, installroot }
}
