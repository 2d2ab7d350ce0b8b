// What a record looks like from outside: its metadata (never a token), and the errors that
// refuse to hand its token out.
import type { Driver, Logger } from '@keyward/core'
import { KeywardError } from '@keyward/core'
import { AuthenticationRequiredError } from '../errors.js'
import type { TokenRecord } from '../record.js'
import type { ClearHook, TokenInfo, TokenMetadata } from '../types.js'
import type { Entry } from './entries.js'
import { describeRecord } from './names.js'

/** The metadata of `record`: never a token. */
export function toMetadata(
  record: TokenRecord,
  refreshable: boolean,
  driver: Pick<Driver, 'name' | 'durability'>,
): TokenMetadata {
  return {
    service: record.service,
    account: record.account,
    scopes: [...record.scopes],
    tokenType: record.tokenType,
    expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
    expiry: record.expiry,
    state: record.state,
    generation: record.generation,
    hasRefreshToken: record.refreshToken !== null,
    refreshable,
    failures: record.failures,
    retryAt: record.retryAt === null ? null : new Date(record.retryAt),
    lastError: record.lastError,
    backend: { name: driver.name, durability: driver.durability },
  }
}

/** What `getTokenInfo` hands out: the token, its type, the provider's expiry, scopes, account. */
export function toTokenInfo(record: TokenRecord): TokenInfo {
  return {
    accessToken: record.accessToken,
    tokenType: record.tokenType,
    expiresAt:
      record.expiry === 'server' && record.expiresAt !== null ? new Date(record.expiresAt) : null,
    scopes: [...record.scopes],
    account: record.account,
  }
}

/** Throws `reauth_required` when the provider refused the record's refresh token. */
export function assertUsable(entry: Entry): void {
  const { record } = entry
  if (record.state !== 'reauth_required') return
  throw new AuthenticationRequiredError(
    `token for ${describeRecord(record.service, record.account)} was refused by the provider${record.lastError ? ` (${record.lastError})` : ''}; sign in again`,
    {
      reason: 'reauth_required',
      service: record.service,
      account: record.account,
      cause: entry.lastFailure,
    },
  )
}

/** The `expired` error for `entry` at `now`, saying why no refresh helped. */
export function expiredError(
  entry: Entry,
  refreshable: boolean,
  now: number,
): AuthenticationRequiredError {
  const { record } = entry
  const why = !refreshable
    ? record.refreshToken === null
      ? 'no refresh token is stored'
      : `no refresher is configured for ${record.service}`
    : `refreshing failed${record.lastError ? ` (${record.lastError})` : ''}; next attempt after ${new Date(record.retryAt ?? now).toISOString()}`
  return new AuthenticationRequiredError(
    `token for ${describeRecord(record.service, record.account)} expired and ${why}`,
    {
      reason: 'expired',
      service: record.service,
      account: record.account,
      cause: entry.lastFailure,
    },
  )
}

/**
 * Runs a clear hook with the tokens `record` held. A hook that fails is logged — its name and
 * code, never its message, which may quote what it was given — and never undoes the delete.
 */
export async function runClearHook(
  hook: ClearHook,
  record: TokenRecord,
  logger: Logger,
): Promise<void> {
  const { service, account } = record
  try {
    await hook({
      service,
      account,
      tokens: {
        accessToken: record.accessToken,
        ...(record.refreshToken === null ? {} : { refreshToken: record.refreshToken }),
        tokenType: record.tokenType,
      },
    })
  } catch (error) {
    logger.warn('authstore: clear hook failed; the token was deleted locally', {
      service,
      account,
      error: error instanceof Error ? error.name : typeof error,
      code: KeywardError.isInstance(error) ? error.code : undefined,
    })
  }
}
