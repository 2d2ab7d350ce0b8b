/**
 * Stable error codes of `@keyward/templating`. Every error this package throws is a
 * `KeywardError` (from `@keyward/core`) with one of these codes, or core's
 * `KEYWARD_INVALID_ARGUMENT` for a bad argument or option. Messages and `details` name
 * references, positions and reasons, never a resolved value.
 *
 * @example
 * ```ts
 * import { KeywardError } from '@keyward/core'
 * import { KEYWARD_REFERENCE_UNRESOLVED, substitute } from '@keyward/templating'
 *
 * try {
 *   await substitute('token=${secret.github}', async () => new Map())
 * } catch (error) {
 *   if (KeywardError.isInstance(error) && error.code === KEYWARD_REFERENCE_UNRESOLVED) {
 *     console.log(error.details.failures) // [{ id: 'github', reason: 'not_found', start: 6, … }]
 *   }
 * }
 * ```
 * @module
 */

/**
 * `parseReferences` found a reserved reference (`${secret.…` or another registered namespace)
 * that does not parse. `details.problems` lists each one with its position and what was
 * expected.
 */
export const KEYWARD_TEMPLATE_SYNTAX = 'KEYWARD_TEMPLATE_SYNTAX'

/**
 * `substitute` could not resolve every reference, so it substituted nothing.
 * `details.failures` lists every broken reference occurrence: namespace, id, field, raw text,
 * start/end position, JSON path, reason (`not_found`, `no_field`, `denied`, `syntax`, `cycle`,
 * `depth`, `invalid`) and, for references reached through a template value, the chain of
 * references that led to it. Never a value.
 */
export const KEYWARD_REFERENCE_UNRESOLVED = 'KEYWARD_REFERENCE_UNRESOLVED'

/**
 * The resolver passed to `substitute` threw (its error is the `cause`) or returned something
 * other than a `Map`.
 */
export const KEYWARD_RESOLVER_FAILED = 'KEYWARD_RESOLVER_FAILED'

/**
 * A JSON input to `substitute` or `lintTemplate` nests arrays and objects deeper than
 * `MAX_JSON_DEPTH`. Refused before anything is resolved; `details.maxDepth` is the limit.
 */
export const KEYWARD_TEMPLATE_TOO_DEEP = 'KEYWARD_TEMPLATE_TOO_DEEP'

/**
 * The output of `substitute` (or a value composed from template values) would be longer than
 * a JavaScript string can be (about 2^29 UTF-16 code units in V8): many occurrences of a long
 * value, or template values that repeat their references. Nothing was substituted.
 */
export const KEYWARD_TEMPLATE_TOO_LARGE = 'KEYWARD_TEMPLATE_TOO_LARGE'

/**
 * A resolved value cannot be written in the encoding `substitute` was asked for (with
 * `encoding: 'url'`, a value that is not well-formed Unicode: a lone surrogate).
 * `details.reference` names the reference; never the value.
 */
export const KEYWARD_VALUE_UNENCODABLE = 'KEYWARD_VALUE_UNENCODABLE'

/**
 * `substitute` was given a `redactor`, and a value it would substitute is one the redactor
 * cannot mask (shorter than its `minLength`, or too common), so echoes of it would reach the
 * output unmasked. Nothing was substituted or registered. `details.references` lists each
 * such reference with the reason (`too_short` or `common`), the value's length and the
 * redactor's `minLength`; never the value. Allow a reference explicitly with
 * `substitute`'s `allowUnmasked` option.
 */
export const KEYWARD_VALUE_UNMASKABLE = 'KEYWARD_VALUE_UNMASKABLE'
