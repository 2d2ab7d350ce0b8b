/**
 * `AuthenticationRequiredError` and the code union of `@keyward/authstore`. Its own codes are
 * constants in `./codes.ts`; the codes and types shared with other packages (a token provider's
 * `KEYWARD_AUTH_REQUIRED`, a refresher's `RefreshError`) live in `@keyward/core` and are
 * re-exported here so no import breaks.
 *
 * @module
 */
import {
  type AuthenticationRequiredReason,
  KEYWARD_AUTH_REQUIRED,
  KeywardError,
  type RefreshError,
} from '@keyward/core'
import type * as codes from './codes.js'

export {
  type AuthenticationRequiredReason,
  KEYWARD_AUTH_REQUIRED,
  KEYWARD_REFRESH_FAILED,
  RefreshError,
  type RefreshErrorOptions,
} from '@keyward/core'
export * from './codes.js'

/** Every code `@keyward/authstore` defines, derived from the constants of `./codes.ts`. */
export type AuthStoreErrorCode = (typeof codes)[keyof typeof codes]

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
export class AuthenticationRequiredError extends KeywardError<typeof KEYWARD_AUTH_REQUIRED> {
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
