import { createHash } from 'node:crypto'
import {
  type BigIntStats,
  close as closeCb,
  fstat as fstatCb,
  open as openCb,
  readFile as readFileCb,
} from 'node:fs'
import { mkdir, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import {
  type Driver,
  type KeyProvider,
  type KeyWrite,
  type Logger,
  silentLogger,
} from '../contracts.js'
import { KEYWARD_STORE_ROLLBACK, KEYWARD_VALUE_TOO_LARGE, KeywardError } from '../errors.js'
import { fileIoError, resolveWriteTarget, writeAtomically } from '../internal/atomic-write.js'
import { checkedOperations } from '../internal/checked-driver.js'
import { equalBytes } from '../internal/envelope.js'
import { type DecodedStore, decodeStore, encodeRecord } from '../internal/file-format.js'
import {
  applyLog,
  COMPACTION,
  type CompactionPolicy,
  compactionReason,
  DEFAULT_COMPACTION,
  encodeFrame,
  FRAME_MAC_BYTES,
  type LogOp,
  readLog,
} from '../internal/file-log.js'
import { checkFileDriverOptions } from '../internal/file-options.js'
import {
  appendAt,
  closeFd,
  createStore,
  encodeSnapshot,
  readAt,
  removeDeadTemps,
  snapshotHeader,
  warnIfWorldWritable,
} from '../internal/file-store.js'
import { withFileLock } from '../internal/lock.js'
import { compareKeys, storedValue } from '../internal/stored.js'
import { assertVersion, assertWrites, plannedVersions } from '../internal/validate.js'

const openFd = promisify(openCb)
const readFd = promisify(readFileCb) as (fd: number) => Promise<Buffer>
const fstatFd = (fd: number) =>
  new Promise<BigIntStats>((resolvePromise, reject) =>
    fstatCb(fd, { bigint: true }, (error, stats) =>
      error ? reject(error) : resolvePromise(stats),
    ),
  )

/** The default largest value the file driver stores (16 MiB). */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024

/** Options of {@link fileDriver}. */
export interface FileDriverOptions {
  /**
   * The store file. Its directory is created (mode 0700) on the first write if missing. A
   * symbolic link is followed: writes replace the link's target, never the link.
   */
  readonly path: string
  /** Supplies the key that wraps the store's data key: `passphraseKey`, `envKey`, `keyringKey`. */
  readonly key: KeyProvider
  /** Largest value `set` accepts, in bytes (default 16 MiB); larger → `KEYWARD_VALUE_TOO_LARGE`. */
  readonly maxValueBytes?: number | undefined
  /**
   * How long a write waits for another process's write to finish before
   * `KEYWARD_LOCK_TIMEOUT` (default 30 000 ms).
   */
  readonly writeTimeoutMs?: number | undefined
  /** Where warnings go (a store in a directory every user can write). Default: silent. */
  readonly logger?: Logger | undefined
  /**
   * Rollback protection across restarts: the lowest write counter the store may have, as the
   * host last pinned it from {@link FileDriverOptions.onCounter}. A file with a lower counter
   * (an older copy put back) or no file at all is refused with `KEYWARD_STORE_ROLLBACK`.
   */
  readonly minCounter?: number | undefined
  /**
   * Called with the store's write counter whenever it grows (after this driver's writes, and
   * when it reads another process's), in order, after the write lock is released. Keep the
   * value where whoever can replace the file cannot (the OS keyring, beside the key) and pass
   * it back as `minCounter` next time.
   */
  readonly onCounter?: ((counter: number) => void | Promise<void>) | undefined
}

/** What the driver knows about the file it last read or wrote. */
interface FileState {
  /** An open descriptor of that file: it pins the inode, so its number cannot be reused. */
  readonly fd: number | null
  /** dev:ino:size:mtime:ctime of that file, or `null` when there is no file. */
  readonly ident: string | null
  /** dev:ino of that file, or `null`. */
  readonly inode: string | null
  /** The decrypted store, or `null` when there is no file. */
  readonly store: DecodedStore | null
}

const EMPTY: FileState = Object.freeze({ fd: null, ident: null, inode: null, store: null })

function identOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`
}

function inodeOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}`
}

/** The driver reads a log that ends in a torn append up to its last complete frame. */
const TORN_OK = { allowTornTail: true } as const

/** A write planned by a mutation: `value` under `version`, or the key removed when `null`. */
interface PlannedWrite {
  readonly key: string
  readonly value: Uint8Array | null
  readonly version: number
}

function ioError(path: string, action: string, cause: unknown): KeywardError {
  return fileIoError('store file', path, action, cause)
}

/** Closes descriptors of drivers that were garbage-collected without `close()`. */
const pins = new FinalizationRegistry<{ fd: number | null }>((pin) => {
  if (pin.fd !== null) closeCb(pin.fd, () => {})
})

function rollbackError(path: string, what: string, details: Record<string, unknown>) {
  return new KeywardError(
    KEYWARD_STORE_ROLLBACK,
    `store file "${path}" ${what}: an older copy or another store replaced it, or it was removed; restore the latest copy (nothing was read from or written to it)`,
    { details: { path, ...details } },
  )
}

/**
 * The embedded default driver: one encrypted file. Every record is AES-256-GCM encrypted under
 * a random 256-bit data key that the `key` provider wraps; ciphertexts are bound to their
 * record and version, and the whole file is authenticated, so a changed, swapped or removed
 * record is detected (`KEYWARD_STORE_CORRUPT`). The file carries a write counter: a driver
 * never accepts an older state than one it has seen, and a host that pins the counter
 * (`minCounter`/`onCounter`) detects an older copy put back across restarts
 * (`KEYWARD_STORE_ROLLBACK`). Writes are serialised across processes by a lock file beside the
 * store. A write appends one frame (a whole `setMany` in one) to the log that follows the
 * file's snapshot and fsyncs it, so its cost follows the record, not the store; the file is
 * rewritten atomically (temp file, fsync, rename, fsync of the directory; mode 0600) when the
 * log has grown to the live data, for stores under 64 KiB, and to migrate a store written
 * before the log. A frame cut short by a crash is ignored and dropped by the next write. Reads
 * are served from memory; when another process changed the file, only what it appended is
 * read.
 *
 * A missing file is an empty store, created on the first write. A file that is empty or not a
 * keyward store is never overwritten: every operation fails with its code instead.
 * Call `close()` when done to release the descriptor the driver keeps on the file.
 *
 * @example
 * ```ts
 * import { envKey } from '@keyward/core'
 * import { fileDriver } from '@keyward/core/drivers/file'
 *
 * const store = fileDriver({ path: '/var/lib/my-app/secrets.kw', key: envKey('MY_APP_KEY') })
 * await store.set('github/token', new TextEncoder().encode('…'))
 * const stored = await store.get('github/token') // { value: Uint8Array, version: 1 }
 * await store.close()
 * ```
 */
export function fileDriver(options: FileDriverOptions) {
  checkFileDriverOptions(options)
  const path = resolve(options.path)
  const provider = options.key
  const locksDir = `${path}.locks`
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
  const writeTimeoutMs = options.writeTimeoutMs ?? 30_000
  const logger = options.logger ?? silentLogger
  const onCounter = options.onCounter
  const policy: CompactionPolicy =
    (options as { [COMPACTION]?: CompactionPolicy })[COMPACTION] ?? DEFAULT_COMPACTION

  let state: FileState = EMPTY
  let loading: Promise<FileState> | null = null
  const pin: { fd: number | null } = { fd: null }
  /** The newest state this driver has seen: a file may never be older. */
  const seen: { store: string | null; counter: number } = {
    store: null,
    counter: options.minCounter ?? 0,
  }
  let reportedCounter = seen.counter
  let reports: Promise<void> = Promise.resolve()
  let checkedDirs = false

  function setState(next: FileState): void {
    const previous = state
    state = next
    pin.fd = next.fd
    if (previous.fd !== null && previous.fd !== next.fd) closeCb(previous.fd, () => {})
  }

  /** Refuses a store older than one seen (or pinned), else records it as seen. */
  function admit(store: DecodedStore | null): void {
    if (store === null) {
      if (seen.counter > 0)
        throw rollbackError(path, 'is gone', { reason: 'missing', expected: seen.counter })
      return
    }
    const { counter } = store.log
    if (seen.store !== null && store.header.store !== seen.store)
      throw rollbackError(path, 'now holds another store', { reason: 'store-id' })
    if (counter < seen.counter)
      throw rollbackError(path, `went back to write ${counter} after write ${seen.counter}`, {
        reason: 'counter',
        counter,
        expected: seen.counter,
      })
    seen.store = store.header.store
    seen.counter = counter
  }

  /** Tells the host about a grown counter, in order, outside any lock. */
  function report(): Promise<void> {
    if (onCounter === undefined || seen.counter <= reportedCounter) return reports
    const counter = seen.counter
    reportedCounter = counter
    reports = reports.then(() => onCounter(counter))
    return reports
  }

  /** Warns once when the store's directory (or its link's) is writable by every user. */
  async function checkDirectories(): Promise<void> {
    if (checkedDirs) return
    checkedDirs = true
    await warnIfWorldWritable(path, logger)
  }

  async function statFile(): Promise<BigIntStats | null> {
    try {
      return await stat(path, { bigint: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw ioError(path, 'read', error)
    }
  }

  async function load(): Promise<FileState> {
    let fd: number
    try {
      fd = await openFd(path, 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        admit(null)
        setState(EMPTY)
        return EMPTY
      }
      throw ioError(path, 'open', error)
    }
    try {
      let bytes: Buffer
      let stats: BigIntStats
      try {
        stats = await fstatFd(fd)
        bytes = stats.isFile() ? await readFd(fd) : Buffer.alloc(0)
      } catch (error) {
        throw ioError(path, 'read', error)
      }
      if (!stats.isFile())
        throw ioError(path, 'read', Object.assign(new Error('not a file'), { code: 'EISDIR' }))
      const store = await decodeStore(bytes, provider, path, state.store ?? undefined, TORN_OK)
      admit(store)
      const next: FileState = { fd, ident: identOf(stats), inode: inodeOf(stats), store }
      setState(next)
      return next
    } catch (error) {
      await closeFd(fd).catch(() => {})
      throw error
    }
  }

  /**
   * Reads only what was appended to the file this driver holds open since it last read it, when
   * the file is still that file and still ends, where the driver read up to, with the MAC it
   * read there; `null` when it must be read whole.
   */
  async function extend(stats: BigIntStats): Promise<FileState | null> {
    const { store, fd } = state
    const size = Number(stats.size)
    if (!store?.log.enabled || fd === null || state.inode !== inodeOf(stats)) return null
    if (size < store.log.end) return null
    const start = store.log.end - FRAME_MAC_BYTES
    let bytes: Buffer
    try {
      bytes = await readAt(fd, size - start, start)
    } catch (error) {
      throw ioError(path, 'read', error)
    }
    if (bytes.byteLength < size - start) return null
    if (!equalBytes(bytes.subarray(0, FRAME_MAC_BYTES), store.log.tip)) return null
    const { ops, log } = readLog(bytes.subarray(FRAME_MAC_BYTES), store.log, store, path, TORN_OK)
    const grown: DecodedStore = { ...store, log }
    admit(grown)
    applyLog(store.records, store.ids, ops)
    const next: FileState = { ...state, ident: identOf(stats), store: grown }
    setState(next)
    return next
  }

  /** Makes `work` the read in progress that `current` waits for, until it settles. */
  function track<T>(work: Promise<T>): Promise<T> {
    const guard: Promise<FileState> = work
      .then(
        () => state,
        () => state,
      )
      .finally(() => {
        if (loading === guard) loading = null
      })
    loading = guard
    return work
  }

  /** The store as the file holds it now: from memory unless the file changed. */
  async function current(): Promise<FileState> {
    await checkDirectories()
    for (;;) {
      if (loading) await loading.catch(() => {})
      const stats = await statFile()
      if (stats === null) {
        admit(null)
        if (state.ident !== null) setState(EMPTY)
        return state
      }
      if (state.ident === identOf(stats)) return state
      if (loading) continue
      return track(extend(stats).then((extended) => extended ?? load()))
    }
  }

  /**
   * Appends one frame with `ops` to the file `current()` just read, when the compaction policy
   * allows and the file is still exactly what was read (same inode, size and last MAC, mode
   * 0600); returns `false` when the caller must rewrite the file instead.
   */
  async function append(
    target: string,
    store: DecodedStore,
    ops: readonly LogOp[],
    counter: number,
  ): Promise<boolean> {
    if (state.store !== store) return false
    const frame = encodeFrame(store.subkeys, store.log.tip, counter, ops)
    let liveDelta = 0
    for (const op of ops)
      liveDelta += (op.entry?.encoded.byteLength ?? 0) - (op.previous?.encoded.byteLength ?? 0)
    const reason = compactionReason(store.log, frame.bytes.byteLength, liveDelta, policy)
    if (reason === 'torn')
      logger.warn(
        'keyward store file ends in a torn append (a writer died mid-write); rewriting it without it',
        { path, bytes: store.log.torn },
      )
    if (reason !== null || provider.shouldUpgrade?.(store.header.key.params)) return false
    let fd: number
    try {
      fd = await openFd(target, 'r+')
    } catch {
      return false
    }
    try {
      const before = await fstatFd(fd).catch(() => null)
      const { end } = store.log
      if (
        before === null ||
        inodeOf(before) !== state.inode ||
        Number(before.size) !== end ||
        Number(before.mode) & 0o077
      )
        return false
      const tip = await readAt(fd, FRAME_MAC_BYTES, end - FRAME_MAC_BYTES).catch(() => null)
      if (tip === null || !equalBytes(tip, store.log.tip)) return false
      const after = await appendAt(fd, frame.bytes, end)
        .then(() => fstatFd(fd))
        .catch((error) => {
          throw ioError(path, 'write', error)
        })
      const log = {
        ...store.log,
        end: end + frame.bytes.byteLength,
        tip: frame.mac,
        counter,
        liveBytes: store.log.liveBytes + liveDelta,
      }
      const grown: DecodedStore = { ...store, log }
      admit(grown)
      applyLog(store.records, store.ids, ops)
      setState({ ...state, ident: identOf(after), store: grown })
      return true
    } finally {
      await closeFd(fd).catch(() => {})
    }
  }

  /** Writes the store with `ops` applied as a new snapshot, replacing the file atomically. */
  async function compact(
    target: string,
    base: DecodedStore,
    ops: readonly LogOp[],
    counter: number,
  ) {
    const records = new Map(base.records)
    const ids = new Map(base.ids)
    applyLog(records, ids, ops)
    const header = await snapshotHeader(provider, path, base, counter)
    const bytes = encodeSnapshot(header.headerBytes, records, base.subkeys)
    const fd = (await writeAtomically(target, bytes, { what: 'store file', keepOpen: true }))!
    const stats = await fstatFd(fd)
    const log = {
      enabled: true,
      end: bytes.byteLength,
      tip: bytes.subarray(bytes.byteLength - FRAME_MAC_BYTES),
      counter,
      torn: 0,
      liveBytes: bytes.byteLength,
    }
    const next: DecodedStore = { ...base, ...header, records, ids, log }
    admit(next)
    setState({ fd, ident: identOf(stats), inode: inodeOf(stats), store: next })
  }

  /**
   * Runs one mutation under the store lock, on fresh state, and writes the result: one frame
   * appended to the log, or the whole store rewritten when the compaction policy says so. The
   * lock and the temp files live beside the file the path resolves to (through a symlink, its
   * target).
   */
  async function mutate<T>(
    change: (store: DecodedStore | null) => { result: T; writes?: readonly PlannedWrite[] },
  ): Promise<T> {
    let target: string
    try {
      target = await resolveWriteTarget(path)
    } catch (error) {
      throw ioError(path, 'write', error)
    }
    const lockPath = `${target}.lock`
    const result = await withFileLock(
      lockPath,
      async () => {
        await mkdir(dirname(target), { recursive: true, mode: 0o700 }).catch((error) => {
          throw ioError(path, 'create the directory of', error)
        })
        await removeDeadTemps(target)
        const { store } = await current()
        const outcome = change(store)
        if (outcome.writes === undefined) return outcome.result
        const base = store ?? (await createStore(provider, path))
        const ops: LogOp[] = []
        for (const { key, value, version } of outcome.writes) {
          const previous = base.records.get(key)
          if (value === null) {
            if (previous) ops.push({ key, entry: null, previous })
            continue
          }
          const encoded = encodeRecord(base.storeId, base.subkeys, key, value, version)
          ops.push({ key, entry: { version, value, encoded }, previous })
        }
        if (ops.length === 0) return outcome.result
        const counter = base.log.counter + 1
        // Calls of this driver wait for the write instead of reading a half-written append.
        await track(
          (async () => {
            if (store === null || !(await append(target, store, ops, counter)))
              await compact(target, base, ops, counter)
          })(),
        )
        return outcome.result
      },
      { timeoutMs: writeTimeoutMs, label: lockPath },
    )
    await report()
    return result
  }

  function assertStorable(key: string, value: Uint8Array): void {
    if (value.byteLength > maxValueBytes)
      throw new KeywardError(
        KEYWARD_VALUE_TOO_LARGE,
        `value for key "${key}" is ${value.byteLength} bytes; the file driver stores at most ${maxValueBytes} (option maxValueBytes)`,
        { details: { key, bytes: value.byteLength, max: maxValueBytes } },
      )
  }

  function lockPathOf(key: string): string {
    const hash = createHash('sha256').update(`keyward/lock\0${key}`).digest('hex')
    return join(locksDir, `${hash}.lock`)
  }

  const driver = {
    name: 'file',
    durability: 'durable',
    /** The absolute path of the store file. */
    path,

    ...checkedOperations({
      async get(key) {
        const entry = (await current()).store?.records.get(key)
        await report()
        return entry ? storedValue(entry.value.slice(), entry.version) : null
      },
      async set(key, value, ifVersion) {
        assertStorable(key, value)
        const copy = value.slice()
        return mutate((store) => {
          const currentVersion = store?.records.get(key)?.version ?? 0
          assertVersion(key, ifVersion, currentVersion)
          const version = currentVersion + 1
          return { result: { version }, writes: [{ key, value: copy, version }] }
        })
      },
      async delete(key, ifVersion) {
        return mutate((store) => {
          const currentVersion = store?.records.get(key)?.version ?? 0
          assertVersion(key, ifVersion, currentVersion)
          if (currentVersion === 0) return { result: false }
          return { result: true, writes: [{ key, value: null, version: 0 }] }
        })
      },
      async list(prefix) {
        const records = (await current()).store?.records
        await report()
        if (!records) return []
        const keys: string[] = []
        for (const key of records.keys()) if (key.startsWith(prefix)) keys.push(key)
        return keys.sort(compareKeys)
      },
      withLock: (key, fn, lockOptions) =>
        withFileLock(lockPathOf(key), fn, { ...lockOptions, label: key }),
    }),

    async setMany(writes: readonly KeyWrite[]): Promise<{ versions: readonly number[] }> {
      assertWrites(writes)
      const copies = writes.map(({ key, value }) => {
        if (value !== null) assertStorable(key, value)
        return { key, value: value === null ? null : value.slice() }
      })
      return mutate((store) => {
        const versions = plannedVersions(writes, (key) => store?.records.get(key)?.version ?? 0)
        const result = { versions }
        // Only deletes of absent keys: nothing to write.
        if (copies.every(({ key, value }) => value === null && !store?.records.has(key)))
          return { result }
        const planned = copies.map(({ key, value }, i) => ({ key, value, version: versions[i]! }))
        return { result, writes: planned }
      })
    },

    /** Releases the descriptor kept on the store file. The driver reopens it if used again. */
    async close(): Promise<void> {
      if (loading) await loading.catch(() => {})
      setState(EMPTY)
    },
  } satisfies Driver & { readonly path: string }
  pins.register(driver, pin)
  return driver
}
