/**
 * How long a driver keeps what it stores:
 * - `durable`: survives restarts (a file, the OS keychain, PostgreSQL);
 * - `session`: lost at logout or reboot (Linux kernel keyutils);
 * - `memory`: lost when the process exits.
 */
export type Durability = 'durable' | 'session' | 'memory'

/** A stored value with its version, as {@link Driver.get} returns it. */
export interface StoredValue {
  /** The bytes last written. */
  readonly value: Uint8Array
  /** Starts at 1 for a new key and grows by one on every write of that key. */
  readonly version: number
}

/** Options of {@link Driver.set}. */
export interface SetOptions {
  /**
   * Compare-and-set: write only if the key's current version is this one (`0` means "only if
   * the key does not exist"). Otherwise throw a `KeywardError` with code
   * `KEYWARD_VERSION_CONFLICT` and change nothing.
   */
  readonly ifVersion?: number
}

/** Options of {@link Driver.delete}. */
export interface DeleteOptions {
  /** Delete only if the key's current version is this one; otherwise `KEYWARD_VERSION_CONFLICT`. */
  readonly ifVersion?: number
}

/** Options of {@link Driver.withLock}. */
export interface LockOptions {
  /** Give up with `KEYWARD_LOCK_TIMEOUT` after this many milliseconds (default 30 000). */
  readonly timeoutMs?: number
  /** Stop waiting with the signal's reason when it aborts. */
  readonly signal?: AbortSignal
}

/**
 * The storage contract every keyward package stores through: a versioned key → bytes map
 * with compare-and-set and a cross-process lock. A driver is a factory returning an object
 * that `satisfies Driver`; `@keyward/core/testing` holds the conformance suite each one passes.
 *
 * Keys are non-empty strings of at most 512 UTF-8 bytes without NUL; `/` is the conventional
 * separator for prefixes (`authstore/github/default`).
 *
 * @example
 * ```ts
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 *
 * const driver = memoryDriver()
 * const { version } = await driver.set('greeting', new TextEncoder().encode('hello'))
 * await driver.set('greeting', new TextEncoder().encode('hi'), { ifVersion: version })
 * const stored = await driver.get('greeting') // { value: Uint8Array, version: 2 }
 * ```
 */
export interface Driver {
  /** A short name for diagnostics and metadata: `memory`, `file`, `keyring`, `postgres`… */
  readonly name: string
  /** How long what this driver stores lasts. */
  readonly durability: Durability
  /** The value and version stored under `key`, or `null` when there is none. */
  get(key: string): Promise<StoredValue | null>
  /** Stores `value` under `key` atomically and returns the new version. */
  set(key: string, value: Uint8Array, options?: SetOptions): Promise<{ version: number }>
  /** Removes `key`; resolves `true` if it existed. */
  delete(key: string, options?: DeleteOptions): Promise<boolean>
  /** Every key that starts with `prefix` (`''` for all), sorted by code unit. */
  list(prefix?: string): Promise<string[]>
  /**
   * Runs `fn` while holding an exclusive lock named `key`, across every process that uses the
   * same store, and releases it however `fn` ends. The lock is advisory (it does not block
   * `get`/`set`) and not reentrant: nesting the same key in one async context throws
   * `KEYWARD_LOCK_REENTRANT` instead of deadlocking.
   */
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T>
  /** Releases handles and timers. Optional. */
  close?(): Promise<void>
}

/** Fields a log line may carry. Never put a secret value here. */
export type LogFields = Readonly<Record<string, unknown>>

/**
 * Where keyward packages send diagnostics. Compatible with `console` and with most logging
 * libraries (pino, winston) through a thin adapter.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
}

/** A logger that drops everything: the default where a host passes none. */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
})

/** The time in epoch milliseconds; injectable so that expiry logic can be tested. */
export type Clock = () => number

/** The system clock. */
export const systemClock: Clock = () => Date.now()

/**
 * Parameters a key provider records in a store's header so that the same key can be derived
 * again (for example a KDF's salt and cost). Never secret.
 */
export type KeyParams = Readonly<Record<string, string | number | boolean>>

/**
 * Supplies the key-encryption key that wraps an encrypted store's random 256-bit data key.
 * `keyringKey`, `passphraseKey` and `envKey` are the built-in providers.
 */
export interface KeyProvider {
  /** `keyring`, `passphrase`, `env`, or a host's own kind. Recorded in the store header. */
  readonly kind: string
  /**
   * Parameters for a new store or for re-wrapping the data key on save. Called when a store
   * is created and whenever {@link KeyProvider.shouldUpgrade} says the stored ones are weak.
   */
  createParams(): KeyParams
  /** True when `params` (read from a header) are weaker than this provider would choose now. */
  shouldUpgrade?(params: KeyParams): boolean
  /**
   * The 32-byte key-encryption key for `params`. `mode: 'create'` may create key material
   * (a new keyring entry); `mode: 'open'` must not and fails with `KEYWARD_KEY_MISSING`.
   */
  deriveKey(params: KeyParams, mode: 'open' | 'create'): Promise<Uint8Array>
}
