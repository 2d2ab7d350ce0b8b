import type { TokenSet } from '@keyward/authstore'
import { KeywardError } from '@keyward/core'
import * as oauth from 'oauth4webapi'
import {
  KEYWARD_OAUTH_ACCESS_DENIED,
  KEYWARD_OAUTH_ERROR_RESPONSE,
  KEYWARD_OAUTH_STATE_MISMATCH,
} from '../errors.js'
import { type ClientContext, joinScopes, need, send } from './server.js'
import { errorCode, parseTokenResponse } from './tokens.js'

/** Parameters of one authorization request. */
export interface AuthorizeRequest {
  redirectUri: string
  scopes: readonly string[]
  state: string
  codeChallenge?: string | undefined
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
  for (const [k, v] of Object.entries({ ...ctx.provider.authorizeParams, ...request.extraParams }))
    p.set(k, v)
  return url
}

/** What the redirect is checked against and the code exchanged with. */
export interface ExpectedRedirect {
  state: string
  redirectUri: string
  codeVerifier?: string | undefined
  scopes: readonly string[]
}

/** Whether a redirect's parameters carry the state this sign-in sent. */
export function stateMatches(params: URLSearchParams, state: string): boolean {
  return params.get('state') === state
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
  if (!stateMatches(params, expected.state)) {
    throw new KeywardError(
      KEYWARD_OAUTH_STATE_MISMATCH,
      `${ctx.provider.id}: the redirect's state does not match this login; start again`,
      { details: { provider: ctx.provider.id } },
    )
  }
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
    throw new KeywardError(
      KEYWARD_OAUTH_ERROR_RESPONSE,
      `${ctx.provider.id}: the authorization response is invalid`,
      { details: { provider: ctx.provider.id } },
    )
  }
  const response = await send(ctx, 'token request', () =>
    oauth.authorizationCodeGrantRequest(
      ctx.as,
      ctx.client,
      ctx.auth,
      callback,
      expected.redirectUri,
      expected.codeVerifier ?? oauth.nopkce,
      {
        ...ctx.http,
        ...(ctx.provider.tokenParams ? { additionalParameters: ctx.provider.tokenParams } : {}),
      },
    ),
  )
  return parseTokenResponse(ctx.provider, response, expected.scopes)
}
