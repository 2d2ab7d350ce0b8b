import type { Clock, Driver, Logger } from '@keyward/core'
import type { ScopeMatcher } from './scopes.js'
import type { ClearHook, Refresher } from './types.js'

/** Options of {@link AuthStore}. */
export interface AuthStoreOptions {
  /** Where records are stored: any `@keyward/core` driver (see {@link selectDriver}). */
  readonly driver: Driver
  /** Prefix of every record key (default `authstore`): several stores can share one driver. */
  readonly namespace?: string | undefined
  /** One refresher per service name. A service without one is never refreshed. */
  readonly refreshers?: Readonly<Record<string, Refresher>> | undefined
  /** Refresh this long before expiry at most (default 300); never more than half the token's lifetime. */
  readonly leewaySeconds?: number | undefined
  /** Lifetime assumed for a token stored with a refresh token but no expiry (default 3600). */
  readonly inferredLifetimeSeconds?: number | undefined
  /** Decides whether granted scopes cover a wanted one (default: exact membership). */
  readonly scopeMatcher?: ScopeMatcher | undefined
  /** Epoch milliseconds; inject one to test expiry. */
  readonly clock?: Clock | undefined
  readonly logger?: Logger | undefined
  /** How long to wait for another process's refresh of the same record (default 30 000 ms). */
  readonly lockTimeoutMs?: number | undefined
  /**
   * How long one refresher call may take (default 20 000 ms). Then its `signal` aborts, the
   * attempt counts as a transient failure (`degraded`, with backoff) and the unexpired token keeps
   * being served. Keep it below `lockTimeoutMs`, which other processes wait for the refresh.
   */
  readonly refreshTimeoutMs?: number | undefined
  /**
   * Called by `clearToken` after the record is deleted, with the tokens it held (see
   * {@link ClearHook}): one hook for every service, or one per service name (like
   * `refreshers`). Its failure is logged and never prevents or undoes the delete.
   */
  readonly onClear?: ClearHook | Readonly<Record<string, ClearHook>> | undefined
}
