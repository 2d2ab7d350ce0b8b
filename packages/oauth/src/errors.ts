/**
 * The code union of `@keyward/oauth`, derived from its constants. The codes themselves are
 * written once, in `./codes.ts` (a repo test refuses a `KEYWARD_*` string literal anywhere
 * else in `src`; `npm run docs:errors` lists them in `docs/errors.md`).
 *
 * @module
 */
import type { CoreErrorCode } from '@keyward/core'
import type * as codes from './codes.js'

// safeFetch's codes are core's (the SSRF-safe fetch is `@keyward/core/safe-fetch`), re-exported
// so no import breaks.
export {
  KEYWARD_FETCH_ABORTED,
  KEYWARD_FETCH_NETWORK,
  KEYWARD_FETCH_TIMEOUT,
  KEYWARD_FETCH_TOO_LARGE,
  KEYWARD_SSRF_BLOCKED_ADDRESS,
  KEYWARD_SSRF_INVALID_URL,
  KEYWARD_SSRF_REDIRECT,
  KEYWARD_SSRF_RESOLVE_FAILED,
  KEYWARD_SSRF_SCHEME,
} from '@keyward/core'
export * from './codes.js'

/**
 * Every code `@keyward/oauth` throws: its own (the constants of `./codes.ts`) and `safeFetch`'s,
 * which `@keyward/core` defines.
 */
export type OAuthErrorCode =
  | (typeof codes)[keyof typeof codes]
  | Extract<CoreErrorCode, `KEYWARD_SSRF_${string}` | `KEYWARD_FETCH_${string}`>
