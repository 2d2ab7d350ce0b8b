import { KeywardError } from '@keyward/core'
import { KEYWARD_AUTH_RECORD_CORRUPT } from './errors.js'

/**
 * Where a token's expiry comes from: the provider (`server`), a lifetime assumed because the
 * provider sent none but a refresh token exists (`inferred`), or nowhere (`none`: the token
 * does not expire).
 */
export type ExpirySource = 'server' | 'inferred' | 'none'

/**
 * A record's state: `valid`; `degraded` (the last refresh failed transiently, the unexpired
 * token is still served, a retry is scheduled); `reauth_required` (the provider refused the
 * refresh token: sign in again).
 */
export type TokenState = 'valid' | 'degraded' | 'reauth_required'

/** What one record holds in the driver (serialised as JSON). Internal. */
export interface TokenRecord {
  readonly v: 1
  /** Random per `setToken`: tells a new sign-in apart from a refresh of the same grant. */
  readonly id: string
  readonly service: string
  readonly account: string
  readonly accessToken: string
  readonly refreshToken: string | null
  readonly tokenType: string
  readonly scopes: readonly string[]
  /** Epoch ms when the access token was obtained. */
  readonly issuedAt: number
  /** Epoch ms, or null when the token does not expire. */
  readonly expiresAt: number | null
  readonly expiry: ExpirySource
  /** Grows by one on every write of the record. */
  readonly generation: number
  readonly state: TokenState
  /** Consecutive transient refresh failures. */
  readonly failures: number
  /** Epoch ms before which no refresh is attempted (backoff), or null. */
  readonly retryAt: number | null
  /** The last refresh error's OAuth code, when it sent one. */
  readonly lastError: string | null
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** The bytes stored for `record`. */
export function encodeRecord(record: TokenRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record))
}

function corrupt(key: string, what: string): KeywardError {
  // Never forward the JSON.parse error or the input: they may quote a token.
  return new KeywardError(
    KEYWARD_AUTH_RECORD_CORRUPT,
    `token record "${key}" is not a valid authstore record (${what}); store a new token with setToken or remove it with clearToken`,
    { details: { key } },
  )
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v)
const isStr = (v: unknown): v is string => typeof v === 'string'

/**
 * Parses the bytes of a stored record. Anything that is not a well-formed record throws
 * `KEYWARD_AUTH_RECORD_CORRUPT` naming the key and the field, never the content.
 */
export function decodeRecord(bytes: Uint8Array, key: string): TokenRecord {
  let raw: unknown
  try {
    raw = JSON.parse(decoder.decode(bytes))
  } catch {
    throw corrupt(key, 'not JSON')
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw corrupt(key, 'not an object')
  const r = raw as Record<string, unknown>
  if (r.v !== 1) throw corrupt(key, 'unknown record version')
  for (const field of ['id', 'service', 'account', 'accessToken', 'tokenType'] as const) {
    if (!isStr(r[field]) || r[field].length === 0) throw corrupt(key, `field ${field}`)
  }
  if (r.refreshToken !== null && (!isStr(r.refreshToken) || r.refreshToken.length === 0))
    throw corrupt(key, 'field refreshToken')
  if (!Array.isArray(r.scopes) || !r.scopes.every((s) => isStr(s) && s.length > 0))
    throw corrupt(key, 'field scopes')
  if (!isInt(r.issuedAt)) throw corrupt(key, 'field issuedAt')
  if (r.expiresAt !== null && !isInt(r.expiresAt)) throw corrupt(key, 'field expiresAt')
  if (r.expiry !== 'server' && r.expiry !== 'inferred' && r.expiry !== 'none')
    throw corrupt(key, 'field expiry')
  if ((r.expiry === 'none') !== (r.expiresAt === null)) throw corrupt(key, 'field expiresAt')
  if (!isInt(r.generation) || r.generation < 1) throw corrupt(key, 'field generation')
  if (r.state !== 'valid' && r.state !== 'degraded' && r.state !== 'reauth_required')
    throw corrupt(key, 'field state')
  if (!isInt(r.failures) || r.failures < 0) throw corrupt(key, 'field failures')
  if (r.retryAt !== null && !isInt(r.retryAt)) throw corrupt(key, 'field retryAt')
  if (r.lastError !== null && !isStr(r.lastError)) throw corrupt(key, 'field lastError')
  return {
    v: 1,
    id: r.id as string,
    service: r.service as string,
    account: r.account as string,
    accessToken: r.accessToken as string,
    refreshToken: r.refreshToken as string | null,
    tokenType: r.tokenType as string,
    scopes: r.scopes as string[],
    issuedAt: r.issuedAt,
    expiresAt: r.expiresAt as number | null,
    expiry: r.expiry,
    generation: r.generation,
    state: r.state,
    failures: r.failures,
    retryAt: r.retryAt as number | null,
    lastError: r.lastError as string | null,
  }
}
