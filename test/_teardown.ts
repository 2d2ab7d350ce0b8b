// A setup file of every vitest project (see vitest.shared.ts): when a test file ends, whether
// its tests passed, failed or timed out, every process it started and left running is killed.
// Tests should still stop their own children and servers; this is the safety net for the paths
// they miss (a timed-out test whose child loops forever, a `Promise.all` that rejected while its
// other branches kept spawning). A timed-out test keeps running in the background, so without it
// such children outlive the test worker and burn CPU for the rest of the run.
//
// "Started by this file" is, on Linux, read from /proc: the process tree under the test worker,
// and every process whose environment carries this file's tag (KEYWARD_TEST_TAG, set below and
// inherited by every child that keeps the environment) — so a grandchild whose parent has died,
// and which the kernel has moved under init, is found too. Daemons that detach from the tree (a
// PostgreSQL cluster started by pg_ctl) are stopped first through their own registries (see
// _postgres.ts).
import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { afterAll } from 'vitest'
import { stopAllPostgres } from './_postgres.js'

/** The environment variable that marks the processes a test file started. */
export const TEST_TAG_VARIABLE = 'KEYWARD_TEST_TAG'
// A worker may run several files one after another: each file gets its own tag.
const tag = randomUUID()
process.env[TEST_TAG_VARIABLE] = tag

/** The pids of every live descendant of `root`, children before their own children. */
export function descendants(root: number): number[] {
  const parentOf = new Map<number, number>()
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return [] // not Linux: nothing to walk
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (fields[0] !== 'Z') parentOf.set(Number(entry), Number(fields[1]))
    } catch {
      // it exited meanwhile
    }
  }
  const found: number[] = []
  const queue = [root]
  while (queue.length > 0) {
    const parent = queue.shift()!
    for (const [pid, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(pid)
        queue.push(pid)
      }
    }
  }
  return found
}

/** The pids of live processes other than this one whose environment holds `name=value`. */
export function tagged(name: string, value: string): number[] {
  const marker = `\0${name}=${value}\0`
  const found: number[] = []
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return []
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (`\0${readFileSync(`/proc/${entry}/environ`, 'latin1')}`.includes(marker))
        found.push(Number(entry))
    } catch {
      // it exited meanwhile, or belongs to another user
    }
  }
  return found
}

/** Descendants of this process, then the tagged processes outside that tree and theirs. */
function leftovers(): number[] {
  const found = new Set(descendants(process.pid))
  for (const pid of tagged(TEST_TAG_VARIABLE, tag)) {
    if (found.has(pid)) continue
    found.add(pid)
    for (const child of descendants(pid)) found.add(child)
  }
  return [...found]
}

/** SIGKILLs every process this test file left running; returns their command lines. */
export function killDescendants(): string[] {
  const killed: string[] = []
  // Kill parents first so that they cannot spawn replacements; collect everything before any kill.
  for (const pid of leftovers()) {
    let command = String(pid)
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
    } catch {}
    try {
      process.kill(pid, 'SIGKILL')
      killed.push(command)
    } catch {
      // already gone
    }
  }
  return killed
}

afterAll(async () => {
  await stopAllPostgres()
  // A child a test has just killed may not have died yet: give those a moment first.
  if (leftovers().length > 0) await new Promise((r) => setTimeout(r, 250))
  const killed = killDescendants()
  if (killed.length > 0)
    process.stderr.write(
      `teardown: killed ${killed.length} process(es) the test file left running: ${killed
        .map((c) => c.slice(0, 120))
        .join('; ')}\n`,
    )
})
