import type { DeleteOptions, LockOptions, SetOptions, StoredValue } from '../contracts.js'
import { assertDeleteArguments, assertKey, assertPrefix, assertSetArguments } from './validate.js'

/** What a driver does once its arguments are known to be good (see {@link checkedOperations}). */
export interface DriverOperations {
  get(key: string): Promise<StoredValue | null>
  set(key: string, value: Uint8Array, ifVersion: number | undefined): Promise<{ version: number }>
  delete(key: string, ifVersion: number | undefined): Promise<boolean>
  list(prefix: string): Promise<string[]>
  withLock<T>(key: string, fn: () => Promise<T>, options: LockOptions | undefined): Promise<T>
}

/**
 * The `Driver` methods `get`, `set`, `delete`, `list` and `withLock` over `operations`: each
 * first makes the argument checks the contract asks of every driver (a bad argument rejects
 * with `KEYWARD_INVALID_KEY` / `KEYWARD_INVALID_ARGUMENT`, and `withLock` throws at once), so a
 * driver writes only what its backend does.
 */
export function checkedOperations(operations: DriverOperations) {
  return {
    async get(key: string): Promise<StoredValue | null> {
      assertKey(key)
      return operations.get(key)
    },
    async set(key: string, value: Uint8Array, options?: SetOptions): Promise<{ version: number }> {
      assertSetArguments(key, value, options?.ifVersion)
      return operations.set(key, value, options?.ifVersion)
    },
    async delete(key: string, options?: DeleteOptions): Promise<boolean> {
      assertDeleteArguments(key, options?.ifVersion)
      return operations.delete(key, options?.ifVersion)
    },
    async list(prefix = ''): Promise<string[]> {
      assertPrefix(prefix)
      return operations.list(prefix)
    },
    withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
      assertKey(key)
      return operations.withLock(key, fn, options)
    },
  }
}
