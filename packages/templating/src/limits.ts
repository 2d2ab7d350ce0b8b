/**
 * Limits that bound the work `@keyward/templating` does for any input, whatever an agent or
 * a plugin writes.
 *
 * @example
 * ```ts
 * import { MAX_JSON_DEPTH, MAX_SEGMENT_LENGTH } from '@keyward/templating'
 *
 * console.log(MAX_SEGMENT_LENGTH, MAX_JSON_DEPTH) // 256 512
 * ```
 * @module
 */

/**
 * Longest id or field (in UTF-16 code units) a reference may have; bounds parsing work.
 *
 * @example
 * ```ts
 * import { lintTemplate, MAX_SEGMENT_LENGTH } from '@keyward/templating'
 *
 * lintTemplate(`\${secret.${'x'.repeat(MAX_SEGMENT_LENGTH + 1)}}`).ok // false
 * ```
 */
export const MAX_SEGMENT_LENGTH = 256

/**
 * Deepest nesting of arrays and objects that `substitute` and `lintTemplate` accept in a JSON
 * input (the input itself is level 0). Deeper input is refused with
 * `KEYWARD_TEMPLATE_TOO_DEEP` before anything is resolved.
 *
 * @example
 * ```ts
 * import { lintTemplate, MAX_JSON_DEPTH } from '@keyward/templating'
 *
 * let deep: unknown = 'leaf'
 * for (let i = 0; i < MAX_JSON_DEPTH; i++) deep = [deep]
 * lintTemplate(deep).ok // true: exactly at the limit
 * ```
 */
export const MAX_JSON_DEPTH = 512
