import { createHash } from 'node:crypto'
import { type Driver, KeywardError } from '@keyward/core'
import { KEYWARD_SECRET_KEY_INVALID } from '../errors.js'
import type { GrantRecord } from './grants.js'
import { isWellFormedText } from './text.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * The namespace of one plugin inside a shared store: a hash of its id, so that no id can be a
 * prefix of another's keys and every key stays short.
 */
export function namespaceOf(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 32)
}

/** Largest plugin-chosen key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 256

/** Encodes a plugin-chosen key as one path segment (base64url: no `/`, no escape). */
export function segmentOf(key: unknown, what = 'key'): string {
  if (typeof key !== 'string' || key === '' || !isWellFormedText(key))
    throw new KeywardError(
      KEYWARD_SECRET_KEY_INVALID,
      `${what} must be a non-empty, well-formed string`,
    )
  const bytes = encoder.encode(key)
  if (bytes.byteLength > MAX_KEY_BYTES)
    throw new KeywardError(
      KEYWARD_SECRET_KEY_INVALID,
      `${what} must be at most ${MAX_KEY_BYTES} bytes`,
    )
  return Buffer.from(bytes).toString('base64url')
}

/** A string map stored under `<area>/<namespace>/<segment>` in a driver. */
export function scopedValues(driver: Driver, area: 'local' | 'secrets', id: string) {
  const prefix = `${area}/${namespaceOf(id)}/`
  return {
    async get(key: string): Promise<string | undefined> {
      const stored = await driver.get(prefix + segmentOf(key))
      return stored === null ? undefined : decoder.decode(stored.value)
    },
    async set(key: string, value: string): Promise<void> {
      await driver.set(prefix + segmentOf(key), encoder.encode(value))
    },
    async delete(key: string): Promise<boolean> {
      return driver.delete(prefix + segmentOf(key))
    },
    async keys(): Promise<string[]> {
      const keys = await driver.list(prefix)
      return keys.map((key) => Buffer.from(key.slice(prefix.length), 'base64url').toString('utf8'))
    },
    async clear(): Promise<void> {
      for (const key of await driver.list(prefix)) await driver.delete(key)
    },
  }
}

/** Reads a plugin's grant record (and its version for compare-and-set). */
export async function readRecord(
  driver: Driver,
  id: string,
): Promise<{ record: GrantRecord | undefined; version: number }> {
  const stored = await driver.get(`grants/${namespaceOf(id)}`)
  if (stored === null) return { record: undefined, version: 0 }
  return {
    record: JSON.parse(decoder.decode(stored.value)) as GrantRecord,
    version: stored.version,
  }
}

/** Freezes a parsed JSON value and everything in it (iteratively: no recursion to deepen). */
function deepFreeze<T>(value: T): T {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const item = stack.pop()
    if (typeof item !== 'object' || item === null || Object.isFrozen(item)) continue
    Object.freeze(item)
    for (const child of Object.values(item)) stack.push(child)
  }
  return value
}

/**
 * Reads grant records like {@link readRecord}, but parses a record again only when its stored
 * bytes changed. The store is still read on every call, so a change by any writer (a revocation
 * in another process included) is seen at once; only the JSON parse of an unchanged record is
 * saved. The records it returns are deeply frozen, as they are shared between calls.
 */
export function recordReader(driver: Driver): (id: string) => Promise<GrantRecord | undefined> {
  const last = new Map<string, { bytes: Buffer; record: GrantRecord }>()
  return async (id) => {
    const stored = await driver.get(`grants/${namespaceOf(id)}`)
    if (stored === null) {
      last.delete(id)
      return undefined
    }
    const bytes = Buffer.from(stored.value.buffer, stored.value.byteOffset, stored.value.byteLength)
    const seen = last.get(id)
    if (seen?.bytes.equals(bytes)) return seen.record
    const record = deepFreeze(JSON.parse(decoder.decode(bytes)) as GrantRecord)
    last.set(id, { bytes: Buffer.from(bytes), record })
    return record
  }
}

/** Writes a plugin's grant record if nobody else wrote it since `version`. */
export async function writeRecord(
  driver: Driver,
  record: GrantRecord,
  version: number,
): Promise<void> {
  await driver.set(`grants/${namespaceOf(record.id)}`, encoder.encode(JSON.stringify(record)), {
    ifVersion: version,
  })
}
