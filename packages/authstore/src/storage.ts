import {
  type Driver,
  type Durability,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_KEYRING_UNAVAILABLE,
  KeywardError,
  type KeywardErrorCode,
  type Logger,
  silentLogger,
} from '@keyward/core'

/** Why the OS keyring was not used, as {@link SelectDriverOptions.onFallback} hears it. */
export interface StorageFallback {
  /** A `KEYWARD_*` code from the keyring probe (`KEYWARD_KEYRING_UNAVAILABLE`, `KEYWARD_KEYRING_LOCKED`…). */
  readonly code: string
  /** Why, and the fix. Never a secret. */
  readonly message: string
  /** The driver used instead: its name and durability. */
  readonly fallback: { readonly name: string; readonly durability: Durability }
}

/** Options of {@link selectDriver}. */
export interface SelectDriverOptions {
  /**
   * - `prefer` (default): the OS keyring where its probe succeeds, otherwise `fallback` (and
   *   `onFallback` is told why); with no `fallback`, an error.
   * - `require`: the OS keyring or an error — never another driver.
   * - `off`: `fallback`, without probing the keyring.
   */
  readonly keyring?: 'prefer' | 'require' | 'off'
  /** The keychain service name records are filed under (default `keyward-authstore`). */
  readonly service?: string
  /**
   * The driver to use where the keyring is not: for example a `fileDriver` with a
   * `passphraseKey` or `envKey` (encrypted). A factory is only called when needed.
   */
  readonly fallback?: Driver | (() => Driver | Promise<Driver>)
  /**
   * The host's policy when the keyring was preferred and is unavailable: show a warning, record
   * a `degraded` storage state, or throw to refuse the fallback. Also logged as a warning.
   */
  readonly onFallback?: (info: StorageFallback) => void
  readonly logger?: Logger
}

function isDriver(value: unknown): value is Driver {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Driver).get === 'function' &&
    typeof (value as Driver).withLock === 'function'
  )
}

/**
 * Chooses where an `AuthStore` keeps its records: the OS keyring (through
 * `@keyward/core/drivers/keyring`, loaded only here) where its probe succeeds, otherwise the
 * driver the host configured. It never falls back silently: a required keyring that is missing
 * is an error, and a preferred one is reported to `onFallback` and the logger.
 *
 * @example
 * ```ts
 * import { AuthStore, selectDriver } from '@keyward/authstore'
 * import { envKey } from '@keyward/core'
 * import { fileDriver } from '@keyward/core/drivers/file'
 *
 * const driver = await selectDriver({
 *   service: 'my-cli',
 *   fallback: () => fileDriver({ path: '/home/me/.config/my-cli/tokens.kw', key: envKey() }),
 *   onFallback: ({ code, fallback }) => console.warn(`no OS keyring (${code}); using ${fallback.name}`),
 * })
 * const store = new AuthStore({ driver })
 * ```
 */
export async function selectDriver(options: SelectDriverOptions = {}): Promise<Driver> {
  if (typeof options !== 'object' || options === null)
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'selectDriver needs an options object')
  const mode = options.keyring ?? 'prefer'
  if (mode !== 'prefer' && mode !== 'require' && mode !== 'off')
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      "option `keyring` must be 'prefer', 'require' or 'off'",
    )
  if (
    options.fallback !== undefined &&
    typeof options.fallback !== 'function' &&
    !isDriver(options.fallback)
  )
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `fallback` must be a Driver or a function returning one',
    )
  if (options.onFallback !== undefined && typeof options.onFallback !== 'function')
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `onFallback` must be a function')
  if (mode === 'off' && options.fallback === undefined)
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      "option `fallback` is required with keyring: 'off'",
    )
  const logger = options.logger ?? silentLogger
  const fallback = async (): Promise<Driver> => {
    const made =
      typeof options.fallback === 'function' ? await options.fallback() : options.fallback
    if (!isDriver(made))
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `fallback` did not return a Driver')
    return made
  }
  if (mode === 'off') return fallback()

  const { keyringDriver } = await import('@keyward/core/drivers/keyring')
  const driver = keyringDriver({ service: options.service ?? 'keyward-authstore' })
  const probe = await driver.probe()
  if (probe.available) return driver

  const code = (probe.code ?? KEYWARD_KEYRING_UNAVAILABLE) as KeywardErrorCode
  const why = probe.message ?? 'the OS keyring is not available'
  if (mode === 'require' || options.fallback === undefined) {
    throw new KeywardError(
      code,
      mode === 'require'
        ? `the OS keyring is required for tokens but unavailable: ${why}`
        : `the OS keyring is unavailable (${why}) and no fallback driver is configured; pass \`fallback\` (for example an encrypted fileDriver) or fix the keyring`,
      { details: { backend: probe.backend } },
    )
  }
  const chosen = await fallback()
  const info: StorageFallback = {
    code,
    message: why,
    fallback: { name: chosen.name, durability: chosen.durability },
  }
  logger.warn('authstore: OS keyring unavailable; using the configured fallback driver', {
    code,
    backend: probe.backend,
    fallback: chosen.name,
  })
  options.onFallback?.(info)
  return chosen
}
