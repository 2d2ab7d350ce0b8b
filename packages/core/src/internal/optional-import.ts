/**
 * Optional peer dependencies (`@napi-rs/keyring`, `pg`) imported on first use: one import per
 * specifier and process, retried after a failure (the package may be installed meanwhile).
 *
 * @module
 */

/** True when `error` says that `specifier` itself (not something it imports) is not installed. */
export function isModuleNotFound(error: unknown, specifier: string): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  const message = String((error as Error | undefined)?.message ?? '')
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(specifier)
  )
}

/** Memoises `load` per specifier; a rejected load is forgotten so that the next call retries. */
export function onceImported<T>(
  load: (specifier: string) => Promise<T>,
): (specifier: string) => Promise<T> {
  const loaded = new Map<string, Promise<T>>()
  return (specifier) => {
    let pending = loaded.get(specifier)
    if (!pending) {
      pending = load(specifier)
      loaded.set(specifier, pending)
      pending.catch(() => loaded.delete(specifier))
    }
    return pending
  }
}
