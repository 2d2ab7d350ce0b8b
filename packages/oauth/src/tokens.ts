import { assertOptions, type TokenSet } from '@keyward/core'

/**
 * A token set as env-style values, for hosts that persist `Record<string, string>`
 * (`ACCESS_TOKEN`, `REFRESH_TOKEN`, `EXPIRES_AT` in epoch ms, `SCOPES`, `TOKEN_TYPE`).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1 (access token response)
 * @example
 * ```ts
 * import { tokenSetToRecord } from '@keyward/oauth'
 *
 * const env = tokenSetToRecord({ accessToken: 'gho_…', scopes: ['repo'] }, { prefix: 'GITHUB_' })
 * // { GITHUB_ACCESS_TOKEN: 'gho_…', GITHUB_SCOPES: 'repo' }
 * ```
 */
export function tokenSetToRecord(
  tokens: TokenSet,
  options: { prefix?: string | undefined; now?: number | undefined } = {},
): Record<string, string> {
  assertOptions(options, 'tokenSetToRecord', { prefix: 'string', now: 'non-negative integer' })
  const prefix = options.prefix ?? ''
  const out: Record<string, string> = { [`${prefix}ACCESS_TOKEN`]: tokens.accessToken }
  if (tokens.refreshToken !== undefined) out[`${prefix}REFRESH_TOKEN`] = tokens.refreshToken
  if (tokens.expiresIn !== undefined) {
    out[`${prefix}EXPIRES_AT`] = String((options.now ?? Date.now()) + tokens.expiresIn * 1000)
  }
  if (tokens.scopes !== undefined) {
    out[`${prefix}SCOPES`] =
      typeof tokens.scopes === 'string' ? tokens.scopes : tokens.scopes.join(' ')
  }
  if (tokens.tokenType !== undefined) out[`${prefix}TOKEN_TYPE`] = tokens.tokenType
  return out
}
