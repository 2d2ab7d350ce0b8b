import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { KEYWARD_TEMPLATE_TOO_DEEP } from '../errors.js'
import { MAX_JSON_DEPTH } from '../limits.js'
import type { JsonPath } from '../references.js'

/**
 * Calls `visit` for every string inside `input` (a string or a JSON-like value: arrays and
 * plain objects are walked, keys are not), with its path, in walk order. The path array is
 * live (it changes as the walk goes on): `slice()` it to keep it.
 *
 * @throws KeywardError `KEYWARD_INVALID_ARGUMENT` for a cycle; `KEYWARD_TEMPLATE_TOO_DEEP`
 * for nesting deeper than {@link MAX_JSON_DEPTH} (so the recursion here, and in
 * {@link rebuild} over the same input, is bounded).
 */
export function walkStrings(
  input: unknown,
  visit: (text: string, path: JsonPath) => void,
  argument = 'input',
): void {
  const seen = new Set<object>()
  const walk = (value: unknown, path: (string | number)[]): void => {
    if (typeof value === 'string') {
      visit(value, path)
      return
    }
    if (typeof value !== 'object' || value === null) return
    const array = Array.isArray(value)
    if (!array && !isPlainObject(value)) return
    if (seen.has(value)) {
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        `\`${argument}\` contains a cycle at ${formatPath(path)}: it must be a JSON value`,
      )
    }
    if (path.length >= MAX_JSON_DEPTH) {
      throw new KeywardError(
        KEYWARD_TEMPLATE_TOO_DEEP,
        `\`${argument}\` nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (at ${formatPath(path.slice(0, 8))}…)`,
        { details: { argument, maxDepth: MAX_JSON_DEPTH } },
      )
    }
    seen.add(value)
    if (array) {
      for (let k = 0; k < value.length; k++) {
        path.push(k)
        walk(value[k], path)
        path.pop()
      }
    } else {
      for (const key of Object.keys(value)) {
        path.push(key)
        walk((value as Record<string, unknown>)[key], path)
        path.pop()
      }
    }
    seen.delete(value)
  }
  walk(input, [])
}

/** Whether `value` is an object literal (or has a null prototype). */
export function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** `$`, `$.a[0]`… for messages. */
export function formatPath(path: JsonPath): string {
  let out = '$'
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${JSON.stringify(p)}`
  return out
}

/**
 * A copy of `input` with every string replaced by `map(string)`, called in the order of
 * {@link walkStrings}: arrays and plain objects are copied (an object keeps its prototype,
 * `Object.prototype` or null), other values pass through. Own keys are kept exactly: a key
 * named `__proto__` stays an own key (it is defined, not assigned, so the inherited setter
 * never turns it into the copy's prototype). Call it only on input {@link walkStrings}
 * accepted: its depth is bounded there.
 */
export function rebuild(input: unknown, map: (text: string) => string): unknown {
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return map(value)
    if (typeof value !== 'object' || value === null) return value
    if (Array.isArray(value)) return value.map(walk)
    if (!isPlainObject(value)) return value
    const out: Record<string, unknown> =
      Object.getPrototypeOf(value) === null ? Object.create(null) : {}
    for (const key of Object.keys(value)) {
      const v = walk((value as Record<string, unknown>)[key])
      if (key === '__proto__') {
        Object.defineProperty(out, key, {
          value: v,
          writable: true,
          enumerable: true,
          configurable: true,
        })
      } else out[key] = v
    }
    return out
  }
  return walk(input)
}

/**
 * `value` escaped for the inside of a JSON string: exactly `JSON.stringify(value).slice(1, -1)`,
 * without its two copies when nothing needs escaping (no `"`, `\\`, control character or
 * surrogate), which is the usual secret.
 */
export function jsonStringBody(value: string): string {
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k)
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) {
      return JSON.stringify(value).slice(1, -1)
    }
  }
  return value
}
