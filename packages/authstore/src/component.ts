import { type Driver, KEYWARD_INVALID_KEY, type KeyWrite, KeywardError } from '@keyward/core'
import { checkName, invalid, namespacePrefix } from './internal/names.js'
import { storeDrivers } from './internal/store-drivers.js'
import type { AuthStore } from './store.js'

/**
 * A `Driver` (the `@keyward/core` contract) for a component's own data beside the tokens of `store` — an MCP client's
 * registrations and discovery state, a pending sign-in — kept in the store's driver (so with
 * its encryption, durability and cross-process lock), under keys no token record and no other
 * component can reach. Records are never visible through it. The keys it takes are those of
 * any driver; `list` returns them without the component's prefix.
 *
 * @example
 * ```ts
 * import { AuthStore, componentDriver } from '@keyward/authstore'
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 *
 * const store = new AuthStore({ driver: memoryDriver() })
 * const mine = componentDriver(store, 'my-component')
 * await mine.set('settings', new TextEncoder().encode('{"theme":"dark"}'))
 * await mine.list() // ['settings']
 * ```
 */
export function componentDriver(store: AuthStore, component: string): Driver {
  const owner = storeDrivers.get(store)
  if (owner === undefined) throw invalid('componentDriver needs an AuthStore')
  checkName(component, 'component')
  const { driver } = owner
  // An escaped namespace holds `%` only as `%25` or `%2F`: `<namespace>%!` is never a prefix of
  // a record key (`<namespace>/…`) nor of another namespace's keys.
  const prefix = `${namespacePrefix(owner.namespace).slice(0, -1)}%!${encodeURIComponent(component)}/`
  const at = (key: string): string => {
    if (typeof key !== 'string' || key.length === 0)
      throw new KeywardError(KEYWARD_INVALID_KEY, 'key must be a non-empty string')
    return prefix + key
  }
  // Errors name the key as the component wrote it, never the prefixed one.
  const own = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run()
    } catch (error) {
      const key = KeywardError.isInstance(error) ? error.details.key : undefined
      if (!KeywardError.isInstance(error) || typeof key !== 'string' || !key.startsWith(prefix))
        throw error
      throw new KeywardError(error.code, error.message.replaceAll(prefix, ''), {
        cause: error.cause,
        details: { ...error.details, key: key.slice(prefix.length) },
      })
    }
  }
  const view: Driver = {
    name: driver.name,
    durability: driver.durability,
    get: (key) => own(() => driver.get(at(key))),
    set: (key, value, options) => own(() => driver.set(at(key), value, options)),
    delete: (key, options) => own(() => driver.delete(at(key), options)),
    list: async (sub = '') =>
      (await driver.list(prefix + sub)).map((key) => key.slice(prefix.length)),
    withLock: (key, fn, options) => own(() => driver.withLock(at(key), fn, options)),
  }
  const setMany = driver.setMany?.bind(driver)
  if (setMany === undefined) return view
  return {
    ...view,
    setMany: (writes: readonly KeyWrite[]) =>
      own(() =>
        // Not an array (or not objects): the driver's own checks answer.
        setMany(
          Array.isArray(writes)
            ? writes.map((write) =>
                typeof write === 'object' && write !== null
                  ? { ...write, key: at(write.key) }
                  : write,
              )
            : writes,
        ),
      ),
  }
}
