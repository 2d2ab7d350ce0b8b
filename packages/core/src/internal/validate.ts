import type { KeyWrite } from '../contracts.js'
import {
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_INVALID_KEY,
  KEYWARD_VERSION_CONFLICT,
  KeywardError,
} from '../errors.js'
import { isWellFormedText } from '../well-formed.js'

/** Longest storage key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 512

const encoder = new TextEncoder()

/** Throws `KEYWARD_INVALID_KEY` unless `key` is a non-empty string a driver can store. */
export function assertKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new KeywardError(KEYWARD_INVALID_KEY, `${what} must be a non-empty string`)
  }
  if (key.includes('\0')) {
    throw new KeywardError(KEYWARD_INVALID_KEY, `${what} must not contain a NUL character`)
  }
  if (!isWellFormedText(key)) {
    throw new KeywardError(
      KEYWARD_INVALID_KEY,
      `${what} is not well-formed Unicode (it holds a lone surrogate, e.g. half of an emoji)`,
      { details: { reason: 'lone-surrogate' } },
    )
  }
  if (encoder.encode(key).byteLength > MAX_KEY_BYTES) {
    throw new KeywardError(
      KEYWARD_INVALID_KEY,
      `${what} is longer than ${MAX_KEY_BYTES} UTF-8 bytes`,
    )
  }
}

/** Throws `KEYWARD_INVALID_ARGUMENT` unless `value` is a `Uint8Array`. */
export function assertBytes(value: unknown, what = 'value'): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, `${what} must be a Uint8Array`)
  }
}

/** Throws `KEYWARD_INVALID_ARGUMENT` unless `version` is absent or a non-negative safe integer. */
export function assertOptionalVersion(version: unknown, what = 'ifVersion'): void {
  if (version === undefined) return
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, `${what} must be a non-negative integer`)
  }
}

/** The argument checks of `Driver.set`: a valid key, bytes, and an optional valid `ifVersion`. */
export function assertSetArguments(
  key: unknown,
  value: unknown,
  ifVersion: unknown,
): asserts key is string {
  assertKey(key)
  assertBytes(value)
  assertOptionalVersion(ifVersion)
}

/** The argument checks of `Driver.delete`: a valid key and an optional valid `ifVersion`. */
export function assertDeleteArguments(key: unknown, ifVersion: unknown): asserts key is string {
  assertKey(key)
  assertOptionalVersion(ifVersion)
}

/** Throws `KEYWARD_INVALID_ARGUMENT` unless `prefix` is a string. */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'prefix must be a string')
  }
}

/**
 * The compare-and-set check every driver makes: throws `KEYWARD_VERSION_CONFLICT` (naming the
 * key and both versions, never a value) when `expected` is given and is not `actual`.
 */
export function assertVersion(key: string, expected: number | undefined, actual: number): void {
  if (expected === undefined || expected === actual) return
  throw new KeywardError(
    KEYWARD_VERSION_CONFLICT,
    `key "${key}" is at version ${actual}, not ${expected}: re-read it and retry`,
    { details: { key, expected, actual } },
  )
}

/**
 * The argument checks of `Driver.setMany`: an array of `{ key, value: Uint8Array | null,
 * ifVersion? }` with each key at most once.
 */
export function assertWrites(writes: unknown): asserts writes is readonly KeyWrite[] {
  if (!Array.isArray(writes))
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'setMany needs an array of writes')
  const seen = new Set<string>()
  for (const [i, write] of writes.entries()) {
    if (typeof write !== 'object' || write === null)
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, `writes[${i}] must be an object`, {
        details: { index: i },
      })
    const { key, value, ifVersion } = write as Record<string, unknown>
    assertKey(key, `writes[${i}].key`)
    if (value !== null) assertBytes(value, `writes[${i}].value`)
    assertOptionalVersion(ifVersion, `writes[${i}].ifVersion`)
    if (seen.has(key))
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        `writes[${i}].key "${key}" appears twice; each key may be written once per setMany`,
        { details: { index: i, key } },
      )
    seen.add(key)
  }
}

/**
 * Checks every compare-and-set of a `setMany` against the current versions (first miss throws
 * `KEYWARD_VERSION_CONFLICT`) and returns each key's new version (`0` for a delete).
 */
export function plannedVersions(
  writes: readonly KeyWrite[],
  versionOf: (key: string) => number,
): number[] {
  const current = writes.map((write) => versionOf(write.key))
  for (const [i, write] of writes.entries()) assertVersion(write.key, write.ifVersion, current[i]!)
  return writes.map((write, i) => (write.value === null ? 0 : current[i]! + 1))
}
