// Server-side sign-in (authorizationUrl / exchangeCode) for web apps and host-owned redirects,
// against a real oidc-local.provider on 127.0.0.1 whose pages are driven over HTTP (see _browser.ts).
import { KEYWARD_INVALID_ARGUMENT } from '@keyward/core'
import { expectKeywardError } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _Browser } from './_browser.js'
import { _CLIENT, _useOidc } from './_oidc.js'
import { _errorOf, _json, _recordingFetcher } from './_recording.js'
import {
  KEYWARD_OAUTH_ERROR_RESPONSE,
  KEYWARD_OAUTH_ID_TOKEN_INVALID,
  KEYWARD_OAUTH_STATE_MISMATCH,
} from './errors.js'
import { fetchAccount } from './flows.js'
import { presets } from './presets.js'
import { customFetch } from './protocol.js'
import { authorizationUrl, type ExchangeCodeOptions, exchangeCode } from './sign-in.js'

const local = _useOidc({ accountIdPath: 'sub' })
const WEB = 'https://app.example/oauth/callback'
const SCOPES = ['openid', 'offline_access', 'email']

/** Starts a sign-in and drives the provider's login and consent pages to the callback URL. */
async function signIn(redirectUri: string, scopes = SCOPES) {
  const started = await authorizationUrl(local.provider, _CLIENT, { redirectUri, scopes })
  const callbackUrl = await new _Browser().authorize(started.url)
  return { started, callbackUrl }
}

/**
 * Exchanges a {@link signIn}'s callback at the web redirect with the state, verifier and nonce
 * it started with, unless `options` says otherwise.
 */
function exchange(
  { started, callbackUrl }: Awaited<ReturnType<typeof signIn>>,
  options: Partial<ExchangeCodeOptions> = {},
) {
  return exchangeCode(local.provider, _CLIENT, {
    callbackUrl,
    redirectUri: WEB,
    state: started.state,
    codeVerifier: started.codeVerifier,
    nonce: started.nonce,
    ...options,
  })
}

describe('server-side sign-in against oidc-provider', () => {
  it('a web app: authorization URL with state, PKCE and nonce; the callback exchanged for tokens', async () => {
    const signedIn = await signIn(WEB)
    const { started, callbackUrl } = signedIn
    const url = new URL(started.url)
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: _CLIENT.clientId,
      redirect_uri: WEB,
      state: started.state,
      code_challenge_method: 'S256',
      nonce: started.nonce,
      scope: SCOPES.join(' '),
    })
    expect(url.searchParams.get('code_challenge')).not.toContain(started.codeVerifier)
    expect(started.scopes).toEqual(SCOPES)
    expect(callbackUrl.startsWith(`${WEB}?`)).toBe(true)
    expect(new URL(callbackUrl).searchParams.get('iss')).toBe(local.oidc.issuer)

    const tokens = await exchange(signedIn, { scopes: started.scopes })
    expect(tokens.refreshToken).toEqual(expect.any(String))
    expect(tokens.expiresIn).toBe(3600)
    expect(await fetchAccount(local.provider, tokens.accessToken)).toMatchObject({ id: 'alice' })
  })

  it('a host-owned redirect (myapp://callback), without openid and so without a nonce', async () => {
    const signedIn = await signIn('myapp://callback', ['offline_access', 'email'])
    const { started, callbackUrl } = signedIn
    expect(started.nonce).toBeUndefined()
    expect(new URL(started.url).searchParams.has('nonce')).toBe(false)
    expect(callbackUrl.startsWith('myapp://callback?')).toBe(true)
    const tokens = await exchange(signedIn, { redirectUri: 'myapp://callback' })
    expect(tokens.accessToken).toEqual(expect.any(String))
  })

  it('another state is refused before anything is sent: the code still works afterwards', async () => {
    const signedIn = await signIn(WEB)
    const other = await authorizationUrl(local.provider, _CLIENT, {
      redirectUri: WEB,
      scopes: SCOPES,
    })
    await expectKeywardError(
      exchange(signedIn, {
        state: other.state,
        codeVerifier: other.codeVerifier,
        nonce: undefined,
      }),
      KEYWARD_OAUTH_STATE_MISMATCH,
    )
    const tokens = await exchange(signedIn)
    expect(tokens.accessToken).toEqual(expect.any(String))
  })

  it('a callback whose iss is another server (mix-up) is refused (RFC 9207)', async () => {
    const signedIn = await signIn(WEB)
    const mixed = new URL(signedIn.callbackUrl)
    mixed.searchParams.set('iss', 'https://attacker.example')
    const error = await expectKeywardError(
      exchange(signedIn, { callbackUrl: mixed }),
      KEYWARD_OAUTH_ERROR_RESPONSE,
    )
    expect(error?.details).toMatchObject({ check: 'iss' })
  })

  it('an ID token with another nonce is refused; a wrong PKCE verifier is invalid_grant', async () => {
    const nonce = await expectKeywardError(
      exchange(await signIn(WEB), { nonce: 'the-nonce-of-another-sign-in' }),
      KEYWARD_OAUTH_ID_TOKEN_INVALID,
    )
    expect(nonce?.details).toMatchObject({ check: 'nonce' })

    const pkce = await expectKeywardError(
      exchange(await signIn(WEB), { codeVerifier: 'x'.repeat(43) }),
      KEYWARD_OAUTH_ERROR_RESPONSE,
    )
    expect(pkce?.details).toMatchObject({ status: 400, error: 'invalid_grant' })
  })

  it.each([
    'javascript:alert(1)',
    'data:text/html,x',
    'http://app.example/callback',
    'https://app.example/callback#frag',
    'https://app.example/callback#',
    'https://user:pw@app.example/callback',
    'not a url',
  ])('refuses the redirect URI %s, naming the option', async (redirectUri) => {
    const error = await _errorOf(authorizationUrl(local.provider, _CLIENT, { redirectUri }))
    expect({ redirectUri, code: error?.code }).toEqual({
      redirectUri,
      code: KEYWARD_INVALID_ARGUMENT,
    })
    expect(error?.message).toContain('`redirectUri`')
  })

  it('refuses parameters it must not send, naming the option', async () => {
    const override = await _errorOf(
      authorizationUrl(local.provider, _CLIENT, {
        redirectUri: WEB,
        extraParams: { state: 'mine' },
      }),
    )
    expect(override?.details).toMatchObject({ field: 'extraParams.state' })
    const hinted = await authorizationUrl(local.provider, _CLIENT, {
      redirectUri: WEB,
      extraParams: { login_hint: 'alice@example.test' },
    })
    expect(new URL(hinted.url).searchParams.get('login_hint')).toBe('alice@example.test')
  })
})

describe('server-side sign-in with presets and their quirks', () => {
  it('Slack: scopes as user_scope, comma-joined; user tokens read under authed_user', async () => {
    const slack = presets.slack()
    const started = await authorizationUrl(
      slack,
      { clientId: 'sl', clientSecret: 'sec' },
      {
        redirectUri: WEB,
        scopes: ['identity.basic', 'identity.email'],
      },
    )
    const url = new URL(started.url)
    expect(url.searchParams.get('user_scope')).toBe('identity.basic,identity.email')
    expect(url.searchParams.get('code_challenge_method')).toBe('S256')
    const { fetcher, seen } = _recordingFetcher([
      _json({ ok: true, authed_user: { access_token: 'xoxp-canary', scope: 'identity.basic' } }),
    ])
    const tokens = await exchangeCode(
      slack,
      { clientId: 'sl', clientSecret: 'sec' },
      {
        callbackUrl: `${WEB}?code=c&state=${started.state}`,
        redirectUri: WEB,
        state: started.state,
        codeVerifier: started.codeVerifier,
        [customFetch]: fetcher,
      },
    )
    expect(tokens).toMatchObject({ accessToken: 'xoxp-canary', scopes: ['identity.basic'] })
    expect(seen[0]?.fields).toMatchObject({
      grant_type: 'authorization_code',
      code: 'c',
      redirect_uri: WEB,
      code_verifier: started.codeVerifier,
      client_secret: 'sec',
    })
  })
})
