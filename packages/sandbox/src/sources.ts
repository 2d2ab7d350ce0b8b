import {
  assertOptions,
  type Driver,
  KEYWARD_INVALID_ARGUMENT,
  KeywardError,
  type SecretSource,
} from '@keyward/core'

/**
 * A source that reads variables from an environment object (normally the host's `process.env`)
 * at the moment they are resolved. Only the keys asked for are read.
 *
 * @example
 * ```ts
 * import { envSource } from '@keyward/sandbox'
 *
 * const ENV = envSource(process.env)
 * const found = await ENV.resolve(['CLOCKIFY_API_KEY']) // Map { 'CLOCKIFY_API_KEY' => '…' } or empty
 * ```
 */
export function envSource(env: Readonly<Record<string, string | undefined>>): SecretSource {
  if (typeof env !== 'object' || env === null)
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'envSource needs an environment object')
  return Object.freeze({
    async resolve(keys: readonly string[]): Promise<ReadonlyMap<string, string>> {
      const found = new Map<string, string>()
      for (const key of keys) {
        if (!Object.hasOwn(env, key)) continue
        const value = env[key]
        if (typeof value === 'string') found.set(key, value)
      }
      return found
    },
  })
}

/**
 * A secret source over any keyward driver: each key's value is the UTF-8 text stored under
 * `prefix + key`.
 *
 * @example
 * ```ts
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 * import { driverSource } from '@keyward/sandbox'
 *
 * const driver = memoryDriver()
 * await driver.set('team/API_KEY', new TextEncoder().encode('k_exampleexample'))
 * const found = await driverSource(driver, 'team/').resolve(['API_KEY']) // Map { 'API_KEY' => 'k_exampleexample' }
 * ```
 */
export function driverSource(driver: Driver, prefix = ''): SecretSource {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  return Object.freeze({
    async resolve(keys: readonly string[]): Promise<ReadonlyMap<string, string>> {
      const found = new Map<string, string>()
      for (const key of keys) {
        const stored = await driver.get(prefix + key)
        if (stored !== null) found.set(key, decoder.decode(stored.value))
      }
      return found
    },
  })
}

/** Options of {@link keyringSource}. */
export interface KeyringSourceOptions {
  /** The keychain service the entries are filed under (default `keyward`). */
  service?: string | undefined
  /** Linux: `secret-service` (default) or `keyutils`. */
  store?: 'secret-service' | 'keyutils' | undefined
}

/**
 * The `SYSTEM` source: values kept in the OS keyring through `@keyward/core/drivers/keyring`
 * (filed under `service`, the key as the account). The keyring binding is loaded on first use,
 * so a host that never resolves a `SYSTEM` grant never loads it.
 *
 * @example
 * ```ts
 * import { createPluginHost, keyringSource } from '@keyward/sandbox'
 *
 * const host = createPluginHost({
 *   dataDir: './.plugins',
 *   sources: { SYSTEM: keyringSource({ service: 'my-host' }) },
 *   prompt: async () => ({ grant: true, source: 'SYSTEM' }),
 * })
 * ```
 */
export function keyringSource(options: KeyringSourceOptions = {}): SecretSource {
  assertOptions(options, 'keyringSource', { service: 'non-empty string' })
  const service = options.service ?? 'keyward'
  let source: Promise<SecretSource> | undefined
  return Object.freeze({
    async resolve(keys: readonly string[]): Promise<ReadonlyMap<string, string>> {
      source ??= import('@keyward/core/drivers/keyring').then(({ keyringDriver }) =>
        driverSource(
          keyringDriver({
            service,
            ...(options.store === undefined ? {} : { store: options.store }),
          }),
        ),
      )
      return (await source).resolve(keys)
    },
  })
}

/**
 * The `LOCAL` source: each plugin's own values (written by its commands or `host.setLocal`),
 * kept encrypted. By default the host keeps them in its own encrypted file under `dataDir`
 * (see the host's `key` option); pass `driver` to keep them elsewhere. Each plugin's values
 * stay under its own prefix, which no plugin id or key can escape.
 */
export interface LocalSource {
  readonly kind: 'local'
  /** Where the values live; `undefined` means the host's own store. */
  readonly driver: Driver | undefined
}

/** Options of {@link localSource}. */
export interface LocalSourceOptions {
  /** Keep LOCAL values in this driver instead of the host's encrypted file. */
  driver?: Driver | undefined
}

/**
 * Describes where plugins' LOCAL values are kept (see {@link LocalSource}).
 *
 * @example
 * ```ts
 * import { envKey } from '@keyward/core'
 * import { fileDriver } from '@keyward/core/drivers/file'
 * import { createPluginHost, localSource } from '@keyward/sandbox'
 *
 * const host = createPluginHost({
 *   dataDir: './.plugins',
 *   sources: { LOCAL: localSource({ driver: fileDriver({ path: './.plugins/local.kw', key: envKey('MY_HOST_KEY') }) }) },
 *   prompt: async () => ({ grant: true, source: 'LOCAL' }),
 * })
 * ```
 */
export function localSource(options: LocalSourceOptions = {}): LocalSource {
  assertOptions(options, 'localSource')
  return Object.freeze({ kind: 'local' as const, driver: options.driver })
}
