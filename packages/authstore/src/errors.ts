import { KeywardError, type RefreshError } from '@keyward/core'

// RefreshError and its code are contracts that live in @keyward/core (a refresher in
// @keyward/oauth throws it without importing authstore); re-exported so no import breaks.
export { KEYWARD_REFRESH_FAILED, RefreshError, type RefreshErrorOptions } from '@keyward/core'

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
  readonly account?: string | undefined
  /** The scopes asked for but not granted, for `insufficient_scope`. */
  readonly missingScopes?: readonly string[] | undefined
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
  static override readonly marker: symbol = Symbol.for('keyward.error.AuthenticationRequiredError')

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
