import type { AuthStore } from '@keyward/authstore'
import type { KEYWARD_INVALID_ARGUMENT, Refresher, TokenSet, TokenStore } from '@keyward/core'
import { describe, expectTypeOf, it } from 'vitest'
import {
  type Account,
  type AuthorizationRequest,
  authorizationUrl,
  type CustomFetch,
  clientCredentials,
  createIntegrations,
  customFetch,
  type DeviceCodePrompt,
  exchangeCode,
  fetchAccount,
  type IntegrationStatus,
  type Integrations,
  type LoginOptions,
  type LoginTokens,
  login,
  loginWithBrowser,
  loginWithDeviceCode,
  type OAuthErrorCode,
  oauthRefresher,
  type Provider,
  presets,
  type RequestOptions,
  refreshTokens,
  revokeToken,
} from './index.js'

const provider = presets.github()
const client = { clientId: 'Iv1.abc' }

describe('public API types', () => {
  it('infers what each flow returns', () => {
    expectTypeOf(presets.github).returns.toEqualTypeOf<Provider>()
    expectTypeOf(login(provider, client)).toEqualTypeOf<Promise<LoginTokens>>()
    expectTypeOf(loginWithBrowser(provider, client)).toEqualTypeOf<Promise<LoginTokens>>()
    expectTypeOf(loginWithDeviceCode(provider, client, { onCode: () => {} })).toEqualTypeOf<
      Promise<LoginTokens>
    >()
    expectTypeOf(clientCredentials(provider, client)).toEqualTypeOf<Promise<TokenSet>>()
    expectTypeOf(refreshTokens(provider, client, { refreshToken: 'r' })).toEqualTypeOf<
      Promise<TokenSet>
    >()
    expectTypeOf(revokeToken(provider, client, { token: 't' })).toEqualTypeOf<Promise<void>>()
    expectTypeOf(fetchAccount(provider, 'at')).toEqualTypeOf<Promise<Account>>()
    expectTypeOf(oauthRefresher(provider, client)).toEqualTypeOf<Refresher>()
    expectTypeOf<LoginTokens>().toMatchTypeOf<TokenSet>()
  })

  it('takes the transport as a symbol-keyed option, never as a fourth argument', () => {
    const recorded: CustomFetch = async () => new Response('{}')
    expectTypeOf<RequestOptions[typeof customFetch]>().toEqualTypeOf<CustomFetch | undefined>()
    void refreshTokens(provider, client, { refreshToken: 'r', [customFetch]: recorded })
    void login(provider, client, { [customFetch]: recorded })
    // @ts-expect-error the transport is an option, not a positional argument
    void fetchAccount(provider, 'at', {}, recorded)
    expectTypeOf(login).parameters.toEqualTypeOf<
      [Provider, { clientId: string; clientSecret?: string | undefined }, LoginOptions?]
    >()
  })

  it('passes the device prompt typed', () => {
    void loginWithDeviceCode(provider, client, {
      onCode: (prompt) => {
        expectTypeOf(prompt).toEqualTypeOf<DeviceCodePrompt>()
        expectTypeOf(prompt.verificationUri).toEqualTypeOf<string>()
      },
    })
  })

  it('types the server-side sign-in: what to keep, and the tokens it ends with', async () => {
    const started = await authorizationUrl(provider, client, {
      redirectUri: 'myapp://callback',
      scopes: undefined,
      extraParams: undefined,
    })
    expectTypeOf(started).toEqualTypeOf<AuthorizationRequest>()
    expectTypeOf(started.nonce).toEqualTypeOf<string | undefined>()
    expectTypeOf(started.codeVerifier).toEqualTypeOf<string>()
    expectTypeOf(
      exchangeCode(provider, client, {
        callbackUrl: new URL('myapp://callback?code=c&state=s'),
        redirectUri: 'myapp://callback',
        state: started.state,
        codeVerifier: started.codeVerifier,
        nonce: started.nonce,
      }),
    ).toEqualTypeOf<Promise<TokenSet>>()
    // @ts-expect-error the redirect URI is required
    void authorizationUrl(provider, client, { scopes: ['a'] })
  })

  it("OAuthErrorCode: its own codes and safeFetch's SSRF/FETCH codes, no other core code", () => {
    expectTypeOf<'KEYWARD_OAUTH_ACCESS_DENIED'>().toExtend<OAuthErrorCode>()
    expectTypeOf<'KEYWARD_SSRF_BLOCKED_ADDRESS'>().toExtend<OAuthErrorCode>()
    expectTypeOf<'KEYWARD_FETCH_NETWORK'>().toExtend<OAuthErrorCode>()
    expectTypeOf<typeof KEYWARD_INVALID_ARGUMENT>().not.toExtend<OAuthErrorCode>()
  })
})

describe('createIntegrations', () => {
  it('takes an AuthStore as its TokenStore (the contract lives in core; oauth never imports authstore)', () => {
    expectTypeOf<AuthStore>().toExtend<TokenStore>()
    expectTypeOf(createIntegrations)
      .parameter(0)
      .toHaveProperty('store')
      .toEqualTypeOf<TokenStore>()
    expectTypeOf(createIntegrations).returns.toEqualTypeOf<Integrations>()
    expectTypeOf<Integrations['status']>().returns.resolves.toEqualTypeOf<IntegrationStatus>()
    expectTypeOf<IntegrationStatus['state']>().toEqualTypeOf<
      'not_connected' | 'connected' | 'degraded' | 'reconnect_required'
    >()
  })
})
