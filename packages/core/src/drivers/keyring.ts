/**
 * `@keyward/core/drivers/keyring`: a {@link Driver} over the OS keychain through
 * `@napi-rs/keyring` (an optional peer dependency, loaded on first use).
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import type { Driver, Durability, LockOptions, StoredValue } from '../contracts.js'
import {
  KEYWARD_ATOMIC_WRITE_UNSUPPORTED,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_STORE_CORRUPT,
  KEYWARD_VALUE_TOO_LARGE,
  KeywardError,
} from '../errors.js'
import { assertOptions } from '../guards.js'
import { checkedOperations } from '../internal/checked-driver.js'
import {
  decodeIndex,
  decodeVersionRecord,
  type EntryState,
  encodeIndex,
  encodeValue,
  encodeVersionRecord,
  entryDigest,
  resolveEntry,
} from '../internal/keyring-entry.js'
import { checkService, META_SUFFIX, resolveMaxValueBytes } from '../internal/keyring-options.js'
import { withFileLock } from '../internal/lock.js'
import {
  boundedCall,
  DEFAULT_KEYRING_TIMEOUT_MS,
  defaultLockDir,
  ensureLockDir,
  keyringBackend,
  type LinuxKeyringStore,
  lockFileName,
  mapKeyringError,
  type NativeAsyncEntry,
  readyKeyring,
  resolveTimeout,
} from '../internal/native-keyring.js'
import { compareKeys } from '../internal/stored.js'
import { assertVersion } from '../internal/validate.js'

export {
  type ForeignEntry,
  type ReadForeignEntryOptions,
  readForeignEntry,
} from '../internal/keyring-foreign.js'
export type { LinuxKeyringStore } from '../internal/native-keyring.js'

/** Options of {@link keyringDriver}. */
export interface KeyringDriverOptions {
  /**
   * The keychain service name every entry of this store is filed under (for example your
   * application's name). Two drivers with the same service share one store.
   */
  readonly service: string
  /**
   * Linux only: the credential store to use. `secret-service` (default; gnome-keyring,
   * KWallet, KeePassXC) survives reboots; `keyutils` (the kernel keyring) is lost at logout
   * or reboot and is reported as `durability: 'session'`. There is no silent fallback from
   * one to the other.
   */
  readonly store?: LinuxKeyringStore | undefined
  /**
   * Largest value accepted, in bytes. Defaults to the platform's limit minus keyward's header
   * (Windows: 2539, Linux keyutils: 32 746) or 64 KiB where the platform sets none (macOS,
   * Secret Service). It may be lowered anywhere, and raised only where the platform has no
   * limit.
   */
  readonly maxValueBytes?: number | undefined
  /**
   * A private directory of this user for the lock files that make compare-and-set and
   * `withLock` safe across processes. Default: `$XDG_RUNTIME_DIR/keyward`, else
   * `<tmpdir>/keyward-<uid>`. Every process sharing a store must use the same one.
   */
  readonly lockDir?: string | undefined
  /**
   * How long one keyring call may take before it fails with `KEYWARD_KEYRING_TIMEOUT`
   * (default {@link KEYRING_TIMEOUT_MS}, 10 s). A session bus or keyring daemon that accepts
   * requests but never answers would otherwise hang the caller.
   */
  readonly timeoutMs?: number | undefined
}

/**
 * The default bound of every keyring call (10 000 ms): `keyringDriver`, `probeKeyring`,
 * `readForeignEntry` and `keyringKey` fail with `KEYWARD_KEYRING_TIMEOUT` after it, unless
 * their `timeoutMs` option says otherwise.
 *
 * @example
 * ```ts
 * import { KEYRING_TIMEOUT_MS, keyringDriver } from '@keyward/core/drivers/keyring'
 *
 * const driver = keyringDriver({ service: 'my-app', timeoutMs: 2 * KEYRING_TIMEOUT_MS })
 * ```
 */
export const KEYRING_TIMEOUT_MS: number = DEFAULT_KEYRING_TIMEOUT_MS

/** What {@link probeKeyring} and `driver.probe()` report. */
export interface KeyringProbe {
  /** True when an entry could be written, read back and deleted. */
  readonly available: boolean
  /** How long entries last on this backend (present when `available`). */
  readonly durability?: Durability
  /** `secret-service`, `keyutils`, `macos-keychain`, `windows-credential-manager`, `unsupported`. */
  readonly backend: string
  /** Why it is unavailable: a `KEYWARD_*` code. */
  readonly code?: string
  /** Why it is unavailable, and the fix. */
  readonly message?: string
}

/** The driver {@link keyringDriver} returns: a {@link Driver} plus what only a keychain has. */
export interface KeyringDriver extends Driver {
  readonly name: 'keyring'
  /** Which keychain this driver uses (`secret-service`, `keyutils`, `macos-keychain`…). */
  readonly backend: string
  /** The largest value `set` accepts, in bytes. */
  readonly maxValueBytes: number
  /**
   * Writes, reads back and deletes a throwaway entry: whether this keychain works now, and if
   * not the code and the fix. Never throws for a keyring failure.
   */
  probe(): Promise<KeyringProbe>
  /** Drops the driver's open keyring entries (and with them their D-Bus connections). */
  close(): Promise<void>
}

/** Options of {@link probeKeyring}. */
export interface ProbeKeyringOptions {
  /** Service name of the throwaway entry (default `keyward`). */
  readonly service?: string | undefined
  /** Linux only: which store to probe (default `secret-service`). */
  readonly store?: LinuxKeyringStore | undefined
  /** Bound of each keyring call of the probe (default {@link KEYRING_TIMEOUT_MS}). */
  readonly timeoutMs?: number | undefined
}

/** Value limit where the platform sets none. */
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024

/** How many native keyring entries a driver keeps open. */
const ENTRY_CACHE_SIZE = 128
/** Account of a key's version record in the meta service: `v:<key>`. */
const RECORD_PREFIX = 'v:'
const INDEX_ACCOUNT = 'index'
const MARKER_ACCOUNT = 'marker'
const encoder = new TextEncoder()

/**
 * A driver that keeps each value in its own OS keychain entry: macOS Keychain, Windows
 * Credential Manager, or on Linux the Secret Service (gnome-keyring, KWallet, KeePassXC) or,
 * when asked for with `store: 'keyutils'`, the kernel keyring. Suited to a few small secrets;
 * for many or large values use `fileDriver` with `keyringKey`, which keeps only the store's
 * key in the keychain.
 *
 * - Each entry is filed under `service` with the storage key as its account name (Secret
 *   Service attributes `service` and `username`, the schema Python keyring and secret-tool
 *   use) and holds the value as other tools read it: UTF-8 text as it is, other bytes as
 *   base64 text. Versions live in a second entry per key in the service `<service>#keyward-meta`,
 *   so they survive restarts and other processes see them. Entries of keyward's earlier
 *   `kw1:<version>:` format are read as before and rewritten in the plain format on the next
 *   write. A value another program wrote over a keyward entry reads as text, at the next
 *   version; an entry keyward never wrote is `KEYWARD_STORE_CORRUPT` (import it with
 *   {@link readForeignEntry}); several items for one key are `KEYWARD_KEYRING_AMBIGUOUS`.
 * - Every keyring call is bounded by `timeoutMs` (default 10 s): `KEYWARD_KEYRING_TIMEOUT`.
 * - Values larger than the platform allows are refused up front with
 *   `KEYWARD_VALUE_TOO_LARGE`, and nothing is written (Windows: 2539 bytes; keyutils: 32 746;
 *   elsewhere 64 KiB unless `maxValueBytes` says otherwise).
 * - Compare-and-set and `withLock` go through lock files in a private per-user directory
 *   (`lockDir`), so they hold across processes.
 * - `@napi-rs/keyring` is loaded on first use: `KEYWARD_MISSING_DEPENDENCY` when absent;
 *   `KEYWARD_KEYRING_UNAVAILABLE` (no daemon, no bus), `KEYWARD_KEYRING_LOCKED` (locked or
 *   denied) and `KEYWARD_KEYRING_ERROR` for platform failures. Call `probe()` before relying
 *   on it.
 *
 * @example
 * ```ts
 * import { keyringDriver } from '@keyward/core/drivers/keyring'
 *
 * const driver = keyringDriver({ service: 'my-app' })
 * const probe = await driver.probe()
 * if (probe.available) {
 *   await driver.set('github/token', new TextEncoder().encode('example'))
 *   const stored = await driver.get('github/token') // { value, version: 1 }
 * }
 * ```
 */
export function keyringDriver(options: KeyringDriverOptions): KeyringDriver {
  assertOptions(options, 'keyringDriver')
  const { service } = options
  checkService(service)
  const backend = keyringBackend(options.store)
  const maxValueBytes = resolveMaxValueBytes(
    backend,
    options.maxValueBytes,
    DEFAULT_MAX_VALUE_BYTES,
  )
  if (options.lockDir !== undefined && (typeof options.lockDir !== 'string' || !options.lockDir)) {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `lockDir` must be a non-empty path')
  }
  const lockDir = options.lockDir ?? defaultLockDir()
  const timeoutMs = resolveTimeout(options.timeoutMs)
  const metaService = `${service}${META_SUFFIX}`
  const useIndex = backend.name === 'keyutils'

  const entries = new Map<string, NativeAsyncEntry>()
  let lockDirReady: Promise<void> | undefined
  let markerWritten = false

  function context(operation: string, account: string | undefined, svc: string) {
    return {
      operation,
      service: svc,
      ...(account === undefined ? {} : { account }),
      backend: backend.name,
    }
  }

  async function call<T>(
    operation: string,
    account: string | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
    svc = service,
  ): Promise<T> {
    try {
      return await boundedCall(context(operation, account, svc), timeoutMs, fn)
    } catch (error) {
      // A failed call may mean a dead connection: the next call opens fresh entries.
      entries.clear()
      throw error
    }
  }

  /**
   * The native entry for `account`. Opening one costs a D-Bus connection on Linux (~16 ms
   * here, against ~1.5 ms for a read through an open one), so the driver keeps the most
   * recently used {@link ENTRY_CACHE_SIZE} open.
   */
  async function entry(account: string, svc = service, cache = true): Promise<NativeAsyncEntry> {
    const id = `${svc}\0${account}`
    const open = entries.get(id)
    if (open) {
      entries.delete(id)
      entries.set(id, open)
      return open
    }
    const native = await readyKeyring(backend, context('open', account, svc), timeoutMs)
    const created = await call(
      'open',
      account,
      async () => new native.AsyncEntry(svc, account, backend.entryOptions),
      svc,
    )
    if (cache) {
      entries.set(id, created)
      if (entries.size > ENTRY_CACHE_SIZE) entries.delete(entries.keys().next().value as string)
    }
    return created
  }

  async function readRaw(account: string, svc = service): Promise<ArrayLike<number> | null> {
    const e = await entry(account, svc)
    return call('read', account, (signal) => e.getSecret(signal), svc)
  }

  /** A stored value with the state its version record will keep as `previous`. */
  interface Current {
    readonly stored: StoredValue
    readonly state: EntryState
  }

  async function readCurrent(key: string): Promise<Current | null> {
    // One after the other: a locked keyring fails the first read, with nothing else in flight.
    const raw = await readRaw(key)
    if (raw === null) return null
    const rawRecord = await readRaw(`${RECORD_PREFIX}${key}`, metaService)
    const entryBytes = Uint8Array.from(raw)
    const record = rawRecord === null ? null : decodeVersionRecord(rawRecord)
    if (rawRecord !== null && record === null) {
      throw new KeywardError(
        KEYWARD_STORE_CORRUPT,
        `the version record of keyring entry "${key}" in service "${service}" is unreadable; delete entry "${RECORD_PREFIX}${key}" of service "${metaService}" (the value stays and is read as a legacy or foreign entry)`,
        { details: { service, key, backend: backend.name } },
      )
    }
    const resolved = resolveEntry(entryBytes, record)
    if (resolved.kind !== 'value') {
      throw new KeywardError(
        KEYWARD_STORE_CORRUPT,
        resolved.kind === 'foreign'
          ? `keyring entry "${key}" in service "${service}" was not written by keyward (another program stored it); keyward leaves it untouched. Read it with readForeignEntry({ service, account }) to import it, or use another service`
          : `keyring entry "${key}" in service "${service}" does not hold what its version record says; delete the entry and its record "${RECORD_PREFIX}${key}" of service "${metaService}"`,
        { details: { service, key, backend: backend.name } },
      )
    }
    return {
      stored: resolved.stored,
      state: {
        version: resolved.stored.version,
        format: resolved.format,
        digest: entryDigest(entryBytes),
      },
    }
  }

  async function read(key: string): Promise<StoredValue | null> {
    return (await readCurrent(key))?.stored ?? null
  }

  async function locked<T>(
    kind: string,
    parts: string[],
    fn: () => Promise<T>,
    label: string,
    lockOptions?: LockOptions,
  ): Promise<T> {
    lockDirReady ??= ensureLockDir(lockDir).catch((error) => {
      lockDirReady = undefined
      throw error
    })
    await lockDirReady
    return withFileLock(join(lockDir, lockFileName(kind, service, ...parts)), fn, {
      ...lockOptions,
      label,
    })
  }

  async function readIndex(): Promise<string[]> {
    const raw = await readRaw(INDEX_ACCOUNT, metaService)
    if (raw === null) return []
    const keys = decodeIndex(raw)
    if (keys === null) {
      throw new KeywardError(
        KEYWARD_STORE_CORRUPT,
        `the key index of keyring service "${service}" is unreadable; delete entry "${INDEX_ACCOUNT}" of service "${metaService}" (keys then need to be written again to be listed)`,
        { details: { service, backend: backend.name } },
      )
    }
    return keys
  }

  async function updateIndex(key: string, present: boolean): Promise<void> {
    await locked(
      'index',
      [],
      async () => {
        const keys = new Set(await readIndex())
        if (keys.has(key) === present) return
        if (present) keys.add(key)
        else keys.delete(key)
        const encoded = encodeIndex([...keys].sort(compareKeys))
        if (backend.entryLimitBytes !== undefined && encoded.byteLength > backend.entryLimitBytes) {
          throw new KeywardError(
            KEYWARD_VALUE_TOO_LARGE,
            `the key index of keyring service "${service}" would exceed ${backend.entryLimitBytes} bytes on ${backend.name}; use fewer or shorter keys, or fileDriver with keyringKey`,
            { details: { service, backend: backend.name, limit: backend.entryLimitBytes } },
          )
        }
        const e = await entry(INDEX_ACCOUNT, metaService)
        await call('write', INDEX_ACCOUNT, (signal) => e.setSecret(encoded, signal), metaService)
      },
      'keyring index',
    )
  }

  async function ensureMarker(): Promise<void> {
    if (markerWritten) return
    const raw = await readRaw(MARKER_ACCOUNT, metaService)
    if (raw === null) {
      const e = await entry(MARKER_ACCOUNT, metaService)
      await call(
        'write',
        MARKER_ACCOUNT,
        (signal) => e.setSecret(encoder.encode('kwm1'), signal),
        metaService,
      )
    }
    markerWritten = true
  }

  async function probe(): Promise<KeyringProbe> {
    try {
      const account = `probe-${randomUUID()}`
      const canary = encoder.encode(`probe-${randomUUID()}`)
      const e = await entry(account, metaService, false)
      await call('write', account, (signal) => e.setSecret(canary, signal), metaService)
      try {
        const back = await call('read', account, (signal) => e.getSecret(signal), metaService)
        if (back === null || Buffer.compare(Buffer.from(Array.from(back)), canary) !== 0) {
          throw mapKeyringError(new Error('probe entry did not read back'), {
            operation: 'probe',
            service: metaService,
            account,
            backend: backend.name,
          })
        }
      } finally {
        await call('delete', account, (signal) => e.deleteCredential(signal), metaService)
      }
      return { available: true, durability: backend.durability, backend: backend.name }
    } catch (error) {
      if (!KeywardError.isInstance(error)) throw error
      return { available: false, backend: backend.name, code: error.code, message: error.message }
    }
  }

  return {
    name: 'keyring',
    durability: backend.durability,
    backend: backend.name,
    maxValueBytes,
    ...checkedOperations({
      get: read,
      set: write,
      async delete(key, ifVersion) {
        return locked(
          'write',
          [key],
          async () => {
            const current = (await read(key))?.version ?? 0
            assertVersion(key, ifVersion, current)
            if (current === 0) return false
            const e = await entry(key)
            const deleted = await call('delete', key, (signal) => e.deleteCredential(signal))
            // The value first: a crash between the two leaves a record without a value, which
            // reads as absent.
            const r = await entry(`${RECORD_PREFIX}${key}`, metaService)
            await call('delete', key, (signal) => r.deleteCredential(signal), metaService)
            if (useIndex) await updateIndex(key, false)
            return deleted
          },
          key,
        )
      },
      list,
      withLock: (key, fn, lockOptions) => locked('lock', [key], fn, key, lockOptions),
    }),
    async setMany(): Promise<never> {
      throw new KeywardError(
        KEYWARD_ATOMIC_WRITE_UNSUPPORTED,
        'the OS keyring has no transactions, so keyringDriver cannot write several keys atomically; write them one by one or keep them in the file driver',
      )
    },
    probe,
    async close(): Promise<void> {
      entries.clear()
    },
  } satisfies KeyringDriver

  async function write(key: string, value: Uint8Array, ifVersion: number | undefined) {
    if (value.byteLength > maxValueBytes) {
      throw new KeywardError(
        KEYWARD_VALUE_TOO_LARGE,
        `value for key "${key}" is ${value.byteLength} bytes; the keyring driver on ${backend.name} takes at most ${maxValueBytes}. Keep large values in fileDriver with keyringKey, which stores only the key in the keychain`,
        {
          details: { key, bytes: value.byteLength, limit: maxValueBytes, backend: backend.name },
        },
      )
    }
    const encoded = encodeValue(value)
    if (
      backend.entryLimitBytes !== undefined &&
      encoded.entry.byteLength > backend.entryLimitBytes
    ) {
      throw new KeywardError(
        KEYWARD_VALUE_TOO_LARGE,
        `value for key "${key}" takes ${encoded.entry.byteLength} bytes as a ${backend.name} entry (${encoded.format === 'b' ? 'binary values are stored as base64 text' : 'text'}); the platform takes at most ${backend.entryLimitBytes}. Keep large values in fileDriver with keyringKey, which stores only the key in the keychain`,
        {
          details: {
            key,
            bytes: encoded.entry.byteLength,
            limit: backend.entryLimitBytes,
            backend: backend.name,
          },
        },
      )
    }
    return locked(
      'write',
      [key],
      async () => {
        const current = await readCurrent(key)
        const currentVersion = current?.stored.version ?? 0
        assertVersion(key, ifVersion, currentVersion)
        const version = currentVersion + 1
        if (useIndex) {
          if (currentVersion === 0) await updateIndex(key, true)
        } else {
          await ensureMarker()
        }
        // The version record first, naming the state it replaces: a crash before the value's
        // write then still reads as that state.
        const record = encodeVersionRecord({
          current: { version, format: encoded.format, digest: entryDigest(encoded.entry) },
          previous: current?.state,
        })
        const r = await entry(`${RECORD_PREFIX}${key}`, metaService)
        await call('write', key, (signal) => r.setSecret(record, signal), metaService)
        const e = await entry(key)
        // As text (setPassword): Windows then stores it as UTF-16, as its tools read.
        await call('write', key, (signal) => e.setPassword(encoded.text, signal))
        return { version }
      },
      key,
    )
  }

  async function list(prefix: string): Promise<string[]> {
    let keys: string[]
    if (useIndex) {
      keys = await readIndex()
    } else {
      // Reading the marker first turns a locked keyring into KEYWARD_KEYRING_LOCKED: the
      // Secret Service search would otherwise answer a locked collection with no entries.
      await readRaw(MARKER_ACCOUNT, metaService)
      const native = await readyKeyring(backend, context('list', undefined, service), timeoutMs)
      const found = await call('list', undefined, (signal) =>
        native.findCredentialsAsync(service, null, signal),
      )
      keys = found.map((credential) => credential.account)
    }
    return [...new Set(keys)].filter((key) => key.startsWith(prefix)).sort(compareKeys)
  }
}

/**
 * Tells whether the OS keyring works here before anything relies on it: writes, reads back
 * and deletes a throwaway entry. Never throws for a keyring failure; reports why instead
 * (`KEYWARD_MISSING_DEPENDENCY`, `KEYWARD_KEYRING_UNAVAILABLE`, `KEYWARD_KEYRING_LOCKED`…).
 *
 * @example
 * ```ts
 * import { probeKeyring } from '@keyward/core/drivers/keyring'
 *
 * const probe = await probeKeyring()
 * if (!probe.available) console.warn(`no OS keyring (${probe.code}): ${probe.message}`)
 * else if (probe.durability === 'session') console.warn('keyring entries are lost at logout')
 * ```
 */
export function probeKeyring(options: ProbeKeyringOptions = {}): Promise<KeyringProbe> {
  const service = options.service ?? 'keyward'
  checkService(service)
  return keyringDriver({
    service,
    ...(options.store === undefined ? {} : { store: options.store }),
    timeoutMs: options.timeoutMs,
  }).probe()
}
