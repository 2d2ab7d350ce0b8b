/** A surrogate code unit standing alone: in `u` mode a valid pair matches as one code point. */
const LONE_SURROGATE = /\p{Surrogate}/u

/**
 * True when `value` is well-formed UTF-16: it holds no lone surrogate (for example half of an
 * emoji left by cutting a string in the middle). Such a string has no UTF-8 form: encoders
 * replace the lone half by U+FFFD, so two names that differ only there would become one key.
 * Every driver refuses such keys with `KEYWARD_INVALID_KEY`; packages that build keys from
 * names (service, account, namespace, collection) check each name with this first, so that the
 * error names the field at fault.
 *
 * @example
 * ```ts
 * import { isWellFormedText } from '@keyward/core'
 *
 * isWellFormedText('café 🔑') // true
 * isWellFormedText('🔑'.slice(0, 1)) // false: a lone high surrogate
 * ```
 */
export function isWellFormedText(value: string): boolean {
  return !LONE_SURROGATE.test(value)
}
