import type { KeyParams, KeyProvider } from '../contracts.js'
import {
  KEYWARD_KEY_MISSING,
  KEYWARD_KEYRING_UNAVAILABLE,
  KEYWARD_MISSING_DEPENDENCY,
  KeywardError,
} from '../errors.js'
import { assertOptions } from '../guards.js'
import type { LinuxKeyringStore } from '../internal/native-keyring.js'
import { envKey } from './env.js'
import { keyringKey } from './keyring.js'

/** Options of {@link defaultKey}. */
export interface DefaultKeyOptions {
  /** The environment variable that holds a base64 key (default `KEYWARD_KEY`). */
  readonly variable?: string | undefined
  /** Where to read the variable from (default `process.env`). Tests pass their own object. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Keychain service name of the key's entry (default `keyward`). */
  readonly service?: string | undefined
  /** Keychain account name of the key's entry (default `store-key`). */
  readonly account?: string | undefined
  /** Linux only: `secret-service` (default) or `keyutils`; see `keyringKey`. */
  readonly store?: LinuxKeyringStore | undefined
  /** Directory of the lock file that serialises key creation (see `keyringKey`). */
  readonly lockDir?: string | undefined
  /**
   * What the user can do instead, appended to the `KEYWARD_KEY_MISSING` message (for example
   * "or pass `--passphrase`"). Default: nothing beyond setting the variable.
   */
  readonly fix?: string | undefined
}

/**
 * keyward's one policy for "which key opens the store" when the host passes none:
 *
 * 1. the environment variable `KEYWARD_KEY` when it is set (servers, CI): {@link envKey};
 * 2. else the OS keyring entry `service`/`account`: {@link keyringKey} (created on first use);
 * 3. else — no keyring reachable, or `@napi-rs/keyring` not installed — `KEYWARD_KEY_MISSING`
 *    with the fix (set `KEYWARD_KEY`), the keyring's code in `details.keyring` and its error
 *    as `cause`. Never a plaintext fallback.
 *
 * The choice between 1 and 2 is made here, once; the keyring is only touched when the store
 * needs its key.
 *
 * @example
 * ```ts
 * import { defaultKey } from '@keyward/core'
 * import { fileDriver } from '@keyward/core/drivers/file'
 *
 * const store = fileDriver({ path: './app-secrets.kwd', key: defaultKey({ service: 'my-app' }) })
 * ```
 */
export function defaultKey(options: DefaultKeyOptions = {}): KeyProvider {
  assertOptions(options, 'defaultKey', {
    variable: 'non-empty string',
    env: 'object',
    service: 'non-empty string',
    account: 'non-empty string',
    lockDir: 'non-empty string',
    fix: 'string',
  })
  const variable = options.variable ?? 'KEYWARD_KEY'
  const fromEnv = envKey(variable, options.env === undefined ? {} : { env: options.env })
  const value = (options.env ?? process.env)[variable]
  if (value !== undefined && value.trim() !== '') return fromEnv

  const keyring = keyringKey({
    service: options.service,
    account: options.account,
    store: options.store,
    lockDir: options.lockDir,
  })
  const fix = `set ${variable} to a key (\`export ${variable}="$(openssl rand -base64 32)"\`, and keep it safe)${options.fix ? ` ${options.fix}` : ''}`
  const unavailable = (error: unknown): never => {
    if (
      KeywardError.isInstance(error) &&
      (error.code === KEYWARD_KEYRING_UNAVAILABLE || error.code === KEYWARD_MISSING_DEPENDENCY)
    )
      throw new KeywardError(
        KEYWARD_KEY_MISSING,
        `no key for the store: ${variable} is not set and the OS keyring is not available (${error.code}); ${fix}`,
        { cause: error, details: { variable, keyring: error.code } },
      )
    throw error
  }
  return Object.freeze({
    kind: keyring.kind,
    service: keyring.service,
    account: keyring.account,
    createParams: (): KeyParams => keyring.createParams(),
    deriveKey: (params: KeyParams, mode: 'open' | 'create'): Promise<Uint8Array> =>
      keyring.deriveKey(params, mode).catch(unavailable),
  })
}
