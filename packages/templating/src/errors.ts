/**
 * The code union of `@keyward/templating`, derived from its constants. The codes themselves are
 * written once, in `./codes.ts` (a repo test refuses a `KEYWARD_*` string literal anywhere
 * else in `src`; `npm run docs:errors` lists them in `docs/errors.md`).
 *
 * @module
 */
import type * as codes from './codes.js'
import type { ReferenceFailure } from './substitute.js'

export * from './codes.js'

/** Every code `@keyward/templating` defines, derived from the constants of `./codes.ts`. */
export type TemplatingErrorCode = (typeof codes)[keyof typeof codes]

declare module '@keyward/core' {
  interface KeywardErrorDetails {
    /** Every broken reference occurrence, each once (see `ReferenceFailure`). */
    KEYWARD_REFERENCE_UNRESOLVED: {
      readonly failures: readonly ReferenceFailure[]
      /** Set by `@keyward/vault`: the collection/environment whose values were resolved. */
      readonly environment?: string
    }
  }
}
