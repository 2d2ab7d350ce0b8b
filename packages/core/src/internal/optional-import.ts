/**
 * Optional peer dependencies (`@napi-rs/keyring`, `pg`) imported on first use: one import per
 * specifier and process, retried after a failure (the package may be installed meanwhile), and
 * every way it can fail a `KEYWARD_MISSING_DEPENDENCY` that says what to install.
 *
 * @module
 */
import { KEYWARD_MISSING_DEPENDENCY, KeywardError } from '../errors.js'

/** One optional package: the functions it must export and what to tell a user who lacks it. */
export interface OptionalModule {
  /** Functions the module exports (the first tells a CommonJS `default` wrapper apart). */
  readonly exports: readonly [string, ...string[]]
  /** The message when the package is not installed. */
  readonly missing: (specifier: string) => string
  /** The message when it is installed but its import fails (the cause is kept). */
  readonly broken: (specifier: string) => string
  /** The message when it imports but lacks one of `exports`. */
  readonly wrongShape: (specifier: string) => string
}

/** True when `error` says that `specifier` itself (not something it imports) is not installed. */
function isModuleNotFound(error: unknown, specifier: string): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  const message = String((error as Error | undefined)?.message ?? '')
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(specifier)
  )
}

async function importModule<T>(module: OptionalModule, specifier: string): Promise<T> {
  let imported: Record<string, unknown>
  try {
    imported = (await import(specifier)) as Record<string, unknown>
  } catch (error) {
    const missing = isModuleNotFound(error, specifier)
    throw new KeywardError(
      KEYWARD_MISSING_DEPENDENCY,
      missing ? module.missing(specifier) : module.broken(specifier),
      { ...(missing ? {} : { cause: error }), details: { package: specifier } },
    )
  }
  // CommonJS packages arrive as `default` under ESM import.
  const candidate = (
    typeof imported[module.exports[0]] === 'function' ? imported : imported.default
  ) as Record<string, unknown> | null | undefined
  if (!module.exports.every((name) => typeof candidate?.[name] === 'function'))
    throw new KeywardError(KEYWARD_MISSING_DEPENDENCY, module.wrongShape(specifier), {
      details: { package: specifier },
    })
  return candidate as T
}

/**
 * The loader of an optional module: imports it on first use, once per specifier (a rejected
 * import is forgotten so that the next call retries), and checks what it exports.
 */
export function optionalModule<T>(module: OptionalModule): (specifier: string) => Promise<T> {
  const loaded = new Map<string, Promise<T>>()
  return (specifier) => {
    let pending = loaded.get(specifier)
    if (!pending) {
      pending = importModule<T>(module, specifier)
      loaded.set(specifier, pending)
      pending.catch(() => loaded.delete(specifier))
    }
    return pending
  }
}
