import type { StoredValue } from '../contracts.js'
import { redactFields } from '../sensitive.js'

/** Wraps a stored value so that `util.inspect`/`JSON.stringify` show `value` redacted. */
export function storedValue(value: Uint8Array, version: number): StoredValue {
  return redactFields({ value, version }, ['value'])
}

/** Code-unit order, the order `Driver.list` promises. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
