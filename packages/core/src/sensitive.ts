const inspectSymbol = Symbol.for('nodejs.util.inspect.custom')

/** What `util.inspect`, `JSON.stringify` and `String()` show in place of secret material. */
export const REDACTED = '[redacted]'

/**
 * A box for secret material (a key, a passphrase, a token) that never shows its content
 * through `util.inspect`, `console.log`, `JSON.stringify`, `String()` or template literals.
 * Call {@link Sensitive.reveal} at the one place the plaintext is needed.
 *
 * @example
 * ```ts
 * import { Sensitive } from '@keyward/core'
 *
 * const token = new Sensitive('ghp_example')
 * JSON.stringify({ token }) // '{"token":"[redacted]"}'
 * token.reveal() // 'ghp_example'
 * ```
 */
export class Sensitive<T> {
  readonly #value: T

  constructor(value: T) {
    this.#value = value
  }

  /** The secret itself. Keep the result out of logs, errors and events. */
  reveal(): T {
    return this.#value
  }

  toString(): string {
    return REDACTED
  }

  toJSON(): string {
    return REDACTED
  }

  [inspectSymbol](): string {
    return `Sensitive(${REDACTED})`
  }
}

/**
 * Makes `util.inspect` and `JSON.stringify` of `target` show `fields` as `[redacted]`,
 * without changing how the object is used in code. Returns `target`.
 *
 * @example
 * ```ts
 * import { redactFields } from '@keyward/core'
 *
 * const record = redactFields({ value: new Uint8Array([1, 2]), version: 1 }, ['value'])
 * JSON.stringify(record) // '{"value":"[redacted]","version":1}'
 * ```
 */
export function redactFields<T extends object>(
  target: T,
  fields: readonly (keyof T & string)[],
): T {
  const masked = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(target))
      out[k] = fields.includes(k as keyof T & string) ? REDACTED : v
    return out
  }
  Object.defineProperty(target, 'toJSON', { value: masked, enumerable: false })
  Object.defineProperty(target, inspectSymbol, {
    value: (_depth: number, options: unknown, inspect: (v: unknown, o: unknown) => string) =>
      inspect(masked(), options),
    enumerable: false,
  })
  return target
}
