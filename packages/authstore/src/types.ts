import type { ClearHook, Durability, TokenSet } from '@keyward/core'
import type { ExpirySource, TokenState } from './record.js'

// Contracts shared with @keyward/oauth live in @keyward/core; re-exported for this package's
// modules and users.
export type { ClearContext, ClearHook, RefreshContext, Refresher, TokenSet } from '@keyward/core'

/** What {@link AuthStore.setToken} stores: a {@link TokenSet}, optionally with an absolute expiry and an account. */
export interface SetTokenInput extends TokenSet {
  /** Absolute expiry (a `Date` or epoch ms); give this or `expiresIn`, not both. */
  readonly expiresAt?: Date | number | undefined
  /**
   * Which account of the service this token belongs to (`octocat`). Default: the service's only
   * stored account if it has exactly one, else `default`.
   */
  readonly account?: string | undefined
  /**
   * Without a `refreshToken`, keep the one the account's record holds (a token response that
   * sends no new refresh token leaves the old one valid) instead of storing none.
   */
  readonly keepRefreshToken?: boolean | undefined
}

/**
 * Options of {@link AuthStore.getToken} and {@link AuthStore.getTokenInfo} (a `TokenRequest` of
 * `@keyward/core`).
 */
export interface GetTokenOptions {
  /** A scope the token must carry (or several: an array, or a space- or comma-separated string). */
  readonly scope?: string | readonly string[] | undefined
  /** Scopes the token must all carry (an array, or a space- or comma-separated string). */
  readonly scopes?: readonly string[] | string | undefined
  /**
   * The account; default: the service's only stored account, or the one chosen with
   * `setDefaultAccount` when there are several.
   */
  readonly account?: string | undefined
  /**
   * Stop waiting (for the driver, the record lock or a refresh) when it aborts: the call rejects
   * with the signal's reason. A refresh other callers share goes on.
   */
  readonly signal?: AbortSignal | undefined
}

/** Options of the methods that address one record. */
export interface AccountOptions {
  /**
   * The account; default: the service's only stored account, or the one chosen with
   * `setDefaultAccount` when there are several.
   */
  readonly account?: string | undefined
}

/** Options of {@link AuthStore.clearToken}. */
export interface ClearTokenOptions extends AccountOptions {
  /**
   * Runs before the delete, under the record lock, with the tokens the record holds (revoke
   * them at the provider, then the record is deleted). Its failure is logged, never thrown, and
   * never prevents the delete.
   */
  readonly beforeDelete?: ClearHook | undefined
}

/** Options of {@link AuthStore.invalidate}. */
export interface InvalidateOptions extends AccountOptions {
  /** Stop waiting when it aborts (the refresh, shared with other callers, goes on). */
  readonly signal?: AbortSignal | undefined
}

/** What {@link AuthStore.getTokenInfo} returns: the token and what a caller needs to use it. */
export interface TokenInfo {
  readonly accessToken: string
  /** `Bearer` unless the provider said otherwise. */
  readonly tokenType: string
  /** When the provider says the token expires; `null` when it did not say (or it never does). */
  readonly expiresAt: Date | null
  /** The scopes granted, sorted. */
  readonly scopes: readonly string[]
  readonly account: string
}

/** Options of {@link AuthStore.authorizedFetch}: which token to attach. */
export interface AuthorizedFetchOptions extends GetTokenOptions {}

/** What {@link AuthStore.getMetadata} and {@link AuthStore.list} report: never a token. */
export interface TokenMetadata {
  readonly service: string
  readonly account: string
  /** Granted scopes, sorted. */
  readonly scopes: readonly string[]
  readonly tokenType: string
  /** When the access token expires (`null`: it does not). */
  readonly expiresAt: Date | null
  /** Where the expiry comes from: the provider, an inferred lifetime, or none. */
  readonly expiry: ExpirySource
  readonly state: TokenState
  /** Grows by one on every write of the record. */
  readonly generation: number
  /** True when a refresh token is stored (its value is never reported). */
  readonly hasRefreshToken: boolean
  /** True when a refresher is configured for the service and a refresh token is stored. */
  readonly refreshable: boolean
  /** Consecutive transient refresh failures. */
  readonly failures: number
  /** While degraded: the earliest next refresh attempt. */
  readonly retryAt: Date | null
  /** The OAuth error code of the last failed refresh, if any. */
  readonly lastError: string | null
  /** Where the record is stored: the driver's name and durability. */
  readonly backend: { readonly name: string; readonly durability: Durability }
}

/** Payloads of the events {@link AuthStore.on} delivers. None carries a token. */
export interface AuthStoreEvents {
  /** A token was refreshed and the new pair persisted. */
  refreshed: {
    service: string
    account: string
    generation: number
    expiresAt: Date | null
    scopes: string[]
  }
  /** The provider refused the refresh token: the user must sign in again. */
  reauthRequired: { service: string; account: string; oauthError: string | null }
  /** A refresh failed transiently; the unexpired token is still served until `retryAt`. */
  degraded: {
    service: string
    account: string
    failures: number
    retryAt: Date
    oauthError: string | null
  }
  /** `clearToken` removed a record. */
  cleared: { service: string; account: string }
}
