import type {
  DeleteOptions,
  Driver,
  KeyWrite,
  LockOptions,
  SetOptions,
  StoredValue,
} from '../contracts.js'
import { KeyedMutex } from '../internal/lock.js'
import { compareKeys, storedValue } from '../internal/stored.js'
import {
  assertBytes,
  assertDeleteArguments,
  assertKey,
  assertPrefix,
  assertSetArguments,
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
    async get(key: string): Promise<StoredValue | null> {
      assertKey(key)
      const entry = entries.get(key)
      return entry ? storedValue(entry.value.slice(), entry.version) : null
    },
    async set(
      key: string,
      value: Uint8Array,
      setOptions?: SetOptions,
    ): Promise<{ version: number }> {
      assertSetArguments(key, value, setOptions?.ifVersion)
      const current = entries.get(key)?.version ?? 0
      assertVersion(key, setOptions?.ifVersion, current)
      const version = current + 1
      entries.set(key, { value: value.slice(), version })
      return { version }
    },
    async delete(key: string, deleteOptions?: DeleteOptions): Promise<boolean> {
      assertDeleteArguments(key, deleteOptions?.ifVersion)
      const current = entries.get(key)?.version ?? 0
      assertVersion(key, deleteOptions?.ifVersion, current)
      return entries.delete(key)
    },
    async setMany(writes: readonly KeyWrite[]): Promise<{ versions: readonly number[] }> {
      assertWrites(writes)
      const versions = plannedVersions(writes, (key) => entries.get(key)?.version ?? 0)
      for (const [i, { key, value }] of writes.entries()) {
        if (value === null) entries.delete(key)
        else entries.set(key, { value: value.slice(), version: versions[i]! })
      }
      return { versions }
    },
    async list(prefix = ''): Promise<string[]> {
      assertPrefix(prefix)
      return [...entries.keys()].filter((key) => key.startsWith(prefix)).sort(compareKeys)
    },
    withLock<T>(key: string, fn: () => Promise<T>, lockOptions?: LockOptions): Promise<T> {
      assertKey(key)
      return mutex.run(key, fn, lockOptions)
    },
  } satisfies Driver
}
