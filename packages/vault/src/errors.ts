/**
 * The code union of `@keyward/vault`, derived from its constants. The codes themselves are
 * written once, in `./codes.ts` (a repo test refuses a `KEYWARD_*` string literal anywhere
 * else in `src`; `npm run docs:errors` lists them in `docs/errors.md`).
 *
 * @module
 */
import { KEYWARD_VERSION_CONFLICT } from '@keyward/core'
import type * as codes from './codes.js'
import { KEYWARD_VAULT_RECORD_CORRUPT } from './codes.js'

// A secret's version conflict is core's code, as for every other compare-and-set.
export { KEYWARD_VERSION_CONFLICT } from '@keyward/core'
export * from './codes.js'

/**
 * The code of a secret's version conflict, now core's `KEYWARD_VERSION_CONFLICT` (the same
 * value), so existing comparisons keep working.
 *
 * @deprecated Use `KEYWARD_VERSION_CONFLICT` (from `@keyward/core` or `@keyward/vault`).
 */
export const KEYWARD_VAULT_VERSION_CONFLICT = KEYWARD_VERSION_CONFLICT

/**
 * The code of a stored record that does not decode, now `KEYWARD_VAULT_RECORD_CORRUPT` (the same
 * value), named like `KEYWARD_AUTH_RECORD_CORRUPT`.
 *
 * @deprecated Use `KEYWARD_VAULT_RECORD_CORRUPT`.
 */
export const KEYWARD_VAULT_CORRUPT = KEYWARD_VAULT_RECORD_CORRUPT

/** Every code `@keyward/vault` defines, derived from the constants of `./codes.ts`. */
export type VaultErrorCode = (typeof codes)[keyof typeof codes]
