import { KeywardError } from '@keyward/core'

/**
 * No usable token: none is stored, it expired and cannot be refreshed, it lacks a scope the
 * caller asked for, or the provider refused the refresh token and the user must sign in again.
 * `error.reason` says which.
 *
 * @example
 * ```ts
 * import { KEYWARD_AUTH_REQUIRED, KeywardError } from '@keyward/authstore'
 *
 * function needsLogin(error: unknown): boolean {
 *   return KeywardError.isInstance(error) && error.code === KEYWARD_AUTH_REQUIRED
 * }
 * ```
 */
export const KEYWARD_AUTH_REQUIRED = 'KEYWARD_AUTH_REQUIRED'

/**
 * A refresher could not refresh a token. `error.transient` says whether retrying later may
 * help (network errors, 5xx, 429) or not (`invalid_grant`: the refresh token is dead).
 *
 * @example
 * ```ts
 * import { KEYWARD_REFRESH_FAILED, RefreshError } from '@keyward/authstore'
 *
 * const error = new RefreshError('token endpoint answered 503', { transient: true })
 * error.code === KEYWARD_REFRESH_FAILED // true
 * ```
 */
export const KEYWARD_REFRESH_FAILED = 'KEYWARD_REFRESH_FAILED'

/**
 * A stored token record cannot be read (it is not JSON, or not an authstore record). The record
 * is left as it is; `setToken` replaces it, `clearToken` removes it.
 *
 * @example
 * ```ts
 * import { KEYWARD_AUTH_RECORD_CORRUPT, KeywardError } from '@keyward/authstore'
 *
 * const corrupt = (error: unknown) =>
 *   KeywardError.isInstance(error) && error.code === KEYWARD_AUTH_RECORD_CORRUPT
 * ```
 */
export const KEYWARD_AUTH_RECORD_CORRUPT = 'KEYWARD_AUTH_RECORD_CORRUPT'

/**
 * Why a token cannot be handed out:
 * - `no_token`: nothing is stored for the service (or it was cleared);
 * - `expired`: the token expired and no refresh succeeded;
 * - `insufficient_scope`: the token lacks a scope the caller asked for (`missingScopes`);
 * - `reauth_required`: the provider refused the refresh token; sign in again.
 */
export type AuthenticationRequiredReason =
  | 'no_token'
  | 'expired'
  | 'insufficient_scope'
  | 'reauth_required'

/** Options of {@link AuthenticationRequiredError}. */
export interface AuthenticationRequiredErrorOptions {
  readonly reason: AuthenticationRequiredReason
  readonly service: string
  readonly account?: string
  /** The scopes asked for but not granted, for `insufficient_scope`. */
  readonly missingScopes?: readonly string[]
  /** The underlying failure (a {@link RefreshError}), never an error that may quote a token. */
  readonly cause?: unknown
}

/**
 * Thrown by `AuthStore.getToken` when it cannot hand out a token: branch on `reason`, and
 * start a sign-in (or ask for more scopes) instead of calling the API.
 *
 * @example
 * ```ts
 * import { AuthenticationRequiredError } from '@keyward/authstore'
 *
 * const error = new AuthenticationRequiredError('token for registry lacks scope registry:write', {
 *   reason: 'insufficient_scope',
 *   service: 'registry',
 *   missingScopes: ['registry:write'],
 * })
 * error.reason // 'insufficient_scope'
 * error.missingScopes // ['registry:write']
 * ```
 */
export class AuthenticationRequiredError extends KeywardError {
  /** Why no token was handed out. */
  readonly reason: AuthenticationRequiredReason
  /** The service the token is for. */
  readonly service: string
  /** The account, when the record names one. */
  readonly account: string | undefined
  /** For `insufficient_scope`: the scopes asked for and not granted (otherwise empty). */
  readonly missingScopes: readonly string[]

  constructor(message: string, options: AuthenticationRequiredErrorOptions) {
    const missingScopes = Object.freeze([...(options.missingScopes ?? [])])
    super(KEYWARD_AUTH_REQUIRED, message, {
      cause: options.cause,
      details: {
        reason: options.reason,
        service: options.service,
        ...(options.account === undefined ? {} : { account: options.account }),
        ...(missingScopes.length > 0 ? { missingScopes } : {}),
      },
    })
    this.reason = options.reason
    this.service = options.service
    this.account = options.account
    this.missingScopes = missingScopes
  }
}

/** Options of {@link RefreshError}. */
export interface RefreshErrorOptions {
  /** True when retrying later may succeed (network error, 5xx, 429); false for `invalid_grant`. */
  readonly transient: boolean
  /** The OAuth `error` code the token endpoint returned (`invalid_grant`, `temporarily_unavailable`…). */
  readonly oauthError?: string
  /** When to try again at the earliest (from a `Retry-After` header, for example). */
  readonly retryAt?: Date
  /** The underlying failure. Never an error whose message quotes a token or a response body. */
  readonly cause?: unknown
}

/**
 * What a {@link Refresher} throws when it cannot refresh. Any other error a refresher throws
 * counts as transient. `AuthStore` reacts to it: a permanent failure moves the record to
 * `reauth_required`, a transient one to `degraded` with backoff while the unexpired token keeps
 * being served.
 *
 * @example
 * ```ts
 * import { RefreshError } from '@keyward/authstore'
 *
 * // in a refresher, after the token endpoint answered 400 {"error":"invalid_grant"}:
 * const error = new RefreshError('the provider refused the refresh token', {
 *   transient: false,
 *   oauthError: 'invalid_grant',
 * })
 * ```
 */
export class RefreshError extends KeywardError {
  /** True when retrying later may succeed. */
  readonly transient: boolean
  /** The OAuth `error` code, when the token endpoint sent one. */
  readonly oauthError: string | undefined
  /** The earliest time to try again, when known. */
  readonly retryAt: Date | undefined

  constructor(message: string, options: RefreshErrorOptions) {
    if (typeof options?.transient !== 'boolean') {
      throw new KeywardError(
        'KEYWARD_INVALID_ARGUMENT',
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

  /** True for a `RefreshError` from any copy of `@keyward/authstore`. */
  static isRefreshError(value: unknown): value is RefreshError {
    return (
      KeywardError.isInstance(value) &&
      value.code === KEYWARD_REFRESH_FAILED &&
      typeof (value as RefreshError).transient === 'boolean'
    )
  }
}
