/**
 * The code union of `@keyward/vault`, derived from its constants. The codes themselves are
 * written once, in `./codes.ts` (a repo test refuses a `KEYWARD_*` string literal anywhere
 * else in `src`; `npm run docs:errors` lists them in `docs/errors.md`).
 *
 * @module
 */
import type * as codes from './codes.js'

export * from './codes.js'

/** Every code `@keyward/vault` defines, derived from the constants of `./codes.ts`. */
export type VaultErrorCode = (typeof codes)[keyof typeof codes]
