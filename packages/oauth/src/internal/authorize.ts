import { KeywardError, type TokenSet } from '@keyward/core'
import * as oauth from 'oauth4webapi'
import {
  KEYWARD_OAUTH_ACCESS_DENIED,
  KEYWARD_OAUTH_ERROR_RESPONSE,
  KEYWARD_OAUTH_ID_TOKEN_INVALID,
  KEYWARD_OAUTH_STATE_MISMATCH,
} from '../errors.js'
import type { Provider } from '../provider.js'
import { type ClientContext, joinScopes, need, send, tokenParameters } from './server.js'
import { checkedBody, errorCode, MAX_TOKEN_LENGTH, tokenSetFrom } from './tokens.js'

/** Parameters of one authorization request. */
export interface AuthorizeRequest {
  redirectUri: string
  scopes: readonly string[]
  state: string
  codeChallenge?: string | undefined
  /** OpenID: the nonce the ID token must carry. */
  nonce?: string | undefined
  extraParams?: Readonly<Record<string, string>> | undefined
}

/** Builds the authorize URL: response_type, client_id, redirect_uri, scope, state, PKCE, extra params. */
export function authorizationRequestUrl(ctx: ClientContext, request: AuthorizeRequest): URL {
  const url = new URL(need(ctx, 'authorization_endpoint', 'authorization'))
  const p = url.searchParams
  p.set('response_type', 'code')
  p.set('client_id', ctx.client.client_id)
  p.set('redirect_uri', request.redirectUri)
  if (request.scopes.length > 0)
    p.set(ctx.provider.quirks.scopeParam ?? 'scope', joinScopes(ctx.provider, request.scopes))
  p.set('state', request.state)
  if (request.codeChallenge !== undefined) {
    p.set('code_challenge', request.codeChallenge)
    p.set('code_challenge_method', 'S256')
  }
  if (request.nonce !== undefined) p.set('nonce', request.nonce)
  for (const resource of ctx.provider.resource) p.append('resource', resource)
  for (const [k, v] of Object.entries({ ...ctx.provider.authorizeParams, ...request.extraParams }))
    p.set(k, v)
  return url
}

/** A started authorization: the URL to send the user to and what its redirect is checked against. */
export interface AuthorizationStart {
  url: URL
  state: string
  codeVerifier: string
  nonce?: string
}

/**
 * Starts an authorization: a fresh `state`, a PKCE verifier (its S256 challenge sent unless
 * the provider turns PKCE off) and, whenever `openid` is asked for, a `nonce`.
 */
export async function beginAuthorization(
  ctx: ClientContext,
  request: {
    redirectUri: string
    scopes: readonly string[]
    extraParams?: Readonly<Record<string, string>> | undefined
  },
): Promise<AuthorizationStart> {
  const state = oauth.generateRandomState()
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const codeChallenge = ctx.provider.pkce
    ? await oauth.calculatePKCECodeChallenge(codeVerifier)
    : undefined
  const nonce = request.scopes.includes('openid') ? oauth.generateRandomNonce() : undefined
  const url = authorizationRequestUrl(ctx, { ...request, state, codeChallenge, nonce })
  return { url, state, codeVerifier, ...(nonce === undefined ? {} : { nonce }) }
}

/** What the redirect is checked against and the code exchanged with. */
export interface ExpectedRedirect {
  state: string
  redirectUri: string
  codeVerifier?: string | undefined
  scopes: readonly string[]
  /** The nonce sent with an OpenID request: an ID token in the response must carry it. */
  nonce?: string | undefined
}

const ID_TOKEN_CLAIMS = new Set(['nonce', 'iss', 'aud', 'azp', 'sub', 'exp', 'iat', 'auth_time'])

/** The `iss` an unverified JWT names, for providers whose issuer keyward was not told. */
function unverifiedIssuer(jwt: string): string | undefined {
  const payload = jwt.split('.')[1]
  if (payload === undefined) return undefined
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    const iss = (claims as { iss?: unknown } | null)?.iss
    return typeof iss === 'string' ? iss : undefined
  } catch {
    return undefined
  }
}

/**
 * Validates an ID token's claims with oauth4webapi: `iss`, `aud`, `azp`, `exp`/`iat` and the
 * `nonce` this sign-in sent. The token comes straight from the token endpoint over TLS, so its
 * signature is not checked (OpenID Connect Core §3.1.3.7). A provider defined without an
 * `issuer` has no issuer to compare with: there the token's own `iss` is taken as is.
 */
async function checkIdToken(ctx: ClientContext, idToken: unknown, nonce: string): Promise<void> {
  const refuse = (check: string) =>
    new KeywardError(
      KEYWARD_OAUTH_ID_TOKEN_INVALID,
      `${ctx.provider.id}: the ID token failed validation (${check}); nothing was stored`,
      { details: { provider: ctx.provider.id, check } },
    )
  if (typeof idToken !== 'string' || idToken.length > MAX_TOKEN_LENGTH) throw refuse('format')
  const issuer = ctx.provider.issuer === undefined ? unverifiedIssuer(idToken) : ctx.as.issuer
  const as = { ...ctx.as, issuer: issuer ?? ctx.as.issuer }
  // Only the ID token is handed to oauth4webapi: the access token fields were read already,
  // with the provider's quirks.
  const response = new Response(
    JSON.stringify({ access_token: 'checked-separately', token_type: 'bearer', id_token: idToken }),
    { status: 200, headers: { 'content-type': 'application/json' } },
  )
  try {
    await oauth.processAuthorizationCodeResponse(as, ctx.client, response, {
      expectedNonce: nonce,
      requireIdToken: true,
    })
  } catch (error) {
    const claim = (error as { cause?: { claim?: unknown } } | null)?.cause?.claim
    const code = (error as { code?: unknown } | null)?.code
    throw refuse(
      typeof claim === 'string' && ID_TOKEN_CLAIMS.has(claim)
        ? claim
        : code === oauth.JWT_TIMESTAMP_CHECK
          ? 'exp'
          : 'format',
    )
  }
}

/** Whether a redirect's parameters carry the state this sign-in sent. */
export function stateMatches(params: URLSearchParams, state: string): boolean {
  return params.get('state') === state
}

/** Throws `KEYWARD_OAUTH_STATE_MISMATCH` unless the redirect carries this sign-in's state. */
export function checkState(provider: Provider, params: URLSearchParams, state: string): void {
  if (!stateMatches(params, state)) {
    throw new KeywardError(
      KEYWARD_OAUTH_STATE_MISMATCH,
      `${provider.id}: the redirect's state does not match this login; start again`,
      { details: { provider: provider.id } },
    )
  }
}

/**
 * Validates the redirect's parameters (state first, then `iss` and the OAuth error through
 * oauth4webapi) and exchanges the code for tokens.
 */
export async function completeAuthorization(
  ctx: ClientContext,
  redirect: URL | URLSearchParams,
  expected: ExpectedRedirect,
): Promise<TokenSet> {
  const params = redirect instanceof URL ? redirect.searchParams : redirect
  checkState(ctx.provider, params, expected.state)
  let callback: URLSearchParams
  try {
    callback = oauth.validateAuthResponse(ctx.as, ctx.client, params, expected.state)
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      const code = errorCode(error.error) ?? 'unrecognized_error'
      throw new KeywardError(
        code === 'access_denied' ? KEYWARD_OAUTH_ACCESS_DENIED : KEYWARD_OAUTH_ERROR_RESPONSE,
        code === 'access_denied'
          ? `${ctx.provider.id}: the authorization was denied`
          : `${ctx.provider.id}: the authorization failed (${code})`,
        { details: { provider: ctx.provider.id, error: code } },
      )
    }
    // RFC 9207: an `iss` other than this provider's is a mix-up (a response meant for another
    // authorization server); a missing one where the provider promises it is refused too.
    const sent = params.get('iss')
    const iss =
      (sent !== null && sent !== ctx.as.issuer) ||
      (sent === null && ctx.as.authorization_response_iss_parameter_supported === true)
    throw new KeywardError(
      KEYWARD_OAUTH_ERROR_RESPONSE,
      `${ctx.provider.id}: the authorization response is invalid${iss ? ' (its iss is not this provider)' : ''}`,
      { details: { provider: ctx.provider.id, ...(iss ? { check: 'iss' } : {}) } },
    )
  }
  const response = await send(ctx, 'token request', () =>
    oauth.authorizationCodeGrantRequest(
      ctx.as,
      ctx.client,
      ctx.auth,
      callback,
      expected.redirectUri,
      (ctx.provider.pkce ? expected.codeVerifier : undefined) ?? oauth.nopkce,
      {
        ...ctx.http,
        additionalParameters: tokenParameters(ctx.provider),
      },
    ),
  )
  const body = await checkedBody(ctx.provider, 'token request', response)
  const tokens = tokenSetFrom(ctx.provider, body, expected.scopes)
  if (expected.nonce !== undefined && body.id_token !== undefined)
    await checkIdToken(ctx, body.id_token, expected.nonce)
  return tokens
}
