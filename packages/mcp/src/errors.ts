/**
 * The code union of `@keyward/mcp`, derived from its constants. The codes themselves are
 * written once, in `./codes.ts` (a repo test refuses a `KEYWARD_*` string literal anywhere
 * else in `src`; `npm run docs:errors` lists them in `docs/errors.md`).
 *
 * @module
 */
import type * as codes from './codes.js'

// "Sign in first" is core's code (it belongs to the TokenProvider contract).
export { KEYWARD_AUTH_REQUIRED } from '@keyward/core'
export * from './codes.js'

/** Every code `@keyward/mcp` defines, derived from the constants of `./codes.ts`. */
export type McpErrorCode = (typeof codes)[keyof typeof codes]
