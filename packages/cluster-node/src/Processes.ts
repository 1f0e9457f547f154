// Processes of this machine as /proc shows them: whether one runs, its parent and group, its children. Used to stop
// the embedded PostgreSQL and the demo's node, and by the tests that check nothing is left behind.
import * as fs from "node:fs"

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

/** A PostgreSQL server of `dataDir` (its postmaster.pid) and every process it started; none when it is not running. */
export const postgresProcesses = (dataDir: string): Array<number> => {
  let postmaster: number
  try {
    postmaster = Number(fs.readFileSync(`${dataDir}/postmaster.pid`, "utf8").split("\n")[0])
  } catch {
    return []
  }
  return Number.isInteger(postmaster) && postmaster > 0 && isAlive(postmaster)
    ? [postmaster, ...childrenOf(postmaster)]
    : []
}
