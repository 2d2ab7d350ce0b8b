import type { KeyParams, KeyProvider } from '../contracts.js'
import {
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_KEY_INVALID,
  KEYWARD_KEY_MISSING,
  KeywardError,
} from '../errors.js'
import { assertOptions } from '../guards.js'

/** Options of {@link envKey}. */
export interface EnvKeyOptions {
  /**
   * Where to read the variable from (default `process.env`), read each time the key is needed.
   * Tests pass their own object.
   */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2})$/

/** Decodes standard or URL-safe base64 strictly; `null` unless it is exactly 32 bytes. */
function decodeKey(text: string): Buffer | null {
  const trimmed = text.trim()
  if (!BASE64.test(trimmed)) return null
  const unpadded = trimmed.replace(/=+$/, '')
  if (unpadded.length % 4 === 1) return null
  const bytes = Buffer.from(unpadded.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url')
  // Non-canonical trailing bits are refused, so one key has exactly one spelling.
  if (bytes.toString('base64url') !== unpadded.replace(/\+/g, '-').replace(/\//g, '_')) return null
  return bytes.byteLength === 32 ? bytes : null
}

/**
 * A key provider that reads the store's 256-bit key-encryption key from an environment
 * variable, base64 (standard or URL-safe) of exactly 32 bytes: for servers and CI, where a
 * secret manager injects it. The variable is read when the key is needed, not at construction.
 *
 * - unset or empty → `KEYWARD_KEY_MISSING` (the message says how to generate one);
 * - not base64 of 32 bytes → `KEYWARD_KEY_INVALID`;
 * - a valid key that is not this store's → `KEYWARD_WRONG_KEY`.
 *
 * No error ever shows the variable's value.
 *
 * @example
 * ```ts
 * // export KEYWARD_KEY="$(openssl rand -base64 32)"
 * import { envKey } from '@keyward/core'
 * import { fileDriver } from '@keyward/core/drivers/file'
 *
 * const store = fileDriver({ path: '/var/lib/my-app/secrets.kw', key: envKey() })
 * ```
 */
export function envKey(variable = 'KEYWARD_KEY', options: EnvKeyOptions = {}): KeyProvider {
  if (typeof variable !== 'string' || !VARIABLE.test(variable))
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'variable must be an environment variable name such as KEYWARD_KEY',
    )
  assertOptions(options, 'envKey', { env: 'object' })
  const env = options.env

  const provider: KeyProvider & { readonly description: string } = {
    kind: 'env',
    description: `environment variable ${variable}`,
    createParams(): KeyParams {
      return {}
    },
    async deriveKey(): Promise<Uint8Array> {
      const value = (env ?? process.env)[variable]
      if (value === undefined || value.trim() === '') {
        throw new KeywardError(
          KEYWARD_KEY_MISSING,
          `environment variable ${variable} is not set; generate a key with \`openssl rand -base64 32\` and set ${variable} to it (keep it: without it the store cannot be opened)`,
          { details: { variable } },
        )
      }
      const key = decodeKey(value)
      if (key === null) {
        throw new KeywardError(
          KEYWARD_KEY_INVALID,
          `environment variable ${variable} must hold base64 of exactly 32 bytes; generate one with \`openssl rand -base64 32\``,
          { details: { variable } },
        )
      }
      return key
    },
  }
  return Object.freeze(provider)
}
