import { parseScopes } from '../scopes.js'
import type { SetTokenInput } from '../types.js'
import { checkOptionalName, invalid } from './names.js'

/** A {@link SetTokenInput} after its checks: absolute expiry in epoch ms, scopes parsed. */
export interface CheckedTokenInput {
  readonly accessToken: string
  readonly refreshToken: string | undefined
  readonly expiresIn: number | undefined
  readonly expiresAt: number | undefined
  readonly tokenType: string | undefined
  readonly account: string | undefined
  readonly scopes: string[]
}

/** Checks what `setToken` was given, naming the field at fault (never its value). */
export function checkTokenInput(input: SetTokenInput): CheckedTokenInput {
  if (typeof input !== 'object' || input === null) throw invalid('token must be an object')
  const { accessToken, refreshToken, expiresIn, expiresAt, tokenType, account } = input
  if (typeof accessToken !== 'string' || accessToken.length === 0)
    throw invalid('token field `accessToken` must be a non-empty string')
  if (refreshToken !== undefined && (typeof refreshToken !== 'string' || refreshToken === ''))
    throw invalid('token field `refreshToken` must be a non-empty string when given')
  if (expiresIn !== undefined && expiresAt !== undefined)
    throw invalid('give token field `expiresIn` or `expiresAt`, not both')
  if (expiresIn !== undefined && !(typeof expiresIn === 'number' && Number.isFinite(expiresIn)))
    throw invalid('token field `expiresIn` must be a finite number of seconds')
  let absolute: number | undefined
  if (expiresAt !== undefined) {
    absolute = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt
    if (typeof absolute !== 'number' || !Number.isFinite(absolute))
      throw invalid('token field `expiresAt` must be a valid Date or epoch milliseconds')
  }
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType === ''))
    throw invalid('token field `tokenType` must be a non-empty string when given')
  checkOptionalName(account, 'token field `account`')
  if (input.keepRefreshToken !== undefined && typeof input.keepRefreshToken !== 'boolean')
    throw invalid('token field `keepRefreshToken` must be a boolean when given')
  return {
    accessToken,
    refreshToken,
    expiresIn,
    expiresAt: absolute,
    tokenType,
    account,
    scopes: parseScopes(input.scopes, 'scopes'),
  }
}
