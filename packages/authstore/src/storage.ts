import { homedir } from 'node:os'
import { join } from 'node:path'
import {
  assertOptions,
  type Driver,
  type Durability,
  defaultKey,
  isDriver,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_KEYRING_UNAVAILABLE,
  type KeyProvider,
  KeywardError,
  type KeywardErrorCode,
  keyringKey,
  type Logger,
  silentLogger,
} from '@keyward/core'
import { machineKeyFile } from './internal/machine-key.js'

/** Why the OS keyring was not used, as {@link SelectDriverOptions.onFallback} hears it. */
export interface StorageFallback {
  /** A `KEYWARD_*` code from the keyring probe (`KEYWARD_KEYRING_UNAVAILABLE`, `KEYWARD_KEYRING_LOCKED`…). */
  readonly code: string
  /** Why, and the fix. Never a secret. */
  readonly message: string
  /** The driver used instead: its name and durability. */
  readonly fallback: { readonly name: string; readonly durability: Durability }
  /** True when the fallback is the machine-key mode (the key in a file beside the tokens). */
  readonly machineKey: boolean
}

/** Options of {@link selectDriver}. */
export interface SelectDriverOptions {
  /**
   * Where the key that encrypts the token file comes from:
   * - `prefer` (default): `KEYWARD_KEY` when set, else the OS keyring where its probe succeeds;
   *   otherwise `machineKey` or `fallback` when given (and `onFallback` is told why), else an
   *   error with the fix.
   * - `require`: the OS keyring or an error — never another key or driver.
   * - `off`: no keyring: `machineKey`, else `fallback`.
   */
  readonly keyring?: 'prefer' | 'require' | 'off' | undefined
  /**
   * The keychain service name of the key's entry, and the directory name of the default token
   * file (default `keyward-authstore`).
   */
  readonly service?: string | undefined
  /**
   * The encrypted token file (default: `<config dir>/<service>/tokens.kw`, the config dir being
   * `$XDG_CONFIG_HOME` or `~/.config` on Linux, `~/Library/Application Support` on macOS and
   * `%APPDATA%` on Windows).
   */
  readonly path?: string | undefined
  /**
   * Headless machines without an OS keyring: keep the key in a file beside the token file
   * (`<path>.key`, mode 0600), like `gh auth login --insecure-storage`. Anyone who can read both
   * files can read the tokens. Used only when set, and announced (a warning, and `onFallback`
   * when the keyring was preferred).
   */
  readonly machineKey?: boolean | undefined
  /**
   * A driver to use where the keyring is not, instead of the encrypted token file. A factory is
   * only called when needed.
   */
  readonly fallback?: Driver | (() => Driver | Promise<Driver>) | undefined
  /**
   * The host's policy when the keyring was preferred and is unavailable: show a warning, record
   * a `degraded` storage state, or throw to refuse the fallback. Also logged as a warning.
   */
  readonly onFallback?: ((info: StorageFallback) => void) | undefined
  /** Where `KEYWARD_KEY` is read from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  readonly logger?: Logger | undefined
}

const DEFAULT_SERVICE = 'keyward-authstore'
/** The keychain account of the token file's key. */
const KEY_ACCOUNT = 'tokens-key'

function invalid(message: string): KeywardError {
  return new KeywardError(KEYWARD_INVALID_ARGUMENT, message)
}

/** The default token file of `service`, in the platform's per-user configuration directory. */
function defaultPath(service: string): string {
  const home = homedir()
  if (process.platform === 'win32')
    return join(process.env.APPDATA || join(home, 'AppData', 'Roaming'), service, 'tokens.kw')
  if (process.platform === 'darwin')
    return join(home, 'Library', 'Application Support', service, 'tokens.kw')
  return join(process.env.XDG_CONFIG_HOME || join(home, '.config'), service, 'tokens.kw')
}

function checkOptions(options: SelectDriverOptions): void {
  assertOptions(options, 'selectDriver', {
    machineKey: 'boolean',
    onFallback: 'function',
    env: 'object',
    logger: 'logger',
  })
  const { keyring, service, path, fallback } = options
  if (keyring !== undefined && keyring !== 'prefer' && keyring !== 'require' && keyring !== 'off')
    throw invalid("option `keyring` must be 'prefer', 'require' or 'off'")
  if (
    service !== undefined &&
    (typeof service !== 'string' ||
      !/^[^/\\\0]{1,100}$/.test(service) ||
      service === '.' ||
      service === '..')
  )
    throw invalid('option `service` must be a name of 1 to 100 characters without / or \\')
  if (path !== undefined && (typeof path !== 'string' || path === '' || path.includes('\0')))
    throw invalid('option `path` must be a non-empty file path')
  if (fallback !== undefined && typeof fallback !== 'function' && !isDriver(fallback))
    throw invalid('option `fallback` must be a Driver or a function returning one')
  if (keyring === 'off' && fallback === undefined && options.machineKey !== true)
    throw invalid("option `fallback` (or `machineKey: true`) is required with keyring: 'off'")
}

/**
 * Chooses where an `AuthStore` keeps its records. The default composition is one encrypted
 * token file (`@keyward/core/drivers/file`) whose key lives in the OS keyring — only the
 * 32-byte key, so a large token set never meets a keychain's size limit (Windows: 2.5 KB) — or
 * in `KEYWARD_KEY` when that is set (servers, CI), as `defaultKey()` decides. Where the keyring
 * is unavailable it never falls back silently: a required keyring is an error; a preferred one
 * uses `machineKey` or `fallback` only when the host asked for them, and reports it to
 * `onFallback` and the logger; otherwise it is an error that says how to fix it.
 *
 * Call `store.ready()` before starting a sign-in: it proves a write round trip on the result.
 *
 * @example
 * ```ts
 * import { AuthStore, selectDriver } from '@keyward/authstore'
 *
 * const driver = await selectDriver({
 *   service: 'my-cli', // keychain entry of the key, and ~/.config/my-cli/tokens.kw
 *   onFallback: ({ code, fallback }) => console.warn(`no OS keyring (${code}); using ${fallback.name}`),
 *   machineKey: process.env.MY_CLI_INSECURE_STORAGE === '1', // headless opt-in, announced
 * })
 * const store = new AuthStore({ driver })
 * await store.ready() // before the user signs in
 * ```
 */
export async function selectDriver(options: SelectDriverOptions = {}): Promise<Driver> {
  checkOptions(options)
  const mode = options.keyring ?? 'prefer'
  const service = options.service ?? DEFAULT_SERVICE
  const path = options.path ?? defaultPath(service)
  const logger = options.logger ?? silentLogger
  const env = options.env ?? process.env
  const { fileDriver } = await import('@keyward/core/drivers/file')
  const tokenFile = (key: KeyProvider) => fileDriver({ path, key })
  const machineKey = (): Driver => {
    logger.warn(
      'authstore: machine-key mode: tokens are encrypted with a key kept in a file beside them; anyone who can read both can read the tokens',
      { path, keyFile: `${path}.key` },
    )
    return tokenFile(machineKeyFile(`${path}.key`))
  }
  const fallback = async (): Promise<Driver> => {
    if (options.machineKey === true) return machineKey()
    const made =
      typeof options.fallback === 'function' ? await options.fallback() : options.fallback
    if (!isDriver(made)) throw invalid('option `fallback` did not return a Driver')
    return made
  }
  if (mode === 'off') return fallback()
  const variable = env.KEYWARD_KEY
  if (mode === 'prefer' && variable !== undefined && variable.trim() !== '')
    return tokenFile(defaultKey({ env, service, account: KEY_ACCOUNT }))

  const { probeKeyring } = await import('@keyward/core/drivers/keyring')
  const probe = await probeKeyring({ service })
  if (probe.available)
    return tokenFile(
      mode === 'require'
        ? keyringKey({ service, account: KEY_ACCOUNT })
        : defaultKey({ env, service, account: KEY_ACCOUNT }),
    )

  const code = (probe.code ?? KEYWARD_KEYRING_UNAVAILABLE) as KeywardErrorCode
  const why = probe.message ?? 'the OS keyring is not available'
  if (mode === 'require' || (options.fallback === undefined && options.machineKey !== true)) {
    throw new KeywardError(
      code,
      mode === 'require'
        ? `the OS keyring is required for tokens but unavailable: ${why}`
        : `the OS keyring is unavailable (${why}) and no other key is configured: set KEYWARD_KEY (\`export KEYWARD_KEY="$(openssl rand -base64 32)"\`), fix the keyring, pass \`fallback\`, or opt in to a key file beside the tokens with \`machineKey: true\``,
      { details: { backend: probe.backend } },
    )
  }
  const chosen = await fallback()
  const info: StorageFallback = {
    code,
    message: why,
    fallback: { name: chosen.name, durability: chosen.durability },
    machineKey: options.machineKey === true,
  }
  logger.warn('authstore: OS keyring unavailable; using the configured fallback', {
    code,
    backend: probe.backend,
    fallback: options.machineKey === true ? 'machine-key' : chosen.name,
  })
  options.onFallback?.(info)
  return chosen
}
