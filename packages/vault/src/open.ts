import {
  type Driver,
  envKey,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_KEYRING_UNAVAILABLE,
  KEYWARD_MISSING_DEPENDENCY,
  KeywardError,
  keyringKey,
  silentLogger,
} from '@keyward/core'
import { KEYWARD_VAULT_NO_KEY } from './errors.js'
import { defaultVaultPath } from './paths.js'
import type { OpenVaultOptions, Vault } from './types.js'
import { OpenedVault } from './vault.js'

function argument(message: string): KeywardError {
  return new KeywardError(KEYWARD_INVALID_ARGUMENT, message)
}

function isDriver(value: unknown): value is Driver {
  const d = value as Driver | null
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.get === 'function' &&
    typeof d.set === 'function' &&
    typeof d.list === 'function' &&
    typeof d.withLock === 'function'
  )
}

const NO_KEY_FIX =
  'set KEYWARD_KEY to a key (`export KEYWARD_KEY="$(openssl rand -base64 32)"`, and keep it safe) or pass `key: passphraseKey(…)` (or envKey(…)) from @keyward/core to openVault'

/**
 * Opens (and on first use creates) a vault: collections of environments of secrets, encrypted
 * at rest. By default it is one file at {@link defaultVaultPath} through `@keyward/core`'s
 * encrypted file driver, its key in the OS keyring (or in `KEYWARD_KEY` when set). Where no
 * keyring works and no key was given it fails with `KEYWARD_VAULT_NO_KEY` and the fix; it never
 * falls back to plaintext. A vault written by a newer release fails with
 * `KEYWARD_VAULT_UNSUPPORTED_FORMAT` (or core's `KEYWARD_STORE_UNSUPPORTED_VERSION`).
 *
 * @example
 * ```ts
 * import { passphraseKey } from '@keyward/core'
 * import { openVault } from '@keyward/vault'
 *
 * const vault = await openVault() // per-user file, key in the OS keyring
 * const portable = await openVault({ path: './team.kwd', key: passphraseKey(() => process.env.TEAM_VAULT_PASSPHRASE ?? '') })
 * ```
 */
export async function openVault(options: OpenVaultOptions | undefined = {}): Promise<Vault> {
  if (typeof options !== 'object' || options === null)
    throw argument('openVault takes an options object')
  if (options.driver !== undefined) {
    if (!isDriver(options.driver)) throw argument('option `driver` must be a @keyward/core Driver')
    if (options.path !== undefined || options.key !== undefined)
      throw argument(
        'option `driver` cannot be combined with `path` or `key` (they configure the default file driver)',
      )
  }
  if (options.path !== undefined && (typeof options.path !== 'string' || options.path === ''))
    throw argument('option `path` must be a non-empty file path')
  const namespace = options.namespace ?? 'vault'
  if (typeof namespace !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(namespace))
    throw argument('option `namespace` must be 1–64 characters of letters, digits, _ . -')
  const logger = options.logger ?? silentLogger
  let driver: Driver
  const defaultKey = options.key === undefined && options.driver === undefined
  if (options.driver) driver = options.driver
  else {
    const key =
      options.key ??
      (process.env.KEYWARD_KEY ? envKey('KEYWARD_KEY') : keyringKey({ account: 'vault-key' }))
    const { fileDriver } = await import('@keyward/core/drivers/file')
    driver = fileDriver({ path: options.path ?? defaultVaultPath(), key })
  }
  const vault = new OpenedVault(driver, namespace, logger)
  try {
    await vault.init()
  } catch (error) {
    await driver.close?.().catch(() => {})
    if (
      defaultKey &&
      !process.env.KEYWARD_KEY &&
      KeywardError.isInstance(error) &&
      (error.code === KEYWARD_KEYRING_UNAVAILABLE || error.code === KEYWARD_MISSING_DEPENDENCY)
    )
      throw new KeywardError(
        KEYWARD_VAULT_NO_KEY,
        `no key to open the vault: the OS keyring is not available (${error.code}) and no key was given; ${NO_KEY_FIX}`,
        { cause: error, details: { keyring: error.code } },
      )
    throw error
  }
  return vault
}
