import { randomBytes, scrypt } from 'node:crypto'
import type { KeyParams, KeyProvider } from '../contracts.js'
import { KEYWARD_INVALID_ARGUMENT, KEYWARD_STORE_CORRUPT, KeywardError } from '../errors.js'
import { assertOptions } from '../guards.js'

/** scrypt cost parameters. */
export interface ScryptCost {
  /** CPU/memory cost, a power of two. */
  readonly N: number
  /** Block size. */
  readonly r: number
  /** Parallelism. */
  readonly p: number
}

/** The default scrypt cost: N=2^17, r=8, p=1 (OWASP's recommended minimum; 128 MiB, ~0.3 s). */
export const DEFAULT_SCRYPT_COST: ScryptCost = Object.freeze({ N: 2 ** 17, r: 8, p: 1 })

/** The cost {@link PassphraseKeyOptions.insecureLowCostForTests} selects: fast and weak. */
const TEST_SCRYPT_COST: ScryptCost = Object.freeze({ N: 2 ** 10, r: 8, p: 1 })

/**
 * The strongest scrypt cost keyward writes (the bounds of `cost`): N ≤ 2^20, r ≤ 16, p ≤ 4, and
 * at most 1 GiB of memory (128·N·r) — 8× the default. A store header is checked by a plain
 * hash, not the key, so it can be forged: parameters beyond these are refused before any
 * derivation (a header used to be able to ask for 16 GiB).
 */
export const MAX_SCRYPT_COST: ScryptCost & { readonly memoryBytes: number } = Object.freeze({
  N: 2 ** 20,
  r: 16,
  p: 4,
  memoryBytes: 2 ** 30,
})
const MAX_N = MAX_SCRYPT_COST.N
const MAX_R = MAX_SCRYPT_COST.r
const MAX_P = MAX_SCRYPT_COST.p

/** scrypt's memory for a cost, in bytes (128·N·r). */
function scryptMemory(cost: ScryptCost): number {
  return 128 * cost.N * cost.r
}

/** Options of {@link passphraseKey}. */
export interface PassphraseKeyOptions {
  /**
   * scrypt cost for new stores and for re-wrapping on save. Defaults to
   * `DEFAULT_SCRYPT_COST` (N=2^17, r=8, p=1); a lower cost than that is refused (use
   * `insecureLowCostForTests`). A store whose header holds weaker parameters is re-wrapped
   * with these on its next write.
   */
  readonly cost?: Partial<ScryptCost> | undefined
  /**
   * **Tests only.** Uses N=2^10 (about 1 ms) instead of the OWASP-strength default, so a test
   * suite that opens many stores stays fast. A store created this way is trivial to brute-force;
   * never set it in production. A later save with a normal `passphraseKey` raises the cost.
   */
  readonly insecureLowCostForTests?: boolean | undefined
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 1 && (n & (n - 1)) === 0
}

function checkCost(options: PassphraseKeyOptions): ScryptCost {
  if (options.insecureLowCostForTests !== undefined) {
    if (typeof options.insecureLowCostForTests !== 'boolean')
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        'option `insecureLowCostForTests` must be a boolean',
      )
    if (options.insecureLowCostForTests) {
      if (options.cost !== undefined)
        throw new KeywardError(
          KEYWARD_INVALID_ARGUMENT,
          'options `cost` and `insecureLowCostForTests` cannot be combined',
        )
      return TEST_SCRYPT_COST
    }
  }
  const cost = { ...DEFAULT_SCRYPT_COST, ...options.cost }
  if (!isPowerOfTwo(cost.N) || cost.N < DEFAULT_SCRYPT_COST.N || cost.N > MAX_N)
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`cost.N\` must be a power of two from 2^17 to 2^20 (OWASP minimum is 2^17)`,
    )
  if (!Number.isSafeInteger(cost.r) || cost.r < DEFAULT_SCRYPT_COST.r || cost.r > MAX_R)
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`cost.r\` must be an integer from 8 to ${MAX_R}`,
    )
  if (!Number.isSafeInteger(cost.p) || cost.p < 1 || cost.p > MAX_P)
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`cost.p\` must be an integer from 1 to ${MAX_P}`,
    )
  if (scryptMemory(cost) > MAX_SCRYPT_COST.memoryBytes)
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'options `cost.N` and `cost.r` ask for more than 1 GiB of memory (128·N·r): lower one of them',
    )
  return Object.freeze(cost)
}

function paramError(): KeywardError {
  return new KeywardError(
    KEYWARD_STORE_CORRUPT,
    'the store header holds invalid scrypt parameters; restore the store from a backup',
    { details: { reason: 'kdf params' } },
  )
}

/** Reads and bounds-checks scrypt parameters from a header. */
function readParams(params: KeyParams): { salt: Buffer } & ScryptCost {
  const { kdf, salt, N, r, p } = params
  if (kdf !== 'scrypt' || typeof salt !== 'string') throw paramError()
  const saltBytes = Buffer.from(salt, 'base64url')
  if (saltBytes.byteLength < 16 || saltBytes.toString('base64url') !== salt) throw paramError()
  // Only what keyward itself writes (the test cost up to MAX_SCRYPT_COST), before any work.
  if (typeof N !== 'number' || !isPowerOfTwo(N) || N < TEST_SCRYPT_COST.N || N > MAX_N)
    throw paramError()
  if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < TEST_SCRYPT_COST.r || r > MAX_R)
    throw paramError()
  if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 1 || p > MAX_P) throw paramError()
  if (scryptMemory({ N, r, p }) > MAX_SCRYPT_COST.memoryBytes) throw paramError()
  return { salt: saltBytes, N, r, p }
}

function runScrypt(passphrase: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      passphrase.normalize('NFC'),
      salt,
      32,
      { ...cost, maxmem: 128 * cost.N * cost.r * (cost.p + 1) + 32 * 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(key)),
    )
  })
}

/**
 * A key provider that derives the store's key-encryption key from a passphrase with scrypt
 * (Node's built-in `crypto.scrypt`, memory-hard; default N=2^17, r=8, p=1). The salt and cost
 * are kept in the store header, so the cost can be raised later: a store with weaker parameters
 * is re-wrapped on its next write. A wrong passphrase fails with `KEYWARD_WRONG_PASSPHRASE`.
 *
 * `passphrase` may be a function, called only when the key is needed (to prompt lazily); it is
 * never kept by the provider, and `util.inspect`/`JSON.stringify` of the provider never show it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7914 (scrypt)
 * @example
 * ```ts
 * import { passphraseKey } from '@keyward/core'
 * import { fileDriver } from '@keyward/core/drivers/file'
 *
 * const store = fileDriver({
 *   path: '/home/me/.config/my-app/secrets.kw',
 *   key: passphraseKey(() => process.env.MY_APP_PASSPHRASE ?? ''),
 * })
 * ```
 */
export function passphraseKey(
  passphrase: string | (() => string | Promise<string>),
  options: PassphraseKeyOptions = {},
): KeyProvider {
  if (typeof passphrase === 'string') {
    if (passphrase.length === 0)
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'passphrase must not be empty')
  } else if (typeof passphrase !== 'function') {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'passphrase must be a string or a function returning one',
    )
  }
  assertOptions(options, 'passphraseKey')
  const cost = checkCost(options)
  const getPassphrase = async (): Promise<string> => {
    const value = typeof passphrase === 'string' ? passphrase : await passphrase()
    if (typeof value !== 'string' || value.length === 0)
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        'the passphrase function returned an empty passphrase or not a string',
      )
    return value
  }

  const provider: KeyProvider & { readonly description: string } = {
    kind: 'passphrase',
    description: 'passphrase',
    createParams(): KeyParams {
      return {
        kdf: 'scrypt',
        salt: randomBytes(16).toString('base64url'),
        N: cost.N,
        r: cost.r,
        p: cost.p,
      }
    },
    shouldUpgrade(params: KeyParams): boolean {
      const { N, r, p } = params
      return (
        params.kdf !== 'scrypt' ||
        typeof N !== 'number' ||
        typeof r !== 'number' ||
        typeof p !== 'number' ||
        N < cost.N ||
        r < cost.r ||
        p < cost.p
      )
    },
    async deriveKey(params: KeyParams): Promise<Uint8Array> {
      const { salt, N, r, p } = readParams(params)
      return runScrypt(await getPassphrase(), salt, { N, r, p })
    },
  }
  return Object.freeze(provider)
}
