import { homedir } from 'node:os'
import { join } from 'node:path'

/** Options of {@link defaultVaultPath}; tests and hosts pass their own. */
export interface DefaultVaultPathOptions {
  readonly platform?: NodeJS.Platform
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  readonly home?: string | undefined
}

/**
 * Where `openVault()` keeps the vault file when no `path` or `driver` is given:
 * - Linux and others: `$XDG_DATA_HOME/keyward/vault.kwd`, else `~/.local/share/keyward/vault.kwd`;
 * - macOS: `~/Library/Application Support/keyward/vault.kwd`;
 * - Windows: `%APPDATA%\keyward\vault.kwd` (else `~\AppData\Roaming\keyward\vault.kwd`).
 *
 * `KEYWARD_VAULT_PATH`, when set, overrides all of these.
 *
 * @example
 * ```ts
 * import { defaultVaultPath } from '@keyward/vault'
 *
 * defaultVaultPath({ platform: 'linux', env: {}, home: '/home/alice' })
 * // '/home/alice/.local/share/keyward/vault.kwd'
 * ```
 */
export function defaultVaultPath(options: DefaultVaultPathOptions = {}): string {
  const env = options.env ?? process.env
  const platform = options.platform ?? process.platform
  const home = options.home ?? homedir()
  if (env.KEYWARD_VAULT_PATH) return env.KEYWARD_VAULT_PATH
  if (platform === 'win32') {
    const appData = env.APPDATA || join(home, 'AppData', 'Roaming')
    return `${appData.replace(/[\\/]+$/, '')}\\keyward\\vault.kwd`
  }
  if (platform === 'darwin')
    return join(home, 'Library', 'Application Support', 'keyward', 'vault.kwd')
  const data = env.XDG_DATA_HOME?.startsWith('/')
    ? env.XDG_DATA_HOME
    : join(home, '.local', 'share')
  return join(data, 'keyward', 'vault.kwd')
}
