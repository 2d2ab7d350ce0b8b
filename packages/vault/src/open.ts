import {
  assertOptions,
  type Driver,
  defaultKey,
  KEYWARD_KEY_MISSING,
  KeywardError,
  silentLogger,
} from '@keyward/core'
import { KEYWARD_VAULT_NO_KEY } from './errors.js'
import { argument } from './internal/argument.js'
import { defaultVaultPath } from './paths.js'
import type { OpenVaultOptions, Vault } from './types.js'
import { OpenedVault } from './vault.js'

const NO_KEY_FIX = 'or pass `key: passphraseKey(…)` (or envKey(…)) from @keyward/core to openVault'

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
  assertOptions(options, 'openVault', {
    path: 'non-empty string',
    driver: 'driver',
    key: 'object',
    namespace: 'string',
    logger: 'logger',
  })
  if (options.driver !== undefined && (options.path !== undefined || options.key !== undefined))
    throw argument(
      'option `driver` cannot be combined with `path` or `key` (they configure the default file driver)',
    )
  const namespace = options.namespace ?? 'vault'
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(namespace))
    throw argument('option `namespace` must be 1–64 characters of letters, digits, _ . -')
  const logger = options.logger ?? silentLogger
  let driver: Driver
  if (options.driver) driver = options.driver
  else {
    // core's one key policy: KEYWARD_KEY when set, else the OS keyring entry.
    const key = options.key ?? defaultKey({ account: 'vault-key', fix: NO_KEY_FIX })
    const { fileDriver } = await import('@keyward/core/drivers/file')
    driver = fileDriver({ path: options.path ?? defaultVaultPath(), key })
  }
  const vault = new OpenedVault(driver, namespace, logger)
  try {
    await vault.init()
  } catch (error) {
    await driver.close?.().catch(() => {})
    if (
      options.key === undefined &&
      options.driver === undefined &&
      KeywardError.isInstance(error) &&
      error.code === KEYWARD_KEY_MISSING
    ) {
      const keyring = error.details.keyring
      throw new KeywardError(
        KEYWARD_VAULT_NO_KEY,
        `no key to open the vault: the OS keyring is not available (${String(keyring)}) and no key was given; set KEYWARD_KEY to a key (\`export KEYWARD_KEY="$(openssl rand -base64 32)"\`, and keep it safe) ${NO_KEY_FIX}`,
        { cause: error, details: { keyring } },
      )
    }
    throw error
  }
  return vault
}
