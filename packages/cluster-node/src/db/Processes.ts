// Processes of this machine as /proc shows them: whether one runs, its parent and group, its children, when it started.
// Used to stop the embedded PostgreSQL and the demo's node, and by the tests that check nothing is left behind.
import * as fs from "node:fs"
import * as path from "node:path"

/** Exists (a zombie too) and may be signalled. */
export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces): state, ppid, pgrp, … */
const statFields = (pid: number): ReadonlyArray<string> | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  } catch {
    return undefined
  }
}

/** Alive and not a zombie (a child that exited stays a zombie until the event loop reaps it). */
export const isRunning = (pid: number) => {
  const state = statFields(pid)?.[0]
  return state !== undefined && state !== "Z"
}

/**
 * When the process started, in clock ticks since boot (/proc/<pid>/stat, field 22): with its pid and the boot, it names
 * one process for good, where a pid alone is given to another process once it has ended.
 */
export const startTimeOf = (pid: number): string | undefined => statFields(pid)?.[19]

/** This boot of the machine (a start time counts from it). */
export const bootId = () => {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
  } catch {
    return ""
  }
}

export const parentOf = (pid: number): number | undefined => {
  const ppid = statFields(pid)?.[1]
  return ppid === undefined ? undefined : Number(ppid)
}

const processIds = () =>
  fs
    .readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)

/** The processes whose parent is `pid`. */
export const childrenOf = (pid: number) => processIds().filter((child) => parentOf(child) === pid)

/** The processes of a process group. */
export const groupMembers = (group: number) => processIds().filter((pid) => Number(statFields(pid)?.[2]) === group)

/** Whether `pid` is a postgres server of `dataDir` (a stale postmaster.pid may name any other process by now). */
const isPostmasterOf = (pid: number, dataDir: string) => {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
    return path.basename(argv[0] ?? "") === "postgres" && argv.includes(dataDir)
  } catch {
    return false
  }
}

/** The postmaster that postmaster.pid of `dataDir` names, if that process is still a server of `dataDir`. */
export const postmasterOf = (dataDir: string): number | undefined => {
  let pid: number
  try {
    pid = Number(fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0])
  } catch {
    return undefined
  }
  return Number.isInteger(pid) && pid > 0 && isRunning(pid) && isPostmasterOf(pid, dataDir) ? pid : undefined
}

/**
 * Every PostgreSQL process of `dataDir`: its postmaster (the one postmaster.pid names, and any server started with
 * `-D dataDir` that has not written that file yet) and every process it started; none when it is not running.
 */
export const postgresProcesses = (dataDir: string): Array<number> => {
  const resolved = path.resolve(dataDir)
  const postmasters = new Set(processIds().filter((pid) => isRunning(pid) && isPostmasterOf(pid, resolved)))
  const named = postmasterOf(resolved)
  if (named !== undefined) postmasters.add(named)
  return [...postmasters].flatMap((pid) => [pid, ...childrenOf(pid)])
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/**
 * Stops every PostgreSQL process of `dataDir` at once, synchronously, whoever started them (say, a node killed with
 * SIGKILL, which could not stop its server): immediate shutdown (SIGQUIT, and SIGCONT in case they were paused; the
 * server recovers from its WAL at the next start), then SIGKILL for whatever still runs after a second. Returns the
 * processes it found, once they have ended.
 */
export const stopPostgresNow = (dataDir: string): Array<number> => {
  const found = postgresProcesses(dataDir)
  const send = (pids: ReadonlyArray<number>, signal: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, signal)
      } catch {}
    }
  }
  send(found, "SIGQUIT")
  send(found, "SIGCONT")
  for (let waited = 0; waited < 1_000 && found.some(isRunning); waited += 10) sleepSync(10)
  const left = found.filter(isRunning)
  send(left, "SIGKILL")
  for (let waited = 0; waited < 1_000 && left.some(isRunning); waited += 10) sleepSync(10)
  return found
}
