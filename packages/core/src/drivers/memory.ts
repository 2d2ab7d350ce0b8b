import type { Driver, KeyWrite } from '../contracts.js'
import { checkedOperations } from '../internal/checked-driver.js'
import { KeyedMutex } from '../internal/lock.js'
import { compareKeys, storedValue } from '../internal/stored.js'
import {
  assertBytes,
  assertKey,
  assertVersion,
  assertWrites,
  plannedVersions,
} from '../internal/validate.js'

/** Options of {@link memoryDriver}. */
export interface MemoryDriverOptions {
  /** Values to start with (each at version 1). */
  readonly initial?: Readonly<Record<string, Uint8Array>> | undefined
}

/**
 * A driver that keeps everything in this process's memory: for tests and ephemeral hosts.
 * Values are copied in and out, so a caller mutating its buffer never changes what is stored.
 * `withLock` excludes callers within this process only (there is no other process to see it).
 *
 * @example
 * ```ts
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 *
 * const driver = memoryDriver()
 * await driver.set('a/b', new Uint8Array([1, 2, 3]))
 * await driver.list('a/') // ['a/b']
 * ```
 */
export function memoryDriver(options: MemoryDriverOptions = {}) {
  const entries = new Map<string, { value: Uint8Array; version: number }>()
  for (const [key, value] of Object.entries(options.initial ?? {})) {
    assertKey(key)
    assertBytes(value)
    entries.set(key, { value: value.slice(), version: 1 })
  }
  const mutex = new KeyedMutex()

  return {
    name: 'memory',
    durability: 'memory',
    ...checkedOperations({
      async get(key) {
        const entry = entries.get(key)
        return entry ? storedValue(entry.value.slice(), entry.version) : null
      },
      async set(key, value, ifVersion) {
        const current = entries.get(key)?.version ?? 0
        assertVersion(key, ifVersion, current)
        const version = current + 1
        entries.set(key, { value: value.slice(), version })
        return { version }
      },
      async delete(key, ifVersion) {
        const current = entries.get(key)?.version ?? 0
        assertVersion(key, ifVersion, current)
        return entries.delete(key)
      },
      async list(prefix) {
        return [...entries.keys()].filter((key) => key.startsWith(prefix)).sort(compareKeys)
      },
      withLock: (key, fn, lockOptions) => mutex.run(key, fn, lockOptions),
    }),
    async setMany(writes: readonly KeyWrite[]): Promise<{ versions: readonly number[] }> {
      assertWrites(writes)
      const versions = plannedVersions(writes, (key) => entries.get(key)?.version ?? 0)
      for (const [i, { key, value }] of writes.entries()) {
        if (value === null) entries.delete(key)
        else entries.set(key, { value: value.slice(), version: versions[i]! })
      }
      return { versions }
    },
  } satisfies Driver
}
