import { createHash } from 'node:crypto'
import {
  type BigIntStats,
  close as closeCb,
  fstat as fstatCb,
  open as openCb,
  readFile as readFileCb,
} from 'node:fs'
import { mkdir, readdir, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import {
  type DeleteOptions,
  type Driver,
  type KeyProvider,
  type KeyWrite,
  type LockOptions,
  type Logger,
  type SetOptions,
  type StoredValue,
  silentLogger,
} from '../contracts.js'
import {
  KEYWARD_KEY_INVALID,
  KEYWARD_STORE_ROLLBACK,
  KEYWARD_VALUE_TOO_LARGE,
  KeywardError,
} from '../errors.js'
import { fileIoError, resolveWriteTarget, writeAtomically } from '../internal/atomic-write.js'
import {
  deriveSubkeys,
  newDataKey,
  newStoreId,
  unwrapDataKey,
  wrapDataKey,
} from '../internal/envelope.js'
import {
  type DecodedStore,
  decodeStore,
  deriveKek,
  encodeHeader,
  encodeRecord,
  encodeStore,
  parseHeader,
  type RecordEntry,
  type StoreHeader,
} from '../internal/file-format.js'
import { checkFileDriverOptions } from '../internal/file-options.js'
import { isAlive, withFileLock } from '../internal/lock.js'
import { compareKeys, storedValue } from '../internal/stored.js'
import {
  assertDeleteArguments,
  assertKey,
  assertPrefix,
  assertSetArguments,
  assertVersion,
  assertWrites,
  plannedVersions,
} from '../internal/validate.js'

const openFd = promisify(openCb)
const closeFd = promisify(closeCb)
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
  /** The decrypted store, or `null` when there is no file. */
  readonly store: DecodedStore | null
}

const EMPTY: FileState = Object.freeze({ fd: null, ident: null, store: null })

function identOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`
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
 * (`KEYWARD_STORE_ROLLBACK`). Writes are atomic (temp file, fsync, rename, fsync of the
 * directory; mode 0600) and serialised across processes by a lock file beside the store;
 * reads are served from memory and reload only when the file changed.
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
    const { counter } = store.header
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
    const dirs = new Set([dirname(path)])
    try {
      dirs.add(dirname(await resolveWriteTarget(path)))
    } catch {}
    for (const directory of dirs) {
      const mode = await stat(directory).then(
        (stats) => stats.mode,
        () => 0,
      )
      if (mode & 0o002)
        logger.warn(
          'keyward store is in a directory every user can write: another user can block its writes with a planted lock file or swap files; move it to a private (0700) directory',
          { path, directory },
        )
    }
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
      const store = await decodeStore(bytes, provider, path, state.store ?? undefined)
      admit(store)
      const next: FileState = { fd, ident: identOf(stats), store }
      setState(next)
      return next
    } catch (error) {
      await closeFd(fd).catch(() => {})
      throw error
    }
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
      const attempt = load().finally(() => {
        loading = null
      })
      loading = attempt
      return attempt
    }
  }

  /**
   * The header of a store with this id and data key, the key wrapped under fresh parameters
   * from the provider: built and checked once, here, for a new store and for an upgrade alike.
   */
  async function sealHeader(
    storeId: Buffer,
    dek: Buffer,
    counter: number,
  ): Promise<{ headerBytes: Buffer; header: StoreHeader }> {
    const params = provider.createParams()
    const kek = await deriveKek(provider, params, 'create')
    const wrapped = wrapDataKey(kek, dek, storeId, provider.kind)
    // Never write a header the key cannot open.
    if (unwrapDataKey(kek, wrapped.nonce, wrapped.sealed, storeId, provider.kind) === null)
      throw new KeywardError(KEYWARD_KEY_INVALID, 'the wrapped data key failed to round-trip')
    const headerBytes = encodeHeader({
      store: storeId.toString('base64url'),
      key: { kind: provider.kind, params },
      dek: {
        nonce: wrapped.nonce.toString('base64url'),
        sealed: wrapped.sealed.toString('base64url'),
      },
      counter,
    })
    try {
      return { headerBytes, header: parseHeader(headerBytes, path) }
    } catch {
      throw new KeywardError(
        KEYWARD_KEY_INVALID,
        `key provider "${provider.kind}" returned parameters a store header cannot hold (strings ≤ 1024 chars, finite numbers, booleans; ≤ 32 entries)`,
        { details: { kind: provider.kind } },
      )
    }
  }

  async function createStore(): Promise<DecodedStore> {
    const dek = newDataKey()
    const storeId = newStoreId()
    const { headerBytes, header } = await sealHeader(storeId, dek, 0)
    const subkeys = deriveSubkeys(dek, storeId)
    return { headerBytes, header, storeId, dek, subkeys, records: new Map() }
  }

  /** The header of the next write: its counter one up, the data key re-wrapped if weak. */
  async function nextHeader(store: DecodedStore): Promise<DecodedStore> {
    const counter = store.header.counter + 1
    if (provider.shouldUpgrade?.(store.header.key.params))
      return { ...store, ...(await sealHeader(store.storeId, store.dek, counter)) }
    const header: StoreHeader = { ...store.header, counter }
    return { ...store, header, headerBytes: encodeHeader(header) }
  }

  /**
   * Removes temp files of writers that died mid-write (only called while holding the store
   * lock, so no live writer has one), and lock-file temps that a process killed while taking
   * the lock left behind (only those whose pid is dead: live ones are mid-acquire).
   */
  async function removeDeadTemps(target: string): Promise<void> {
    const dir = dirname(target)
    const tempPrefix = `.${basename(target)}.tmp-`
    // withFileLock writes `<store>.lock.<pid>.<uuid>.tmp` and links it into place.
    const lockTempPrefix = `${basename(target)}.lock.`
    let names: string[]
    try {
      names = await readdir(dir)
    } catch {
      return
    }
    const dead = names.filter((name) => {
      if (name.startsWith(tempPrefix)) return true
      if (!name.startsWith(lockTempPrefix) || !name.endsWith('.tmp')) return false
      const pid = Number(name.slice(lockTempPrefix.length).split('.')[0])
      return Number.isSafeInteger(pid) && pid > 0 && !isAlive(pid)
    })
    await Promise.all(dead.map((name) => unlink(join(dir, name)).catch(() => {})))
  }

  /**
   * Runs one mutation under the store lock, on fresh state, and writes the result. The lock and
   * the temp files live beside the file the path resolves to (through a symlink, its target).
   */
  async function mutate<T>(
    change: (
      store: DecodedStore | null,
    ) =>
      | { result: T; records?: undefined }
      | { result: T; records: (base: DecodedStore) => Map<string, RecordEntry> },
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
        if (outcome.records === undefined) return outcome.result
        const base = await nextHeader(store ?? (await createStore()))
        const records = outcome.records(base)
        const bytes = encodeStore(
          base.headerBytes,
          (function* () {
            for (const entry of records.values()) yield entry.encoded
          })(),
          base.subkeys.fileMac,
        )
        const fd = (await writeAtomically(target, bytes, { what: 'store file', keepOpen: true }))!
        const next = { ...base, records }
        admit(next)
        setState({ fd, ident: identOf(await fstatFd(fd)), store: next })
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

    async get(key: string): Promise<StoredValue | null> {
      assertKey(key)
      const entry = (await current()).store?.records.get(key)
      await report()
      return entry ? storedValue(entry.value.slice(), entry.version) : null
    },

    async set(
      key: string,
      value: Uint8Array,
      setOptions?: SetOptions,
    ): Promise<{ version: number }> {
      assertSetArguments(key, value, setOptions?.ifVersion)
      assertStorable(key, value)
      const copy = value.slice()
      const ifVersion = setOptions?.ifVersion
      return mutate((store) => {
        const currentVersion = store?.records.get(key)?.version ?? 0
        assertVersion(key, ifVersion, currentVersion)
        const version = currentVersion + 1
        return {
          result: { version },
          records: (base) => {
            const records = new Map(base.records)
            records.set(key, {
              version,
              value: copy,
              encoded: encodeRecord(base.storeId, base.subkeys, key, copy, version),
            })
            return records
          },
        }
      })
    },

    async delete(key: string, deleteOptions?: DeleteOptions): Promise<boolean> {
      assertDeleteArguments(key, deleteOptions?.ifVersion)
      const ifVersion = deleteOptions?.ifVersion
      return mutate((store) => {
        const currentVersion = store?.records.get(key)?.version ?? 0
        assertVersion(key, ifVersion, currentVersion)
        if (currentVersion === 0) return { result: false }
        return {
          result: true,
          records: (base) => {
            const records = new Map(base.records)
            records.delete(key)
            return records
          },
        }
      })
    },

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
        return {
          result,
          records: (base) => {
            const records = new Map(base.records)
            for (const [i, { key, value }] of copies.entries()) {
              if (value === null) records.delete(key)
              else
                records.set(key, {
                  version: versions[i]!,
                  value,
                  encoded: encodeRecord(base.storeId, base.subkeys, key, value, versions[i]!),
                })
            }
            return records
          },
        }
      })
    },

    async list(prefix = ''): Promise<string[]> {
      assertPrefix(prefix)
      const records = (await current()).store?.records
      await report()
      if (!records) return []
      const keys: string[] = []
      for (const key of records.keys()) if (key.startsWith(prefix)) keys.push(key)
      return keys.sort(compareKeys)
    },

    withLock<T>(key: string, fn: () => Promise<T>, lockOptions?: LockOptions): Promise<T> {
      assertKey(key)
      return withFileLock(lockPathOf(key), fn, { ...lockOptions, label: key })
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
