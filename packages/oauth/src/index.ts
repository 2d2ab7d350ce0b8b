/**
 * `@keyward/oauth`: providers as data, browser and device sign-in, client credentials,
 * refresh, revocation, account lookup and an SSRF-safe `fetch`. The protocol work is
 * `oauth4webapi`'s; this package adds what it leaves to the caller.
 *
 * @module
 */
export * from './errors.js'
export {
  type CheckedTarget,
  checkUrl,
  DEFAULT_MAX_BYTES,
  type SafeFetchOptions,
  safeFetch,
} from './safe-fetch.js'
