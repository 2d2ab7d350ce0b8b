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
    KEYWARD_VALUE_UNMASKABLE: {
      /** Each reference whose value the redactor would not mask; never the value. */
      readonly references: readonly {
        readonly raw: string
        readonly reason: 'too_short' | 'common'
        /** The value's length in UTF-16 code units. */
        readonly length: number
        /** The redactor's `minLength`, when it tells. */
        readonly minLength: number | undefined
      }[]
    }
    KEYWARD_TEMPLATE_TOO_DEEP: {
      /** The argument that nests too deep (`input`). */
      readonly argument: string
      /** The limit, `MAX_JSON_DEPTH`. */
      readonly maxDepth: number
    }
    KEYWARD_VALUE_UNENCODABLE: {
      /** The reference whose value could not be encoded. */
      readonly reference: string
      readonly encoding: 'url'
    }
  }
}
