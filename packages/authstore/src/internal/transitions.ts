// The record's state machine as pure functions: what a record becomes after a sign-in, a
// successful refresh, a refused refresh token or a transient failure. The store does the I/O.
import { RefreshError } from '../errors.js'
import type { ExpirySource, TokenRecord } from '../record.js'
import { parseScopes } from '../scopes.js'
import type { TokenSet } from '../types.js'

const MAX_BACKOFF_MS = 60_000
/** The furthest a refresher's `retryAt` (a provider's `Retry-After`) defers the next attempt. */
const MAX_RETRY_AFTER_MS = 3600_000

export interface Expiry {
  readonly expiresAt: number | null
  readonly expiry: ExpirySource
}

/**
 * The longest lifetime a record stores (10 years): a longer `expiresIn`, or an `expiresAt`
 * further away, is clamped to it, so every expiry written is a safe integer that every reader
 * accepts (a provider's `expires_in: 1e13` once made the record unreadable to other processes).
 */
export const MAX_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000

/** `expiresAt` (epoch ms) kept between 0 and `now` + {@link MAX_LIFETIME_MS}. */
function clampExpiry(expiresAt: number, now: number): number {
  return Math.round(Math.min(Math.max(expiresAt, 0), now + MAX_LIFETIME_MS))
}

/**
 * The expiry of a token obtained at `now`: the absolute one given, else `expiresIn` seconds from
 * now, else an inferred lifetime when a refresh token exists, else none. Clamped to
 * {@link MAX_LIFETIME_MS}.
 */
export function expiryOf(
  now: number,
  expiresIn: number | undefined,
  expiresAt: number | undefined,
  hasRefreshToken: boolean,
  inferredMs: number,
): Expiry {
  if (expiresAt !== undefined) return { expiresAt: clampExpiry(expiresAt, now), expiry: 'server' }
  if (expiresIn !== undefined)
    return { expiresAt: clampExpiry(now + expiresIn * 1000, now), expiry: 'server' }
  if (hasRefreshToken) return { expiresAt: now + inferredMs, expiry: 'inferred' }
  return { expiresAt: null, expiry: 'none' }
}

/** What a sign-in (`setToken`) stores: a new grant `id`, one generation past what it replaces. */
export function signedIn(
  fields: Pick<
    TokenRecord,
    | 'id'
    | 'service'
    | 'account'
    | 'accessToken'
    | 'refreshToken'
    | 'tokenType'
    | 'scopes'
    | 'issuedAt'
  > & {
    readonly expiry: Expiry
    /** The generation of the record replaced (0 when none). */
    readonly previousGeneration: number
  },
): TokenRecord {
  return {
    v: 1,
    id: fields.id,
    service: fields.service,
    account: fields.account,
    accessToken: fields.accessToken,
    refreshToken: fields.refreshToken,
    tokenType: fields.tokenType,
    scopes: fields.scopes,
    issuedAt: fields.issuedAt,
    ...fields.expiry,
    generation: fields.previousGeneration + 1,
    state: 'valid',
    failures: 0,
    retryAt: null,
    lastError: null,
  }
}

/**
 * The record after a successful refresh at `now`; the old refresh token stays when none came.
 * An `expiresIn` of zero or less from a refresher (a token already expired, or a provider's
 * "0 = no expiry") counts as no expiry: the inferred lifetime schedules the next refresh, so
 * such a provider is not called again on every `getToken`.
 */
export function refreshed(
  record: TokenRecord,
  tokens: TokenSet,
  now: number,
  inferredMs: number,
): TokenRecord {
  const expiresIn =
    tokens.expiresIn !== undefined && tokens.expiresIn > 0 ? tokens.expiresIn : undefined
  return {
    ...record,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken ?? record.refreshToken,
    tokenType: tokens.tokenType ?? record.tokenType,
    scopes: tokens.scopes === undefined ? record.scopes : parseScopes(tokens.scopes),
    issuedAt: now,
    ...expiryOf(now, expiresIn, undefined, true, inferredMs),
    generation: record.generation + 1,
    state: 'valid',
    failures: 0,
    retryAt: null,
    lastError: null,
  }
}

/** The record after the provider refused its refresh token: sign in again. */
export function refused(record: TokenRecord, oauthError: string | null): TokenRecord {
  return {
    ...record,
    generation: record.generation + 1,
    state: 'reauth_required',
    retryAt: null,
    lastError: oauthError,
  }
}

/**
 * The record after a transient refresh failure at `now`: one more failure, and a retry when the
 * provider asked (at most an hour away), else after an exponential backoff (1 s, 2 s, 4 s…
 * ≤ 60 s).
 */
export function degraded(
  record: TokenRecord,
  failure: { readonly retryAt?: Date | undefined },
  oauthError: string | null,
  now: number,
): TokenRecord {
  const failures = record.failures + 1
  const asked = failure.retryAt?.getTime()
  const retryAt =
    asked !== undefined && Number.isFinite(asked)
      ? Math.round(Math.min(Math.max(asked, now), now + MAX_RETRY_AFTER_MS))
      : now + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1))
  return {
    ...record,
    generation: record.generation + 1,
    state: 'degraded',
    failures,
    retryAt,
    lastError: oauthError,
  }
}

/** A refresher's failure as a {@link RefreshError}; anything else counts as transient. */
export function asRefreshError(error: unknown, service: string): RefreshError {
  return RefreshError.isInstance(error)
    ? error
    : new RefreshError(`refresher for ${service} failed`, { transient: true, cause: error })
}

/** Checks what a refresher returned; a malformed token set is a transient refresh failure. */
export function checkTokenSet(tokens: unknown, service: string): asserts tokens is TokenSet {
  const bad = (field: string) =>
    new RefreshError(`refresher for ${service} returned an invalid ${field}`, { transient: true })
  if (typeof tokens !== 'object' || tokens === null) throw bad('token set')
  const t = tokens as Record<string, unknown>
  if (typeof t.accessToken !== 'string' || t.accessToken.length === 0) throw bad('accessToken')
  if (t.refreshToken !== undefined && (typeof t.refreshToken !== 'string' || t.refreshToken === ''))
    throw bad('refreshToken')
  if (
    t.expiresIn !== undefined &&
    !(typeof t.expiresIn === 'number' && Number.isFinite(t.expiresIn))
  )
    throw bad('expiresIn')
  if (t.tokenType !== undefined && (typeof t.tokenType !== 'string' || t.tokenType === ''))
    throw bad('tokenType')
  if (
    t.scopes !== undefined &&
    typeof t.scopes !== 'string' &&
    !(Array.isArray(t.scopes) && t.scopes.every((s) => typeof s === 'string'))
  )
    throw bad('scopes')
}
