import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import type { LockOptions } from '../contracts.js'
import {
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_LOCK_REENTRANT,
  KEYWARD_LOCK_TIMEOUT,
  KEYWARD_STORE_IO,
  KeywardError,
} from '../errors.js'

/** Default time `withLock` waits before `KEYWARD_LOCK_TIMEOUT`. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000

const held = new AsyncLocalStorage<ReadonlySet<string>>()

function lockError(
  code: typeof KEYWARD_LOCK_TIMEOUT,
  name: string,
  timeoutMs: number,
): KeywardError {
  return new KeywardError(
    code,
    `lock "${name}" is still held by another holder after ${timeoutMs} ms; retry later or raise timeoutMs`,
    { details: { lock: name, timeoutMs } },
  )
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function checkTimeout(options: LockOptions | undefined): number {
  const timeoutMs = options?.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `timeoutMs` must be a non-negative number',
    )
  }
  return timeoutMs
}

/**
 * Runs `fn` with `identity` marked as held in the current async context, so that a nested
 * `withLock` on the same lock throws `KEYWARD_LOCK_REENTRANT` instead of deadlocking.
 */
function runHolding<T>(identity: string, name: string, fn: () => Promise<T>): Promise<T> {
  const current = held.getStore()
  if (current?.has(identity)) {
    throw new KeywardError(
      KEYWARD_LOCK_REENTRANT,
      `lock "${name}" is already held by this async context; withLock is not reentrant`,
      { details: { lock: name } },
    )
  }
  return held.run(new Set([...(current ?? []), identity]), fn)
}

/** Throws `KEYWARD_LOCK_REENTRANT` if the current async context already holds `identity`. */
export function assertNotHeld(identity: string, name: string): void {
  if (held.getStore()?.has(identity)) {
    throw new KeywardError(
      KEYWARD_LOCK_REENTRANT,
      `lock "${name}" is already held by this async context; withLock is not reentrant`,
      { details: { lock: name } },
    )
  }
}

/**
 * An in-process, per-name FIFO mutex. Each instance is its own namespace of names.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>()
  readonly #id = randomUUID()

  /** Runs `fn` once every earlier holder of `name` in this process has finished. */
  async run<T>(name: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    const timeoutMs = checkTimeout(options)
    const identity = `${this.#id}\0${name}`
    assertNotHeld(identity, name)
    const previous = this.#tails.get(name) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>((resolve) => {
      release = resolve
    })
    const tail = previous.then(() => mine)
    this.#tails.set(name, tail)
    try {
      await waitFor(previous, name, timeoutMs, options?.signal)
    } catch (error) {
      // Give up our place without blocking those queued behind us.
      previous.then(release)
      tail.then(() => {
        if (this.#tails.get(name) === tail) this.#tails.delete(name)
      })
      throw error
    }
    try {
      return await runHolding(identity, name, fn)
    } finally {
      release()
      if (this.#tails.get(name) === tail) this.#tails.delete(name)
    }
  }
}

function waitFor(
  previous: Promise<void>,
  name: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      reject(lockError(KEYWARD_LOCK_TIMEOUT, name, timeoutMs))
    }, timeoutMs)
    timer.unref?.()
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    previous.then(() => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      resolve()
    })
  })
}

/**
 * What a lock file holds: who took it, so others can tell a dead holder from a busy one. A pid
 * alone does not say it: after a reboot or a container restart, or once pids wrap, the same
 * number belongs to another process. `boot` (the kernel's boot id) and `start` (the process's
 * start time since boot, from `/proc`) name the holder beyond its pid where the platform has
 * them; lock files without them (other platforms, older releases) are judged by the pid alone.
 */
interface LockHolder {
  pid: number
  host: string
  token: string
  createdAt: number
  boot?: string
  start?: string
}

/** Options of {@link withFileLock}. */
export interface FileLockOptions extends LockOptions {
  /**
   * A lock taken on another host (a shared network directory) is only broken once its file is
   * older than this (default 10 minutes): its holder's liveness cannot be checked from here.
   */
  readonly foreignStaleMs?: number
  /** A short label for messages (never a secret); defaults to the lock path. */
  readonly label?: string
}

const thisHost = hostname()

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** This kernel's boot id (Linux), or `undefined`. */
const bootId = readProc('/proc/sys/kernel/random/boot_id')?.trim() || undefined

/**
 * The start time of process `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`),
 * or `undefined` where there is no `/proc` or no such process. The command name (field 2) may
 * hold spaces and parentheses, so fields are counted from its last `)`.
 */
export function processStartTime(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const start = fields[19]
  return start !== undefined && /^\d+$/.test(start) ? start : undefined
}

let self: Pick<LockHolder, 'boot' | 'start'> | undefined

/** Who this process is, as its lock files say (read once). */
function selfIdentity(): Pick<LockHolder, 'boot' | 'start'> {
  if (self === undefined) {
    const start = processStartTime(process.pid)
    self = { ...(bootId ? { boot: bootId } : {}), ...(start ? { start } : {}) }
  }
  return self
}

/** True when a process with this pid exists (on this host), even if it is not ours to signal. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readHolder(path: string): Promise<LockHolder | null | 'absent'> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'))
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      typeof (parsed as LockHolder).pid === 'number' &&
      typeof (parsed as LockHolder).host === 'string' &&
      typeof (parsed as LockHolder).token === 'string'
    ) {
      return parsed as LockHolder
    }
    return null
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent'
    return null
  }
}

async function ageMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs
  } catch {
    return 0
  }
}

async function isStale(
  path: string,
  holder: LockHolder | null,
  foreignStaleMs: number,
): Promise<boolean> {
  // An unreadable holder is only possible for a file written by something else: treat it like
  // a foreign lock and break it once old enough.
  if (holder === null || holder.host !== thisHost) return (await ageMs(path)) > foreignStaleMs
  return !isHolderAlive(holder)
}

/**
 * True unless the holder is provably gone: its pid is dead, or the machine rebooted since (other
 * boot id), or the pid now belongs to a process that started at another time (pid reuse, a
 * container restarted as pid 1).
 */
function isHolderAlive(holder: LockHolder): boolean {
  if (typeof holder.boot === 'string' && bootId !== undefined && holder.boot !== bootId)
    return false
  if (!isAlive(holder.pid)) return false
  if (typeof holder.start !== 'string') return true
  const start = processStartTime(holder.pid)
  return start === undefined || start === holder.start
}

/** Creates `path` holding `content` atomically (link of a complete temp file); false if it exists. */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`
  try {
    await writeFile(temp, content, { mode: 0o600 })
  } catch (error) {
    // A full disk fails the write after the file was created: leave nothing behind.
    await unlink(temp).catch(() => {})
    throw error
  }
  try {
    await link(temp, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  } finally {
    await unlink(temp).catch(() => {})
  }
}

async function removeIfToken(path: string, token: string): Promise<void> {
  const holder = await readHolder(path)
  if (holder !== null && holder !== 'absent' && holder.token === token)
    await unlink(path).catch(() => {})
}

/**
 * Breaks the stale lock at `path` if it is still held by `stale`. A short-lived
 * `<path>.break` lock serialises breakers, so that two processes that both saw the same dead
 * holder never delete a lock a third process has just taken.
 */
async function breakStale(path: string, stale: LockHolder | null): Promise<void> {
  const breakPath = `${path}.break`
  const token = randomUUID()
  const mine: LockHolder = {
    pid: process.pid,
    host: thisHost,
    token,
    createdAt: Date.now(),
    ...selfIdentity(),
  }
  if (!(await createExclusive(breakPath, JSON.stringify(mine)))) {
    const breaker = await readHolder(breakPath)
    // A breaker holds this lock for microseconds; one that died doing so is broken here.
    if (breaker !== 'absent' && (await isStale(breakPath, breaker, 10_000)))
      await unlink(breakPath).catch(() => {})
    return
  }
  try {
    const now = await readHolder(path)
    if (now === 'absent') return
    const same = now === null ? stale === null : stale !== null && now.token === stale.token
    if (same) await unlink(path).catch(() => {})
  } finally {
    await removeIfToken(breakPath, token)
  }
}

function ioError(path: string, label: string, cause: unknown): KeywardError {
  const code = (cause as NodeJS.ErrnoException).code
  return new KeywardError(
    KEYWARD_STORE_IO,
    `cannot create lock file for "${label}" (${code ?? 'error'}); check that its directory is writable`,
    { cause, details: { path, errno: code } },
  )
}

async function acquireFile(
  path: string,
  options: FileLockOptions,
  timeoutMs: number,
): Promise<string> {
  const label = options.label ?? path
  const token = randomUUID()
  const content = JSON.stringify({
    pid: process.pid,
    host: thisHost,
    token,
    createdAt: Date.now(),
    ...selfIdentity(),
  } satisfies LockHolder)
  const deadline = Date.now() + timeoutMs
  const foreignStaleMs = options.foreignStaleMs ?? 10 * 60_000
  let delay = 1
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason
    try {
      if (await createExclusive(path, content)) return token
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        await mkdir(dirname(path), { recursive: true, mode: 0o700 }).catch((e) => {
          throw ioError(path, label, e)
        })
        continue
      }
      throw ioError(path, label, error)
    }
    const holder = await readHolder(path)
    if (holder === 'absent') continue
    if (await isStale(path, holder, foreignStaleMs)) {
      await breakStale(path, holder)
      continue
    }
    if (Date.now() >= deadline) throw lockError(KEYWARD_LOCK_TIMEOUT, label, timeoutMs)
    await sleep(
      Math.min(delay, Math.max(0, deadline - Date.now())) + Math.random() * delay,
      options.signal,
    )
    delay = Math.min(delay * 2, 25)
  }
}

const processMutex = new KeyedMutex()

/**
 * Runs `fn` holding the lock file at `path`, exclusive across processes (and, through an
 * in-process mutex, across callers in this process without touching the file system twice).
 * A lock left by a dead process on this host is detected by its pid and broken; a lock from
 * another host is broken once older than `foreignStaleMs`.
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const timeoutMs = checkTimeout(options)
  const started = Date.now()
  return processMutex.run(
    path,
    async () => {
      const remaining = Math.max(0, timeoutMs - (Date.now() - started))
      const token = await acquireFile(path, options, remaining)
      try {
        return await fn()
      } finally {
        await removeIfToken(path, token)
      }
    },
    { ...options, timeoutMs, label: options.label ?? path } as LockOptions,
  )
}

/**
 * At most `size` holders at once, first come first served, each wait bounded: the postgres
 * driver admits this many lock holders per pool, so that connections stay free for the queries
 * the holders make (were every connection holding or awaiting a lock, none would be left).
 */
export class Slots {
  #free: number
  readonly #queue: (() => void)[] = []

  constructor(size: number) {
    this.#free = size
  }

  /** Waits for a slot (at most `timeoutMs`, then `onTimeout()`); resolves with its release. */
  take(timeoutMs: number, onTimeout: () => Error, signal?: AbortSignal): Promise<() => void> {
    let released = false
    const release = () => {
      if (released) return
      released = true
      const next = this.#queue.shift()
      if (next === undefined) this.#free += 1
      else next()
    }
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.#free > 0) {
      this.#free -= 1
      return Promise.resolve(release)
    }
    return new Promise((resolve, reject) => {
      const leave = (error: unknown) => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        const at = this.#queue.indexOf(grant)
        if (at >= 0) this.#queue.splice(at, 1)
        reject(error)
      }
      const grant = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        resolve(release)
      }
      const timer = setTimeout(() => leave(onTimeout()), timeoutMs)
      timer.unref?.()
      const onAbort = () => leave(signal?.reason)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#queue.push(grant)
    })
  }
}
