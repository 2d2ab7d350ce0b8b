/**
 * Stable error codes of `@keyward/core`. A caller branches on `error.code`, never on the
 * message text. Other keyward packages define their own `KEYWARD_*` codes the same way.
 *
 * @example
 * ```ts
 * import { KEYWARD_VERSION_CONFLICT, KeywardError } from '@keyward/core'
 *
 * try {
 *   await driver.set('k', new Uint8Array([1]), { ifVersion: 3 })
 * } catch (error) {
 *   if (KeywardError.isInstance(error) && error.code === KEYWARD_VERSION_CONFLICT) {
 *     // re-read and retry
 *   }
 * }
 * ```
 * @module
 */

/** An argument or option passed to a keyward function is invalid; the message names it. */
export const KEYWARD_INVALID_ARGUMENT = 'KEYWARD_INVALID_ARGUMENT'
/** A storage key is empty, too long, or contains a character a driver cannot store. */
export const KEYWARD_INVALID_KEY = 'KEYWARD_INVALID_KEY'
/** `set`/`delete` with `ifVersion` found another version: re-read, then retry. */
export const KEYWARD_VERSION_CONFLICT = 'KEYWARD_VERSION_CONFLICT'
/** A value is larger than the driver (or the platform beneath it) can store. */
export const KEYWARD_VALUE_TOO_LARGE = 'KEYWARD_VALUE_TOO_LARGE'
/** `withLock` could not take the lock within its timeout: another holder is alive and busy. */
export const KEYWARD_LOCK_TIMEOUT = 'KEYWARD_LOCK_TIMEOUT'
/** `withLock` was called again for a key whose lock the same async context already holds. */
export const KEYWARD_LOCK_REENTRANT = 'KEYWARD_LOCK_REENTRANT'
/** An optional dependency (for example `@napi-rs/keyring`) is not installed; the message names it. */
export const KEYWARD_MISSING_DEPENDENCY = 'KEYWARD_MISSING_DEPENDENCY'
/** The file is not a keyward store (wrong magic bytes): nothing was read or overwritten. */
export const KEYWARD_STORE_UNKNOWN_FORMAT = 'KEYWARD_STORE_UNKNOWN_FORMAT'
/** The store was written by a newer format version than this release reads. */
export const KEYWARD_STORE_UNSUPPORTED_VERSION = 'KEYWARD_STORE_UNSUPPORTED_VERSION'
/** The store file is shorter than its own framing says: it was cut off. Nothing was overwritten. */
export const KEYWARD_STORE_TRUNCATED = 'KEYWARD_STORE_TRUNCATED'
/** The store file failed an integrity check (a changed byte, a swapped or forged record). */
export const KEYWARD_STORE_CORRUPT = 'KEYWARD_STORE_CORRUPT'
/** The store file cannot be read or written (permissions, missing directory, disk full). */
export const KEYWARD_STORE_IO = 'KEYWARD_STORE_IO'
/** The passphrase does not open this store. */
export const KEYWARD_WRONG_PASSPHRASE = 'KEYWARD_WRONG_PASSPHRASE'
/** The key (from the keyring or the environment) does not open this store. */
export const KEYWARD_WRONG_KEY = 'KEYWARD_WRONG_KEY'
/** The store was created with another kind of key provider (for example a passphrase store opened with `envKey`). */
export const KEYWARD_KEY_TYPE_MISMATCH = 'KEYWARD_KEY_TYPE_MISMATCH'
/** The key the provider needs is not there (unset environment variable, key missing from the keyring). */
export const KEYWARD_KEY_MISSING = 'KEYWARD_KEY_MISSING'
/** The key material is malformed (not base64, not 32 bytes). */
export const KEYWARD_KEY_INVALID = 'KEYWARD_KEY_INVALID'
/** No OS keyring is reachable (no Secret Service daemon, no session bus, unsupported platform). */
export const KEYWARD_KEYRING_UNAVAILABLE = 'KEYWARD_KEYRING_UNAVAILABLE'
/** The OS keyring is there but locked, or the user denied access. */
export const KEYWARD_KEYRING_LOCKED = 'KEYWARD_KEYRING_LOCKED'
/** The OS keyring failed in a way keyward does not recognise; `cause` holds the platform error. */
export const KEYWARD_KEYRING_ERROR = 'KEYWARD_KEYRING_ERROR'
/**
 * A refresher could not refresh a token (a {@link RefreshError}). `error.transient` says whether
 * retrying later may help (network errors, 5xx, 429) or not (`invalid_grant`: the refresh token
 * is dead).
 */
export const KEYWARD_REFRESH_FAILED = 'KEYWARD_REFRESH_FAILED'

/** Every code `@keyward/core` itself throws. */
export type CoreErrorCode =
  | typeof KEYWARD_INVALID_ARGUMENT
  | typeof KEYWARD_INVALID_KEY
  | typeof KEYWARD_VERSION_CONFLICT
  | typeof KEYWARD_VALUE_TOO_LARGE
  | typeof KEYWARD_LOCK_TIMEOUT
  | typeof KEYWARD_LOCK_REENTRANT
  | typeof KEYWARD_MISSING_DEPENDENCY
  | typeof KEYWARD_STORE_UNKNOWN_FORMAT
  | typeof KEYWARD_STORE_UNSUPPORTED_VERSION
  | typeof KEYWARD_STORE_TRUNCATED
  | typeof KEYWARD_STORE_CORRUPT
  | typeof KEYWARD_STORE_IO
  | typeof KEYWARD_WRONG_PASSPHRASE
  | typeof KEYWARD_WRONG_KEY
  | typeof KEYWARD_KEY_TYPE_MISMATCH
  | typeof KEYWARD_KEY_MISSING
  | typeof KEYWARD_KEY_INVALID
  | typeof KEYWARD_KEYRING_UNAVAILABLE
  | typeof KEYWARD_KEYRING_LOCKED
  | typeof KEYWARD_KEYRING_ERROR
  | typeof KEYWARD_REFRESH_FAILED

/** A keyward error code: one of core's, or a `KEYWARD_*` code another keyward package defines. */
export type KeywardErrorCode = CoreErrorCode | `KEYWARD_${string}`

/** Options of {@link KeywardError}. */
export interface KeywardErrorOptions {
  /** The underlying error. Never pass an error whose message may contain a secret value. */
  cause?: unknown
  /**
   * Facts about the failure that a program may act on: a path, a key, a field, a version.
   * Never a secret value.
   */
  details?: Readonly<Record<string, unknown>>
}

/**
 * The static side of an error class that {@link KeywardError.isInstance} recognises: its own
 * `Symbol.for` marker, and the instances it makes.
 */
export interface KeywardErrorClass<E extends KeywardError = KeywardError> {
  readonly marker: symbol
  readonly prototype: E
}

/**
 * The one error class of keyward. Every failure keyward reports is a `KeywardError` (or a
 * subclass) with a stable `code`; the message names what is at fault and the fix, and never
 * contains a secret value.
 *
 * Recognise it with {@link KeywardError.isInstance} rather than `instanceof`: separately
 * published packages can be installed twice, and `isInstance` works across copies.
 *
 * A subclass declares its own marker, `static override readonly marker =
 * Symbol.for('keyward.error.<ClassName>')`; every instance carries the markers of its class and
 * of each class above it, so `Subclass.isInstance` accepts that subclass (and its own
 * subclasses) and never the base class or a sibling.
 *
 * @example
 * ```ts
 * import { KeywardError } from '@keyward/core'
 *
 * const error = new KeywardError('KEYWARD_INVALID_ARGUMENT', 'option `path` must be a string')
 * KeywardError.isInstance(error) // true
 * error.code // 'KEYWARD_INVALID_ARGUMENT'
 * ```
 */
export class KeywardError extends Error {
  /** The `Symbol.for` marker every keyward error carries. Each subclass declares its own. */
  static readonly marker: symbol = Symbol.for('keyward.error')

  /** The stable code to branch on. */
  readonly code: KeywardErrorCode
  /** Facts about the failure (paths, keys, versions); never a secret value. */
  readonly details: Readonly<Record<string, unknown>>

  constructor(code: KeywardErrorCode, message: string, options: KeywardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = Object.freeze({ ...options.details })
    this.name = new.target.name
    // Mark the instance with the marker of every class from new.target up to KeywardError, so
    // each class's isInstance recognises it across copies of the package.
    for (
      let cls: unknown = new.target;
      typeof cls === 'function' && cls !== Error;
      cls = Object.getPrototypeOf(cls)
    ) {
      if (Object.hasOwn(cls, 'marker')) {
        const marker = (cls as unknown as KeywardErrorClass).marker
        if (typeof marker === 'symbol')
          Object.defineProperty(this, marker, { value: true, enumerable: false })
      }
    }
  }

  /**
   * True for an instance of this class from any copy of its package (subclasses of it
   * included), and narrows to it: `KeywardError.isInstance` accepts every keyward error,
   * `RefreshError.isInstance` only refresh errors. A class without its own `marker` recognises
   * nothing.
   */
  static isInstance<E extends KeywardError>(
    this: KeywardErrorClass<E> | undefined,
    value: unknown,
  ): value is E {
    // Called unbound (`errors.some(KeywardError.isInstance)`), `this` is undefined: act as the base.
    // biome-ignore lint/complexity/noThisInStatic: isInstance recognises the class it is called on
    const cls = this ?? KeywardError
    if (!Object.hasOwn(cls, 'marker') || typeof cls.marker !== 'symbol') return false
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[cls.marker] === true
    )
  }

  /** A JSON form for logs and audit lines: name, code, message and details (no stack, no cause). */
  toJSON(): {
    name: string
    code: KeywardErrorCode
    message: string
    details: Readonly<Record<string, unknown>>
  } {
    return { name: this.name, code: this.code, message: this.message, details: this.details }
  }
}

/** True when `value` is a `KeywardError` with the given code. */
export function isKeywardError(value: unknown, code?: KeywardErrorCode): value is KeywardError {
  return KeywardError.isInstance(value) && (code === undefined || value.code === code)
}

/** Options of {@link RefreshError}. */
export interface RefreshErrorOptions {
  /** True when retrying later may succeed (network error, 5xx, 429); false for `invalid_grant`. */
  readonly transient: boolean
  /** The OAuth `error` code the token endpoint returned (`invalid_grant`, `temporarily_unavailable`…). */
  readonly oauthError?: string | undefined
  /** When to try again at the earliest (from a `Retry-After` header, for example). */
  readonly retryAt?: Date | undefined
  /** The underlying failure. Never an error whose message quotes a token or a response body. */
  readonly cause?: unknown
}

/**
 * What a `Refresher` throws when it cannot refresh (code `KEYWARD_REFRESH_FAILED`). Any other
 * error a refresher throws counts as transient. `AuthStore` reacts to it: a permanent failure
 * moves the record to `reauth_required`, a transient one to `degraded` with backoff while the
 * unexpired token keeps being served.
 *
 * @example
 * ```ts
 * import { RefreshError } from '@keyward/core'
 *
 * // in a refresher, after the token endpoint answered 400 {"error":"invalid_grant"}:
 * const error = new RefreshError('the provider refused the refresh token', {
 *   transient: false,
 *   oauthError: 'invalid_grant',
 * })
 * RefreshError.isInstance(error) // true
 * ```
 */
export class RefreshError extends KeywardError {
  static override readonly marker: symbol = Symbol.for('keyward.error.RefreshError')

  /** True when retrying later may succeed. */
  readonly transient: boolean
  /** The OAuth `error` code, when the token endpoint sent one. */
  readonly oauthError: string | undefined
  /** The earliest time to try again, when known. */
  readonly retryAt: Date | undefined

  constructor(message: string, options: RefreshErrorOptions) {
    if (typeof options?.transient !== 'boolean') {
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        'RefreshError option `transient` must be a boolean',
      )
    }
    super(KEYWARD_REFRESH_FAILED, message, {
      cause: options.cause,
      details: {
        transient: options.transient,
        ...(options.oauthError === undefined ? {} : { oauthError: options.oauthError }),
        ...(options.retryAt === undefined ? {} : { retryAt: options.retryAt.toISOString() }),
      },
    })
    this.transient = options.transient
    this.oauthError = options.oauthError
    this.retryAt = options.retryAt
  }

  /**
   * True for a `RefreshError` from any copy of keyward, including copies of
   * `@keyward/authstore` 0.1 that predate the class's marker.
   *
   * @deprecated Use {@link RefreshError.isInstance}.
   */
  static isRefreshError(value: unknown): value is RefreshError {
    return (
      RefreshError.isInstance(value) ||
      (KeywardError.isInstance(value) &&
        value.code === KEYWARD_REFRESH_FAILED &&
        typeof (value as { transient?: unknown }).transient === 'boolean')
    )
  }
}
