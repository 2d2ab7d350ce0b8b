import { assertOptions, type TokenSet } from '@keyward/core'
import { beginAuthorization, checkState, completeAuthorization } from './internal/authorize.js'
import { invalidOption, LOOPBACK_HOST, optionUrl } from './internal/option-url.js'
import { requestedScopes } from './internal/scopes.js'
import { REQUEST_CHECKS, resolveClient } from './internal/server.js'
import type { OAuthClient, RequestOptions } from './protocol.js'
import type { Provider } from './provider.js'

/** Options of {@link authorizationUrl}. */
export interface AuthorizationUrlOptions extends RequestOptions {
  /**
   * Where the provider sends the user back: the host's own callback — `https://app.example/…`,
   * a loopback `http://127.0.0.1:…/…`, or a private-use scheme such as `myapp://callback` for
   * desktop hosts. It must be registered with the provider.
   */
  redirectUri: string
  /** Scopes to ask for; default the provider's `scopes`. */
  scopes?: readonly string[] | undefined
  /** Add the provider's `upgradeScopes` (incremental authorization). */
  upgrade?: boolean | undefined
  /** Scopes the user already granted, asked for again so the new token keeps them. */
  grantedScopes?: readonly string[] | undefined
  /**
   * Extra authorization parameters (`login_hint`, `prompt`, `hd`…). The parameters keyward sets
   * itself (`state`, `nonce`, PKCE, `redirect_uri`, `client_id`, `response_type`, `scope`)
   * cannot be overridden.
   */
  extraParams?: Readonly<Record<string, string>> | undefined
}

/**
 * A started sign-in. Keep `state`, `codeVerifier` and `nonce` on the server, bound to the
 * user's session, single use; send the user to `url`.
 */
export interface AuthorizationRequest {
  /** The provider's authorization URL to redirect the user to. */
  url: string
  /** The `state` the callback must carry. */
  state: string
  /** The PKCE code verifier the code is exchanged with (sent only as its S256 challenge). */
  codeVerifier: string
  /** Present when `openid` was asked for: the ID token must carry it. */
  nonce?: string
  /** Every scope asked for. */
  scopes: string[]
}

/** Options of {@link exchangeCode}. */
export interface ExchangeCodeOptions extends RequestOptions {
  /** The URL the provider redirected the user to (the whole callback request URL, query included). */
  callbackUrl: string | URL
  /** From {@link authorizationUrl}'s result. */
  state: string
  /** From {@link authorizationUrl}'s result. */
  codeVerifier: string
  /** The same `redirectUri` the authorization URL was built with. */
  redirectUri: string
  /** From {@link authorizationUrl}'s result, when it had one (an OpenID sign-in). */
  nonce?: string | undefined
  /** The scopes asked for (`result.scopes`): what the token holds when the provider names none. */
  scopes?: readonly string[] | undefined
}

const RESERVED = new Set([
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'redirect_uri',
  'client_id',
  'response_type',
  'scope',
])
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:'])

/** Checks a redirect URI: https, loopback http, or a private-use scheme; never a fragment. */
function checkRedirectUri(value: string): string {
  const url = optionUrl(value, 'redirectUri')
  if (FORBIDDEN_SCHEMES.has(url.protocol))
    throw invalidOption('redirectUri', `must not use the ${url.protocol} scheme`)
  if (url.protocol === 'http:' && !LOOPBACK_HOST.test(url.hostname))
    throw invalidOption('redirectUri', 'must be https (plain http only to a loopback address)')
  if (url.href.includes('#')) throw invalidOption('redirectUri', 'must not have a fragment')
  if (url.username !== '' || url.password !== '')
    throw invalidOption('redirectUri', 'must not carry credentials')
  return value
}

/**
 * Starts a server-side sign-in (authorization code with PKCE) for a web app or a host that owns
 * its redirect: builds the provider's authorization URL — presets and quirks applied, a fresh
 * `state`, an S256 PKCE challenge, and a `nonce` whenever `openid` is asked for — and returns
 * what {@link exchangeCode} needs to check the callback. The loopback browser sign-in is built
 * on the same steps.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1 (authorization code)
 * @see https://www.rfc-editor.org/rfc/rfc7636 (PKCE)
 * @example
 * ```ts
 * import { authorizationUrl, presets } from '@keyward/oauth'
 *
 * const started = await authorizationUrl(presets.google(), { clientId: 'web.apps.googleusercontent.com' }, {
 *   redirectUri: 'https://app.example/oauth/callback',
 *   scopes: ['openid', 'email'],
 * })
 * // keep started.state, started.codeVerifier and started.nonce in the user's session,
 * // then redirect the user to started.url
 * ```
 */
export async function authorizationUrl(
  provider: Provider,
  client: OAuthClient,
  options: AuthorizationUrlOptions,
): Promise<AuthorizationRequest> {
  assertOptions(options, 'authorizationUrl', {
    ...REQUEST_CHECKS,
    redirectUri: { kind: 'string', required: true },
    upgrade: 'boolean',
    extraParams: 'object',
  })
  const redirectUri = checkRedirectUri(options.redirectUri)
  const extraParams = options.extraParams ?? {}
  for (const key of Object.keys(extraParams)) {
    if (RESERVED.has(key))
      throw invalidOption(`extraParams.${key}`, 'is set by keyward and cannot be overridden')
    if (typeof extraParams[key] !== 'string')
      throw invalidOption(`extraParams.${key}`, 'must be a string')
  }
  const ctx = await resolveClient(provider, client, options)
  const scopes = requestedScopes(provider, options)
  const started = await beginAuthorization(ctx, { redirectUri, scopes, extraParams })
  return {
    url: started.url.href,
    state: started.state,
    codeVerifier: started.codeVerifier,
    ...(started.nonce === undefined ? {} : { nonce: started.nonce }),
    scopes,
  }
}

/**
 * Completes a server-side sign-in: checks the callback's `state` (first, before anything is
 * sent), its `iss` (RFC 9207, where the provider supports it) and its OAuth error, exchanges the
 * code with the PKCE verifier, and checks the ID token's `nonce` (and issuer, audience, expiry)
 * when one comes back. Returns the AuthStore's `TokenSet`.
 *
 * Failures: `KEYWARD_OAUTH_STATE_MISMATCH` (another sign-in's callback, or a forged one),
 * `KEYWARD_OAUTH_ACCESS_DENIED`, `KEYWARD_OAUTH_ERROR_RESPONSE` (with `details.error`, or
 * `details.check: 'iss'` for a mix-up), `KEYWARD_OAUTH_ID_TOKEN_INVALID`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9207 (iss)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3 (access token request)
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.5 (code verifier)
 * @example
 * ```ts
 * import { exchangeCode, presets } from '@keyward/oauth'
 *
 * async function onCallback(request: Request, session: { state: string; codeVerifier: string; nonce?: string }) {
 *   return exchangeCode(presets.google(), { clientId: 'web.apps.googleusercontent.com', clientSecret: 's3cr3t' }, {
 *     callbackUrl: request.url,
 *     redirectUri: 'https://app.example/oauth/callback',
 *     state: session.state,
 *     codeVerifier: session.codeVerifier,
 *     nonce: session.nonce,
 *   })
 * }
 * ```
 */
export async function exchangeCode(
  provider: Provider,
  client: OAuthClient,
  options: ExchangeCodeOptions,
): Promise<TokenSet> {
  assertOptions(options, 'exchangeCode', {
    ...REQUEST_CHECKS,
    redirectUri: { kind: 'string', required: true },
    state: { kind: 'non-empty string', required: true },
    codeVerifier: { kind: 'non-empty string', required: true },
    nonce: 'non-empty string',
  })
  const redirectUri = checkRedirectUri(options.redirectUri)
  const { state, codeVerifier } = options
  let callback: URL
  try {
    callback = new URL(String(options.callbackUrl))
  } catch {
    throw invalidOption('callbackUrl', 'must be an absolute URL (the whole callback request URL)')
  }
  // The state is checked before anything is sent anywhere.
  checkState(provider, callback.searchParams, state)
  const ctx = await resolveClient(provider, client, options)
  return completeAuthorization(ctx, callback, {
    state,
    redirectUri,
    codeVerifier,
    nonce: options.nonce,
    scopes: options.scopes ?? [],
  })
}
