import { KeywardError, type TokenSet } from '@keyward/core'
import * as oauth from 'oauth4webapi'
import {
  KEYWARD_OAUTH_ACCESS_DENIED,
  KEYWARD_OAUTH_DISCOVERY_FAILED,
  KEYWARD_OAUTH_ERROR_RESPONSE,
  KEYWARD_OAUTH_STATE_MISMATCH,
  KEYWARD_OAUTH_UNSUPPORTED,
} from './errors.js'
import type { Provider } from './provider.js'
import { safeFetch } from './safe-fetch.js'
import { _errorCode, _parseTokenResponse } from './tokens.js'

/** The OAuth client registered with a provider. */
export interface OAuthClient {
  clientId: string
  /** Absent for public clients (native apps, CLIs), which then rely on PKCE. */
  clientSecret?: string
}

/** Options every network call of this package takes. */
export interface RequestOptions {
  /** Cancels the call. */
  signal?: AbortSignal
  /** Time limit per HTTP exchange, in ms. Default 10 s. */
  timeoutMs?: number
}

/** The fetch every request to a provider goes through; `safeFetch` unless a test injects one. */
export type _Fetcher = (url: string, init: RequestInit) => Promise<Response>

/** The pieces oauth4webapi needs, resolved for one provider and client. */
export interface _Context {
  provider: Provider
  as: oauth.AuthorizationServer
  client: oauth.Client
  auth: oauth.ClientAuth
  options: oauth.HttpRequestOptions<'POST', URLSearchParams>
  /** The provider-wrapped fetcher, for requests oauth4webapi does not make (account lookup). */
  fetch: _Fetcher
}

const discovered = new WeakMap<Provider, Promise<oauth.AuthorizationServer>>()

/** The default fetcher: `safeFetch` with the provider's loopback allowance. */
export function _defaultFetcher(provider: Provider, timeoutMs?: number): _Fetcher {
  return (url, init) =>
    safeFetch(url, init, {
      allowLoopbackHttp: provider.allowLoopbackHttp,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    })
}

/** Wraps a fetcher with the provider's headers and body format. */
function _providerFetch(provider: Provider, fetcher: _Fetcher): _Fetcher {
  return (url, init) => {
    const headers = new Headers(init.headers)
    for (const [name, value] of Object.entries(provider.headers ?? {})) headers.set(name, value)
    let body = init.body
    if (provider.bodyFormat === 'json' && body instanceof URLSearchParams) {
      body = JSON.stringify(Object.fromEntries(body))
      headers.set('content-type', 'application/json')
    }
    return fetcher(url, { ...init, headers, body })
  }
}

function _static(provider: Provider): oauth.AuthorizationServer {
  const base = provider.authorizeUrl ?? provider.tokenUrl ?? provider.issuer ?? ''
  return {
    issuer: provider.issuer ?? new URL(base).origin,
    ...(provider.authorizeUrl ? { authorization_endpoint: provider.authorizeUrl } : {}),
    ...(provider.tokenUrl ? { token_endpoint: provider.tokenUrl } : {}),
    ...(provider.revokeUrl ? { revocation_endpoint: provider.revokeUrl } : {}),
    ...(provider.deviceAuthorizationUrl
      ? { device_authorization_endpoint: provider.deviceAuthorizationUrl }
      : {}),
    ...(provider.accountUrl ? { userinfo_endpoint: provider.accountUrl } : {}),
  }
}

async function _discover(
  provider: Provider,
  fetcher: _Fetcher,
): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(provider.issuer as string)
  try {
    const response = await oauth.discoveryRequest(issuer, {
      [oauth.customFetch]: fetcher,
      [oauth.allowInsecureRequests]: provider.allowLoopbackHttp,
    })
    const metadata = await oauth.processDiscoveryResponse(issuer, response)
    return { ...metadata, ..._static(provider), issuer: metadata.issuer }
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    throw new KeywardError(
      KEYWARD_OAUTH_DISCOVERY_FAILED,
      `${provider.id}: OIDC discovery at ${issuer.origin} failed`,
      { cause: error, details: { provider: provider.id, issuer: issuer.href } },
    )
  }
}

/** Resolves the authorization server (discovered once per provider object) and the client. */
export async function _context(
  provider: Provider,
  client: OAuthClient,
  request: RequestOptions = {},
  fetcher: _Fetcher = _defaultFetcher(provider, request.timeoutMs),
): Promise<_Context> {
  if (typeof client?.clientId !== 'string' || client.clientId === '') {
    throw new KeywardError(
      'KEYWARD_INVALID_ARGUMENT',
      'option `client.clientId` must be a non-empty string',
    )
  }
  const wrapped = _providerFetch(provider, fetcher)
  let as: oauth.AuthorizationServer
  if (provider.issuer === undefined) {
    as = _static(provider)
  } else {
    let pending = discovered.get(provider)
    if (pending === undefined) {
      pending = _discover(provider, wrapped)
      discovered.set(provider, pending)
      pending.catch(() => discovered.delete(provider))
    }
    as = await pending
  }
  const method = provider.clientAuth ?? (client.clientSecret ? 'client_secret_basic' : 'none')
  const secret = client.clientSecret
  const auth =
    method === 'none' || secret === undefined
      ? oauth.None()
      : method === 'client_secret_post'
        ? oauth.ClientSecretPost(secret)
        : oauth.ClientSecretBasic(secret)
  return {
    provider,
    as,
    fetch: wrapped,
    client: { client_id: client.clientId },
    auth,
    options: {
      [oauth.customFetch]: wrapped,
      [oauth.allowInsecureRequests]: provider.allowLoopbackHttp,
      ...(request.signal ? { signal: request.signal } : {}),
    },
  }
}

/** Throws `KEYWARD_OAUTH_UNSUPPORTED` when the server lacks an endpoint. */
export function _need(
  ctx: _Context,
  endpoint: keyof oauth.AuthorizationServer,
  what: string,
): string {
  const value = ctx.as[endpoint]
  if (typeof value !== 'string') {
    throw new KeywardError(
      KEYWARD_OAUTH_UNSUPPORTED,
      `${ctx.provider.id}: the provider has no ${what} endpoint`,
      {
        details: { provider: ctx.provider.id, endpoint },
      },
    )
  }
  return value
}

/** Maps an oauth4webapi request failure (bad endpoint URL, aborted) to a KeywardError. */
export async function _send(
  ctx: _Context,
  what: string,
  request: () => Promise<Response>,
): Promise<Response> {
  try {
    return await request()
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    throw new KeywardError(
      KEYWARD_OAUTH_ERROR_RESPONSE,
      `${ctx.provider.id}: the ${what} could not be sent`,
      {
        cause: error instanceof Error ? new Error(error.name) : undefined,
        details: { provider: ctx.provider.id },
      },
    )
  }
}

/** Joins scopes the way the provider's authorize endpoint wants them. */
export function _joinScopes(provider: Provider, scopes: readonly string[]): string {
  return scopes.join(provider.scopeSeparator)
}

/** Parameters of one authorization request. */
export interface _AuthorizeRequest {
  redirectUri: string
  scopes: readonly string[]
  state: string
  codeChallenge?: string
  extraParams?: Record<string, string>
}

/** Builds the authorize URL: response_type, client_id, redirect_uri, scope, state, PKCE, extra params. */
export function _authorizationUrl(ctx: _Context, request: _AuthorizeRequest): URL {
  const url = new URL(_need(ctx, 'authorization_endpoint', 'authorization'))
  const p = url.searchParams
  p.set('response_type', 'code')
  p.set('client_id', ctx.client.client_id)
  p.set('redirect_uri', request.redirectUri)
  if (request.scopes.length > 0)
    p.set(ctx.provider.quirks.scopeParam ?? 'scope', _joinScopes(ctx.provider, request.scopes))
  p.set('state', request.state)
  if (request.codeChallenge !== undefined) {
    p.set('code_challenge', request.codeChallenge)
    p.set('code_challenge_method', 'S256')
  }
  for (const [k, v] of Object.entries({ ...ctx.provider.authorizeParams, ...request.extraParams }))
    p.set(k, v)
  return url
}

/**
 * Validates the redirect's parameters (state first, then `iss` and the OAuth error through
 * oauth4webapi) and exchanges the code for tokens.
 */
export async function _exchangeCode(
  ctx: _Context,
  redirect: URL | URLSearchParams,
  expected: {
    state: string
    redirectUri: string
    codeVerifier?: string
    scopes: readonly string[]
  },
): Promise<TokenSet> {
  const params = redirect instanceof URL ? redirect.searchParams : redirect
  if (params.get('state') !== expected.state) {
    throw new KeywardError(
      KEYWARD_OAUTH_STATE_MISMATCH,
      `${ctx.provider.id}: the redirect's state does not match this login; start again`,
      {
        details: { provider: ctx.provider.id },
      },
    )
  }
  let callback: URLSearchParams
  try {
    callback = oauth.validateAuthResponse(ctx.as, ctx.client, params, expected.state)
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      const code = _errorCode(error.error) ?? 'unrecognized_error'
      throw new KeywardError(
        code === 'access_denied' ? KEYWARD_OAUTH_ACCESS_DENIED : KEYWARD_OAUTH_ERROR_RESPONSE,
        code === 'access_denied'
          ? `${ctx.provider.id}: the authorization was denied`
          : `${ctx.provider.id}: the authorization failed (${code})`,
        { details: { provider: ctx.provider.id, error: code } },
      )
    }
    throw new KeywardError(
      KEYWARD_OAUTH_ERROR_RESPONSE,
      `${ctx.provider.id}: the authorization response is invalid`,
      {
        details: { provider: ctx.provider.id },
      },
    )
  }
  const response = await _send(ctx, 'token request', () =>
    oauth.authorizationCodeGrantRequest(
      ctx.as,
      ctx.client,
      ctx.auth,
      callback,
      expected.redirectUri,
      expected.codeVerifier ?? oauth.nopkce,
      {
        ...ctx.options,
        ...(ctx.provider.tokenParams ? { additionalParameters: ctx.provider.tokenParams } : {}),
      },
    ),
  )
  return _parseTokenResponse(ctx.provider, response, expected.scopes)
}
