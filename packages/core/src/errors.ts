/**
 * `KeywardError`, its subclasses and the code union of `@keyward/core`. The codes themselves
 * are constants in `./codes.ts` (the one place a `KEYWARD_*` code is written), re-exported here.
 *
 * @module
 */
import type * as codes from './codes.js'
import { KEYWARD_INVALID_ARGUMENT, KEYWARD_REFRESH_FAILED } from './codes.js'

export * from './codes.js'

/**
 * Why a token cannot be handed out (`details.reason` of `KEYWARD_AUTH_REQUIRED`):
 * - `no_token`: nothing is stored for the service (or it was cleared);
 * - `expired`: the token expired and no refresh succeeded;
 * - `insufficient_scope`: the token lacks a scope the caller asked for (`missingScopes`);
 * - `reauth_required`: the provider refused the refresh token; sign in again.
 *
 * @example
 * ```ts
 * import type { AuthenticationRequiredReason } from '@keyward/core'
 *
 * const mustSignIn = (reason: AuthenticationRequiredReason) => reason !== 'insufficient_scope'
 * ```
 */
export type AuthenticationRequiredReason =
  | 'no_token'
  | 'expired'
  | 'insufficient_scope'
  | 'reauth_required'

/** Every code `@keyward/core` defines, derived from its `KEYWARD_*` constants. */
export type CoreErrorCode = (typeof codes)[keyof typeof codes]

/** A keyward error code: one of core's, or a `KEYWARD_*` code another keyward package defines. */
export type KeywardErrorCode = CoreErrorCode | `KEYWARD_${string}`

/**
 * The `details` of the codes whose details programs read, by code. Other keyward packages add
 * their codes by module augmentation (`declare module '@keyward/core' { interface
 * KeywardErrorDetails { … } }`); use type literals as values. Narrow to one code with
 * {@link isKeywardError} to read them without a cast.
 *
 * @example
 * ```ts
 * import { isKeywardError, KEYWARD_VERSION_CONFLICT } from '@keyward/core'
 *
 * function staleVersion(error: unknown): number | undefined {
 *   return isKeywardError(error, KEYWARD_VERSION_CONFLICT) ? error.details.actual : undefined
 * }
 * ```
 */
export interface KeywardErrorDetails {
  KEYWARD_VERSION_CONFLICT: {
    /** The version the caller expected (`0` for a driver key: absent). */
    readonly expected: number
    /** The version found (`0` for a driver key: absent). */
    readonly actual: number
    /** A driver conflict: the storage key whose version moved. */
    readonly key?: string
    /** A vault conflict: the id of the secret whose version moved. */
    readonly secret?: string
  }
  KEYWARD_AUTH_REQUIRED: {
    readonly reason: AuthenticationRequiredReason
    readonly service: string
    readonly account?: string
    /** For `insufficient_scope`: the scopes asked for and not granted. */
    readonly missingScopes?: readonly string[]
  }
}

/**
 * The `details` type of errors with code `C`: the entry of {@link KeywardErrorDetails} for one
 * code that has one, otherwise a plain record (also for a union of codes).
 */
export type KeywardErrorDetailsOf<C extends KeywardErrorCode> = [C] extends [
  keyof KeywardErrorDetails,
]
  ? KeywardErrorDetails[C]
  : Readonly<Record<string, unknown>>

/** Options of {@link KeywardError}. */
export interface KeywardErrorOptions<C extends KeywardErrorCode = KeywardErrorCode> {
  /** The underlying error. Never pass an error whose message may contain a secret value. */
  cause?: unknown
  /**
   * Facts about the failure that a program may act on: a path, a key, a field, a version.
   * Never a secret value.
   */
  details?: KeywardErrorDetailsOf<C> | undefined
}

/**
 * The static side of an error class that {@link KeywardError.isInstance} recognises: its own
 * `Symbol.for` marker, and the instances it makes.
 */
export interface KeywardErrorClass<E extends KeywardError = KeywardError> {
  readonly marker: symbol
  // A construct signature, not `prototype`: the prototype of the generic base class is typed
  // `KeywardError<any>`, its constructor's instances `KeywardError<KeywardErrorCode>`.
  new (...args: never[]): E
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
export class KeywardError<C extends KeywardErrorCode = KeywardErrorCode> extends Error {
  /** The `Symbol.for` marker every keyward error carries. Each subclass declares its own. */
  static readonly marker: symbol = Symbol.for('keyward.error')

  /** The stable code to branch on. */
  readonly code: C
  /** Facts about the failure (paths, keys, versions); never a secret value. */
  readonly details: KeywardErrorDetailsOf<C>

  constructor(code: C, message: string, options: KeywardErrorOptions<C> = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = Object.freeze({ ...options.details }) as KeywardErrorDetailsOf<C>
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
    code: C
    message: string
    details: KeywardErrorDetailsOf<C>
  } {
    return { name: this.name, code: this.code, message: this.message, details: this.details }
  }
}

/**
 * True when `value` is a `KeywardError` (from any copy of keyward) with the given code; narrows
 * `code` and `details` to that code's (see {@link KeywardErrorDetails}).
 *
 * @example
 * ```ts
 * import { isKeywardError, KEYWARD_AUTH_REQUIRED } from '@keyward/core'
 *
 * function missingScopes(error: unknown): readonly string[] {
 *   return isKeywardError(error, KEYWARD_AUTH_REQUIRED) ? (error.details.missingScopes ?? []) : []
 * }
 * ```
 */
export function isKeywardError<C extends KeywardErrorCode = KeywardErrorCode>(
  value: unknown,
  code?: C,
): value is KeywardError<C> {
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
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2 (error response)
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
export class RefreshError extends KeywardError<typeof KEYWARD_REFRESH_FAILED> {
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
