/**
 * Stable error codes of `@keyward/authstore`, written once here. A token store's "sign in
 * first" (`KEYWARD_AUTH_REQUIRED`) and a refresher's failure (`KEYWARD_REFRESH_FAILED`) are
 * `@keyward/core`'s codes, re-exported by this package.
 *
 * @module
 */

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
 * `AuthStore.authorizedFetch` could not send the request, and the underlying error quoted the
 * token (a Node error that quotes a header value, for example), so it is withheld.
 *
 * @example
 * ```ts
 * import { KEYWARD_AUTH_FETCH_FAILED, KeywardError } from '@keyward/authstore'
 *
 * const withheld = (error: unknown) =>
 *   KeywardError.isInstance(error) && error.code === KEYWARD_AUTH_FETCH_FAILED
 * ```
 */
export const KEYWARD_AUTH_FETCH_FAILED = 'KEYWARD_AUTH_FETCH_FAILED'
