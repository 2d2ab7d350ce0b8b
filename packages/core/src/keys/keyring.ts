import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { KeyParams, KeyProvider } from '../contracts.js'
import {
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_KEY_INVALID,
  KEYWARD_KEY_MISSING,
  KEYWARD_WRONG_KEY,
  KeywardError,
} from '../errors.js'
import { assertOptions } from '../guards.js'
import { withFileLock } from '../internal/lock.js'
import {
  boundedCall,
  checkEntryName,
  defaultLockDir,
  ensureLockDir,
  keyringBackend,
  type LinuxKeyringStore,
  lockFileName,
  type NativeAsyncEntry,
  readyKeyring,
  resolveTimeout,
} from '../internal/native-keyring.js'

/** Options of {@link keyringKey}. */
export interface KeyringKeyOptions {
  /** Keychain service name of the key's entry (default `keyward`). */
  readonly service?: string | undefined
  /** Account name of the key's entry (default `store-key`). One entry may serve many stores. */
  readonly account?: string | undefined
  /**
   * Linux only: `secret-service` (default, survives reboots) or `keyutils` (the kernel
   * keyring: lost at logout, so a store keyed there cannot be opened after a reboot).
   */
  readonly store?: LinuxKeyringStore | undefined
  /** Directory of the lock file that serialises key creation (see `keyringDriver`'s `lockDir`). */
  readonly lockDir?: string | undefined
  /** Bound of each keyring call (default 10 000 ms; then `KEYWARD_KEYRING_TIMEOUT`). */
  readonly timeoutMs?: number | undefined
}

/** The provider {@link keyringKey} returns: a {@link KeyProvider} naming its keychain entry. */
export interface KeyringKeyProvider extends KeyProvider {
  readonly kind: 'keyring'
  /** The keychain service name of the key's entry. */
  readonly service: string
  /** The account name of the key's entry. */
  readonly account: string
}

const KEY_BYTES = 32
const BASE64 = /^[A-Za-z0-9+/]{43}=$/

/**
 * A {@link KeyProvider} that keeps a random 256-bit key in the OS keychain (macOS Keychain,
 * Windows Credential Manager, Linux Secret Service) and hands it to an encrypted store such as
 * `fileDriver`. The keychain holds only these 32 bytes (base64), so the store itself can grow
 * without meeting the keychain's size limits.
 *
 * - Creating a store makes the entry `service`/`account` if it is absent (and reuses it if
 *   present); the store's header records `service` and `account`.
 * - Opening a store never creates a key: a missing entry is `KEYWARD_KEY_MISSING` (restore the
 *   entry, or the store cannot be decrypted), a malformed one `KEYWARD_KEY_INVALID`, an entry
 *   other than the one in the header `KEYWARD_WRONG_KEY`.
 * - Keyring failures are `KEYWARD_KEYRING_UNAVAILABLE`, `KEYWARD_KEYRING_LOCKED`,
 *   `KEYWARD_KEYRING_ERROR`; a missing `@napi-rs/keyring` is `KEYWARD_MISSING_DEPENDENCY`.
 *
 * The provider holds no key material itself: `util.inspect` and `JSON.stringify` show only
 * its kind, service and account.
 *
 * @example
 * ```ts
 * import { keyringKey } from '@keyward/core'
 * import { fileDriver } from '@keyward/core/drivers/file'
 *
 * const store = fileDriver({ path: './secrets.keyward', key: keyringKey({ service: 'my-app' }) })
 * ```
 */
export function keyringKey(options: KeyringKeyOptions = {}): KeyringKeyProvider {
  assertOptions(options, 'keyringKey', { lockDir: 'non-empty string' })
  const service = options.service ?? 'keyward'
  const account = options.account ?? 'store-key'
  checkEntryName(service, 'service')
  checkEntryName(account, 'account')
  const backend = keyringBackend(options.store)
  const lockDir = options.lockDir ?? defaultLockDir()
  const timeoutMs = resolveTimeout(options.timeoutMs)
  const where = `keyring entry "${account}" of service "${service}" (${backend.name})`

  async function withEntry<T>(
    operation: string,
    fn: (entry: NativeAsyncEntry, signal: AbortSignal) => Promise<T>,
    secrets: string[] = [],
  ): Promise<T> {
    const context = { operation, service, account, backend: backend.name, secrets }
    const native = await readyKeyring(backend, context, timeoutMs)
    return boundedCall(context, timeoutMs, (signal) =>
      fn(new native.AsyncEntry(service, account, backend.entryOptions), signal),
    )
  }

  function decode(text: string): Uint8Array {
    const trimmed = text.trim()
    const key = BASE64.test(trimmed) ? Buffer.from(trimmed, 'base64') : undefined
    if (key?.byteLength !== KEY_BYTES) {
      throw new KeywardError(
        KEYWARD_KEY_INVALID,
        `${where} does not hold a base64 32-byte key; restore the entry keyward created, or the store cannot be opened`,
        { details: { service, account, backend: backend.name } },
      )
    }
    return new Uint8Array(key)
  }

  function checkParams(params: KeyParams): void {
    if (params.service !== service || params.account !== account) {
      const recorded = `"${String(params.account)}" of service "${String(params.service)}"`
      throw new KeywardError(
        KEYWARD_WRONG_KEY,
        `this store's key is keyring entry ${recorded}, but this keyringKey uses "${account}" of service "${service}"; pass keyringKey({ service, account }) with the recorded names`,
        {
          details: {
            service,
            account,
            recordedService: params.service,
            recordedAccount: params.account,
          },
        },
      )
    }
  }

  async function read(): Promise<Uint8Array | null> {
    const text = await withEntry('read', (entry, signal) => entry.getPassword(signal))
    return text === null ? null : decode(text)
  }

  return {
    kind: 'keyring',
    service,
    account,
    createParams(): KeyParams {
      return { service, account }
    },
    async deriveKey(params: KeyParams, mode: 'open' | 'create'): Promise<Uint8Array> {
      checkParams(params)
      if (mode === 'open') {
        const key = await read()
        if (key === null) {
          throw new KeywardError(
            KEYWARD_KEY_MISSING,
            `this store's key is not in the OS keyring: look for ${where}. Restore that entry (from a backup, or the machine that created the store); a new key would not open the store`,
            { details: { service, account, backend: backend.name } },
          )
        }
        return key
      }
      if (mode !== 'create') {
        throw new KeywardError(KEYWARD_INVALID_ARGUMENT, "mode must be 'open' or 'create'")
      }
      await ensureLockDir(lockDir)
      return withFileLock(
        join(lockDir, lockFileName('key', service, account)),
        async () => {
          const existing = await read()
          if (existing !== null) return existing
          const key = randomBytes(KEY_BYTES)
          const encoded = key.toString('base64')
          await withEntry('write', (entry, signal) => entry.setPassword(encoded, signal), [encoded])
          return new Uint8Array(key)
        },
        { label: `keyring key ${service}/${account}` },
      )
    },
  } satisfies KeyringKeyProvider
}
