/**
 * `@keyward/authstore`: token custody for a host — scope checks, tokens served from memory on
 * the hot path, and refresh that never races (single-flight in-process, the driver's
 * cross-process lock, compare-and-set writes), over any `@keyward/core` storage driver.
 *
 * @module
 */
export {
  type ClearContext,
  type ClearHook,
  KeywardError,
  type RefreshContext,
  type Refresher,
  type TokenSet,
} from '@keyward/core'
export { componentDriver } from './component.js'
export {
  AuthenticationRequiredError,
  type AuthenticationRequiredErrorOptions,
  type AuthenticationRequiredReason,
  type AuthStoreErrorCode,
  KEYWARD_AUTH_FETCH_FAILED,
  KEYWARD_AUTH_RECORD_CORRUPT,
  KEYWARD_AUTH_REQUIRED,
  KEYWARD_REFRESH_FAILED,
  RefreshError,
  type RefreshErrorOptions,
} from './errors.js'
export type { Listener } from './internal/events.js'
export type { AuthStoreOptions } from './options.js'
export type { ExpirySource, TokenState } from './record.js'
export {
  parseScopes,
  type ScopeMatcher,
  type ScopeMatcherOptions,
  scopeMatcher,
} from './scopes.js'
export { type SelectDriverOptions, type StorageFallback, selectDriver } from './storage.js'
export { AuthStore } from './store.js'
export type {
  AccountOptions,
  AuthorizedFetchOptions,
  AuthStoreEvents,
  ClearTokenOptions,
  GetTokenOptions,
  InvalidateOptions,
  SetTokenInput,
  TokenInfo,
  TokenMetadata,
} from './types.js'
