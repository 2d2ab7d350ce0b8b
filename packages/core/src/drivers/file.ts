import { createHash, randomBytes } from 'node:crypto'
import {
  type BigIntStats,
  close as closeCb,
  fstat as fstatCb,
  fsync as fsyncCb,
  open as openCb,
  readFile as readFileCb,
  write as writeCb,
} from 'node:fs'
import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type {
  DeleteOptions,
  Driver,
  KeyProvider,
  LockOptions,
  SetOptions,
  StoredValue,
} from '../contracts.js'
import {
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_KEY_INVALID,
  KEYWARD_STORE_IO,
  KEYWARD_VALUE_TOO_LARGE,
  KeywardError,
} from '../errors.js'
import { assertOptions } from '../guards.js'
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
import { isAlive, withFileLock } from '../internal/lock.js'
import { compareKeys, storedValue } from '../internal/stored.js'
import {
  assertDeleteArguments,
  assertKey,
  assertPrefix,
  assertSetArguments,
  assertVersion,
} from '../internal/validate.js'

const openFd = promisify(openCb)
const closeFd = promisify(closeCb)
const fsyncFd = promisify(fsyncCb)
const writeFd = promisify(writeCb)
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
  /** The store file. Its directory is created (mode 0700) on the first write if missing. */
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
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  return new KeywardError(
    KEYWARD_STORE_IO,
    `cannot ${action} store file "${path}" (${code ?? 'error'}); check that it and its directory exist and are readable and writable by this user`,
    { cause, details: { path, errno: code } },
  )
}

/** Closes descriptors of drivers that were garbage-collected without `close()`. */
const pins = new FinalizationRegistry<{ fd: number | null }>((pin) => {
  if (pin.fd !== null) closeCb(pin.fd, () => {})
})

function checkOptions(options: FileDriverOptions): void {
  assertOptions(options, 'fileDriver')
  if (typeof options.path !== 'string' || options.path.length === 0 || options.path.includes('\0'))
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `path` must be a non-empty file path string',
    )
  if (options.path.endsWith('/') || options.path.endsWith('\\'))
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `path` must name a file, not a directory',
    )
  const key = options.key as Partial<KeyProvider> | undefined
  if (
    typeof key !== 'object' ||
    key === null ||
    typeof key.kind !== 'string' ||
    key.kind.length === 0 ||
    typeof key.createParams !== 'function' ||
    typeof key.deriveKey !== 'function'
  )
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `key` must be a key provider such as passphraseKey(…), envKey() or keyringKey()',
    )
  for (const name of ['maxValueBytes', 'writeTimeoutMs'] as const) {
    const value = options[name]
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        `option \`${name}\` must be a non-negative integer`,
      )
  }
}

/**
 * The embedded default driver: one encrypted file. Every record is AES-256-GCM encrypted under
 * a random 256-bit data key that the `key` provider wraps; ciphertexts are bound to their
 * record and version, and the whole file is authenticated, so a changed, swapped, removed or
 * rolled-back record is detected (`KEYWARD_STORE_CORRUPT`). Writes are atomic (temp file,
 * fsync, rename, fsync of the directory; mode 0600) and serialised across processes by a lock
 * file beside the store; reads are served from memory and reload only when the file changed.
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
  checkOptions(options)
  const path = resolve(options.path)
  const provider = options.key
  const dir = dirname(path)
  const tempPrefix = `.${basename(path)}.tmp-`
  // withFileLock writes `<store>.lock.<pid>.<uuid>.tmp` and links it into place.
  const lockTempPrefix = `${basename(path)}.lock.`
  const storeLock = `${path}.lock`
  const locksDir = `${path}.locks`
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
  const writeTimeoutMs = options.writeTimeoutMs ?? 30_000

  let state: FileState = EMPTY
  let loading: Promise<FileState> | null = null
  const pin: { fd: number | null } = { fd: null }

  function setState(next: FileState): void {
    const previous = state
    state = next
    pin.fd = next.fd
    if (previous.fd !== null && previous.fd !== next.fd) closeCb(previous.fd, () => {})
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
      const cached = state.store
      const store = await decodeStore(bytes, provider, path, cached ?? undefined)
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
    for (;;) {
      if (loading) await loading.catch(() => {})
      const stats = await statFile()
      if (stats === null) {
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

  function assertHeaderStorable(headerBytes: Buffer): void {
    try {
      parseHeader(headerBytes, path)
    } catch {
      throw new KeywardError(
        KEYWARD_KEY_INVALID,
        `key provider "${provider.kind}" returned parameters a store header cannot hold (strings ≤ 1024 chars, finite numbers, booleans; ≤ 32 entries)`,
        { details: { kind: provider.kind } },
      )
    }
  }

  async function createStore(): Promise<DecodedStore> {
    const params = provider.createParams()
    const kek = await deriveKek(provider, params, 'create')
    const dek = newDataKey()
    const storeId = newStoreId()
    const wrapped = wrapDataKey(kek, dek, storeId, provider.kind)
    const header: StoreHeader = {
      store: storeId.toString('base64url'),
      key: { kind: provider.kind, params },
      dek: {
        nonce: wrapped.nonce.toString('base64url'),
        sealed: wrapped.sealed.toString('base64url'),
      },
    }
    const headerBytes = encodeHeader(header)
    assertHeaderStorable(headerBytes)
    return {
      headerBytes,
      header: parseHeader(headerBytes, path),
      storeId,
      dek,
      subkeys: deriveSubkeys(dek, storeId),
      records: new Map(),
    }
  }

  /** Re-wraps the data key under fresh parameters when the provider asks for it. */
  async function upgraded(store: DecodedStore): Promise<DecodedStore> {
    if (!provider.shouldUpgrade?.(store.header.key.params)) return store
    const params = provider.createParams()
    const kek = await deriveKek(provider, params, 'create')
    const wrapped = wrapDataKey(kek, store.dek, store.storeId, provider.kind)
    // Never write a header the new key cannot open.
    if (unwrapDataKey(kek, wrapped.nonce, wrapped.sealed, store.storeId, provider.kind) === null)
      throw new KeywardError(KEYWARD_KEY_INVALID, 'key upgrade failed to round-trip')
    const header: StoreHeader = {
      store: store.header.store,
      key: { kind: provider.kind, params },
      dek: {
        nonce: wrapped.nonce.toString('base64url'),
        sealed: wrapped.sealed.toString('base64url'),
      },
    }
    const headerBytes = encodeHeader(header)
    assertHeaderStorable(headerBytes)
    return { ...store, headerBytes, header: parseHeader(headerBytes, path) }
  }

  /**
   * Removes temp files of writers that died mid-write (only called while holding the store
   * lock, so no live writer has one), and lock-file temps that a process killed while taking
   * the lock left behind (only those whose pid is dead: live ones are mid-acquire).
   */
  async function removeDeadTemps(): Promise<void> {
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

  async function syncDir(): Promise<void> {
    let fd: number | null = null
    try {
      fd = await openFd(dir, 'r')
      await fsyncFd(fd)
    } catch (error) {
      // Some platforms (Windows) cannot open or fsync a directory; the rename is still atomic.
      const code = (error as NodeJS.ErrnoException).code
      if (!['EISDIR', 'EINVAL', 'EPERM', 'EACCES', 'EBADF', 'ENOTSUP'].includes(code ?? ''))
        throw ioError(path, 'sync the directory of', error)
    } finally {
      if (fd !== null) await closeFd(fd).catch(() => {})
    }
  }

  /** Writes `bytes` as the new store file atomically; returns an open descriptor of it. */
  async function writeAtomically(bytes: Buffer): Promise<{ fd: number; ident: string }> {
    const temp = join(dir, `${tempPrefix}${process.pid}-${randomBytes(6).toString('hex')}`)
    let fd: number
    try {
      fd = await openFd(temp, 'wx', 0o600)
    } catch (error) {
      throw ioError(path, 'write', error)
    }
    try {
      let offset = 0
      while (offset < bytes.byteLength) {
        const { bytesWritten } = await writeFd(fd, bytes, offset, bytes.byteLength - offset)
        offset += bytesWritten
      }
      await fsyncFd(fd)
      await rename(temp, path)
    } catch (error) {
      await closeFd(fd).catch(() => {})
      await unlink(temp).catch(() => {})
      throw ioError(path, 'write', error)
    }
    await syncDir()
    return { fd, ident: identOf(await fstatFd(fd)) }
  }

  /** Runs one mutation under the store lock, on fresh state, and writes the result. */
  function mutate<T>(
    change: (
      store: DecodedStore | null,
    ) =>
      | { result: T; records?: undefined }
      | { result: T; records: (base: DecodedStore) => Map<string, RecordEntry> },
  ): Promise<T> {
    return withFileLock(
      storeLock,
      async () => {
        await mkdir(dir, { recursive: true, mode: 0o700 }).catch((error) => {
          throw ioError(path, 'create the directory of', error)
        })
        await removeDeadTemps()
        const { store } = await current()
        const outcome = change(store)
        if (outcome.records === undefined) return outcome.result
        const base = await upgraded(store ?? (await createStore()))
        const records = outcome.records(base)
        const bytes = encodeStore(
          base.headerBytes,
          (function* () {
            for (const entry of records.values()) yield entry.encoded
          })(),
          base.subkeys.fileMac,
        )
        const { fd, ident } = await writeAtomically(bytes)
        setState({ fd, ident, store: { ...base, records } })
        return outcome.result
      },
      { timeoutMs: writeTimeoutMs, label: storeLock },
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
      return entry ? storedValue(entry.value.slice(), entry.version) : null
    },

    async set(
      key: string,
      value: Uint8Array,
      setOptions?: SetOptions,
    ): Promise<{ version: number }> {
      assertSetArguments(key, value, setOptions?.ifVersion)
      if (value.byteLength > maxValueBytes)
        throw new KeywardError(
          KEYWARD_VALUE_TOO_LARGE,
          `value for key "${key}" is ${value.byteLength} bytes; the file driver stores at most ${maxValueBytes} (option maxValueBytes)`,
          { details: { key, bytes: value.byteLength, max: maxValueBytes } },
        )
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

    async list(prefix = ''): Promise<string[]> {
      assertPrefix(prefix)
      const records = (await current()).store?.records
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
