import { randomBytes } from 'node:crypto'
import { type Driver, KEYWARD_STORE_IO, KeywardError } from '@keyward/core'

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i])
}

/**
 * Writes a throwaway value under `key`, reads it back and deletes it: proves the driver can
 * store a record now (its key reachable, its directory writable, its keyring unlocked). A
 * driver's `KeywardError` is passed on as is (its code and fix); anything else becomes
 * `KEYWARD_STORE_IO` naming the error's class only (a foreign message may quote a value).
 */
export async function proveRoundTrip(driver: Driver, key: string): Promise<void> {
  const value = new Uint8Array(randomBytes(16))
  let written = false
  try {
    await driver.set(key, value, { ifVersion: 0 })
    written = true
    const back = await driver.get(key)
    if (back === null || !same(back.value, value))
      throw new KeywardError(
        KEYWARD_STORE_IO,
        `storage backend "${driver.name}" did not return what was just written to it; tokens stored there would be lost`,
        { details: { backend: driver.name } },
      )
    written = !(await driver.delete(key))
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    throw new KeywardError(
      KEYWARD_STORE_IO,
      `storage backend "${driver.name}" failed a write round trip (${error instanceof Error ? error.name : typeof error})`,
      { cause: error, details: { backend: driver.name } },
    )
  } finally {
    if (written) await driver.delete(key).catch(() => {})
  }
}
