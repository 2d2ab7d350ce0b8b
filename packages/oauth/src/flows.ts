import {
  assertOptions,
  type ClearHook,
  KEYWARD_INVALID_ARGUMENT,
  KeywardError,
  RefreshError,
  type Refresher,
  type TokenSet,
} from '@keyward/core'
import * as oauth from 'oauth4webapi'
import {
  KEYWARD_FETCH_ABORTED,
  KEYWARD_OAUTH_ERROR_RESPONSE,
  KEYWARD_OAUTH_INVALID_RESPONSE,
  KEYWARD_OAUTH_UNSUPPORTED,
} from './errors.js'
import { parseJsonPath, readJsonPath } from './internal/json-path.js'
import {
  checkClient,
  joinScopes,
  need,
  REQUEST_CHECKS,
  resolveClient,
  resolveServer,
  send,
  tokenParameters,
} from './internal/server.js'
import { checkedBody, parseTokenResponse } from './internal/tokens.js'
import type { OAuthClient, RequestOptions } from './protocol.js'
import type { Provider } from './provider.js'

/** Options of {@link clientCredentials}. */
export interface ClientCredentialsOptions extends RequestOptions {
  /** Scopes to ask for; default the provider's `scopes`. */
  scopes?: readonly string[] | undefined
}

/**
 * The client credentials grant (RFC 6749 §4.4): a token for the client itself, no user.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4 (client credentials grant)
 * @example
 * ```ts
 * import { clientCredentials, defineProvider } from '@keyward/oauth'
 *
 * const provider = defineProvider({ id: 'acme', tokenUrl: 'https://login.acme.example/oauth/token' })
 * const tokens = await clientCredentials(provider, { clientId: 'svc', clientSecret: 's3cr3t' }, { scopes: ['api'] })
 * ```
 */
export async function clientCredentials(
  provider: Provider,
  client: OAuthClient,
  options: ClientCredentialsOptions = {},
): Promise<TokenSet> {
  assertOptions(options, 'clientCredentials', REQUEST_CHECKS)
  const ctx = await resolveClient(provider, client, options)
  need(ctx, 'token_endpoint', 'token')
  const scopes = options.scopes ?? provider.scopes
  const params = tokenParameters(provider) ?? new URLSearchParams()
  if (scopes.length > 0) params.set('scope', joinScopes(provider, scopes))
  const response = await send(ctx, 'client credentials request', () =>
    oauth.clientCredentialsGrantRequest(ctx.as, ctx.client, ctx.auth, params, ctx.http),
  )
  return parseTokenResponse(provider, response, scopes, 'client credentials request')
}

/** Options of {@link refreshTokens}. */
export interface RefreshTokensOptions extends RequestOptions {
  refreshToken: string
  /** The scopes the token holds; used when the provider's response names none. */
  scopes?: readonly string[] | undefined
}

/**
 * Exchanges a refresh token for new tokens. A provider that rotates refresh tokens returns a
 * new one (keep it: the old one is now spent); one that does not returns none.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6 (refreshing an access token)
 * @example
 * ```ts
 * import { defineProvider, refreshTokens } from '@keyward/oauth'
 *
 * const provider = defineProvider({ id: 'acme', tokenUrl: 'https://login.acme.example/oauth/token' })
 * const fresh = await refreshTokens(provider, { clientId: 'cli' }, { refreshToken: 'rt_…' })
 * ```
 */
export async function refreshTokens(
  provider: Provider,
  client: OAuthClient,
  options: RefreshTokensOptions,
): Promise<TokenSet> {
  assertOptions(options, 'refreshTokens', {
    ...REQUEST_CHECKS,
    refreshToken: { kind: 'non-empty string', required: true },
  })
  const ctx = await resolveClient(provider, client, options)
  need(ctx, 'token_endpoint', 'token')
  const response = await send(ctx, 'refresh request', () =>
    oauth.refreshTokenGrantRequest(ctx.as, ctx.client, ctx.auth, options.refreshToken, {
      ...ctx.http,
      additionalParameters: tokenParameters(provider),
    }),
  )
  return parseTokenResponse(provider, response, options.scopes ?? [], 'refresh request')
}

const PERMANENT = new Set([
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'unsupported_grant_type',
])

/** Classifies a refresh failure for the AuthStore: provider refusals are permanent, the rest transient. */
export function toRefreshError(error: unknown): RefreshError {
  if (KeywardError.isInstance(error) && error.code === KEYWARD_OAUTH_ERROR_RESPONSE) {
    const status = Number(error.details.status)
    const oauthError = typeof error.details.error === 'string' ? error.details.error : undefined
    // Validated and capped where the header was read (internal/time.ts).
    const retryAfter = error.details.retryAfter
    const transient =
      !(oauthError !== undefined && PERMANENT.has(oauthError)) &&
      (status >= 500 ||
        status === 429 ||
        status === 408 ||
        oauthError === 'temporarily_unavailable' ||
        oauthError === 'slow_down')
    return new RefreshError(error.message, {
      transient,
      ...(oauthError === undefined ? {} : { oauthError }),
      ...(typeof retryAfter === 'number' && retryAfter > 0
        ? { retryAt: new Date(Date.now() + retryAfter * 1000) }
        : {}),
      cause: error,
    })
  }
  const message = KeywardError.isInstance(error) ? error.message : 'the refresh request failed'
  return new RefreshError(message, {
    transient: true,
    cause: KeywardError.isInstance(error) ? error : undefined,
  })
}

/**
 * An AuthStore `Refresher` for a provider: refreshes through {@link refreshTokens} and
 * classifies failures — `invalid_grant`, `invalid_client`, `unauthorized_client` (and other
 * 4xx refusals) are permanent (the user signs in again); network errors, timeouts, 5xx and
 * 429 are transient (the store keeps serving the unexpired token and retries).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6 (refreshing an access token)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2 (error response)
 * @example
 * ```ts
 * import { AuthStore } from '@keyward/authstore'
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 * import { oauthRefresher, presets } from '@keyward/oauth'
 *
 * const google = presets.google()
 * const store = new AuthStore({
 *   driver: memoryDriver(),
 *   refreshers: { google: oauthRefresher(google, { clientId: 'cli.apps.googleusercontent.com' }) },
 * })
 * ```
 */
export function oauthRefresher(
  provider: Provider,
  client: OAuthClient,
  options: RequestOptions = {},
): Refresher {
  checkClient(client)
  assertOptions(options, 'oauthRefresher', REQUEST_CHECKS)
  return async ({ refreshToken, scopes }: { refreshToken: string; scopes: string[] }) => {
    try {
      return await refreshTokens(provider, client, { ...options, refreshToken, scopes })
    } catch (error) {
      throw toRefreshError(error)
    }
  }
}

/** Options of {@link revokeToken}. */
export interface RevokeTokenOptions extends RequestOptions {
  token: string
  tokenTypeHint?: 'access_token' | 'refresh_token' | undefined
}

/**
 * Revokes a token (RFC 7009). Use it on logout, best effort: a failure means the token stays
 * valid at the provider until it expires, so report it but still delete it locally.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009 (token revocation)
 * @example
 * ```ts
 * import { presets, revokeToken } from '@keyward/oauth'
 *
 * await revokeToken(presets.google(), { clientId: 'cli' }, { token: 'rt_…', tokenTypeHint: 'refresh_token' })
 *   .catch(() => {}) // best effort
 * ```
 */
export async function revokeToken(
  provider: Provider,
  client: OAuthClient,
  options: RevokeTokenOptions,
): Promise<void> {
  assertOptions(options, 'revokeToken', {
    ...REQUEST_CHECKS,
    token: { kind: 'non-empty string', required: true },
    tokenTypeHint: 'string',
  })
  const ctx = await resolveClient(provider, client, options)
  need(ctx, 'revocation_endpoint', 'revocation')
  const response = await send(ctx, 'revocation request', () =>
    oauth.revocationRequest(ctx.as, ctx.client, ctx.auth, options.token, {
      ...ctx.http,
      ...(options.tokenTypeHint
        ? { additionalParameters: { token_type_hint: options.tokenTypeHint } }
        : {}),
    }),
  )
  if (response.status < 200 || response.status >= 300)
    await checkedBody(provider, 'revocation request', response)
}

/**
 * An AuthStore `onClear` hook that revokes, best effort, the tokens `clearToken` just deleted:
 * the refresh token first (which, per RFC 7009, also ends the access tokens of its grant at most
 * providers), then the access token. The store has already deleted them locally; if a
 * revocation fails (no revocation endpoint, network, provider error) the hook throws a
 * `KeywardError` naming which token stayed valid, which the store logs without undoing the
 * delete. Tokens never appear in that error.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009 (token revocation)
 * @example
 * ```ts
 * import { AuthStore } from '@keyward/authstore'
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 * import { oauthRefresher, presets, revokeOnClear } from '@keyward/oauth'
 *
 * const google = presets.google()
 * const client = { clientId: 'cli.apps.googleusercontent.com' }
 * const store = new AuthStore({
 *   driver: memoryDriver(),
 *   refreshers: { google: oauthRefresher(google, client) },
 *   onClear: { google: revokeOnClear(google, client) },
 * })
 * await store.clearToken('google') // deleted here, then revoked at Google
 * ```
 */
export function revokeOnClear(
  provider: Provider,
  client: OAuthClient,
  options: RequestOptions = {},
): ClearHook {
  checkClient(client)
  assertOptions(options, 'revokeOnClear', REQUEST_CHECKS)
  return async ({ tokens }) => {
    const failed: string[] = []
    let first: KeywardError | undefined
    const pairs = [
      [tokens.refreshToken, 'refresh_token'],
      [tokens.accessToken, 'access_token'],
    ] as const
    for (const [token, tokenTypeHint] of pairs) {
      if (token === undefined) continue
      try {
        await revokeToken(provider, client, { ...options, token, tokenTypeHint })
      } catch (error) {
        const wrapped = KeywardError.isInstance(error)
          ? error
          : new KeywardError(KEYWARD_OAUTH_ERROR_RESPONSE, `${provider.id}: revocation failed`)
        first ??= wrapped
        failed.push(tokenTypeHint)
        // Without a revocation endpoint the second attempt cannot fare better.
        if (wrapped.code === KEYWARD_OAUTH_UNSUPPORTED) {
          if (tokenTypeHint === 'refresh_token') failed.push('access_token')
          break
        }
      }
    }
    if (first === undefined) return
    throw new KeywardError(
      first.code,
      `${provider.id}: could not revoke the ${failed.join(' and ')} (${first.message}); it stays valid at the provider until it expires`,
      { cause: first, details: { provider: provider.id, failed, ...first.details } },
    )
  }
}

/** The account a token belongs to, read through the provider's JSON paths. */
export interface Account {
  id: string
  email?: string
  name?: string
}

/**
 * Looks up the account an access token belongs to at the provider's `accountUrl` (or the
 * OIDC userinfo endpoint) and reads `id`, `email` and `name` through the provider's JSON paths.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#UserInfo (OpenID Connect UserInfo)
 * @example
 * ```ts
 * import { fetchAccount, presets } from '@keyward/oauth'
 *
 * const account = await fetchAccount(presets.github(), 'gho_…')
 * account.id // '583231'
 * ```
 */
export async function fetchAccount(
  provider: Provider,
  accessToken: string,
  options: RequestOptions = {},
): Promise<Account> {
  assertOptions(options, 'fetchAccount', REQUEST_CHECKS)
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'argument `accessToken` must be a non-empty string',
    )
  }
  // No client: the account lookup authenticates with the access token alone.
  const ctx = await resolveServer(provider, options)
  const url = need(ctx, 'userinfo_endpoint', 'account')
  if (provider.accountIdPath === undefined && provider.issuer === undefined) {
    throw new KeywardError(
      KEYWARD_OAUTH_UNSUPPORTED,
      `${provider.id}: the provider has no accountIdPath`,
      { details: { provider: provider.id } },
    )
  }
  let response: Response
  try {
    response = await ctx.fetch(url, {
      method: 'GET',
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      ...(options.signal ? { signal: options.signal } : {}),
    })
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    throw new KeywardError(KEYWARD_FETCH_ABORTED, `${provider.id}: the account request failed`)
  }
  const body = await checkedBody(provider, 'account request', response)
  const read = (path: string | undefined, fallback: string): unknown => {
    const parsed = parseJsonPath(path ?? fallback)
    return parsed === undefined ? undefined : readJsonPath(body, parsed)
  }
  const id = read(provider.accountIdPath, 'sub')
  if (!((typeof id === 'string' && id !== '') || (typeof id === 'number' && Number.isFinite(id)))) {
    throw new KeywardError(
      KEYWARD_OAUTH_INVALID_RESPONSE,
      `${provider.id}: the account response has no id at \`${provider.accountIdPath ?? 'sub'}\``,
      { details: { provider: provider.id, field: provider.accountIdPath ?? 'sub' } },
    )
  }
  const email = read(provider.accountEmailPath, 'email')
  const name = read(provider.accountNamePath, 'name')
  return {
    id: String(id),
    ...(typeof email === 'string' && email !== '' ? { email } : {}),
    ...(typeof name === 'string' && name !== '' ? { name } : {}),
  }
}
