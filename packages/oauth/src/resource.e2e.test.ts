// RFC 8707 resource indicators as a local.provider option, against oidc-local.provider with
// features.resourceIndicators: the server records the `resource` of every request it receives.
import { describe, expect, it } from 'vitest'
import { _Browser } from './_browser.js'
import { _CLIENT, _useOidc } from './_oidc.js'
import { loginWithBrowser } from './browser.js'
import { loginWithDeviceCode } from './device.js'
import { KEYWARD_OAUTH_INVALID_PROVIDER } from './errors.js'
import { clientCredentials, refreshTokens } from './flows.js'
import { defineProvider } from './provider.js'
import { authorizationUrl } from './sign-in.js'

const API = 'https://api.example/'
const local = _useOidc({ resource: API }, { resourceServer: API })

describe('RFC 8707 resource on every request', () => {
  it('authorization, code exchange and refresh requests all carry the resource', async () => {
    local.oidc.resourceSeen.length = 0
    const tokens = await loginWithBrowser(local.provider, _CLIENT, {
      scopes: ['openid', 'offline_access', 'api:read'],
      openBrowser: async (url) => {
        expect(new URL(url).searchParams.getAll('resource')).toEqual([API])
        const redirect = await new _Browser().authorize(url)
        await fetch(redirect).then((r) => r.text())
      },
    })
    expect(tokens.refreshToken).toEqual(expect.any(String))
    const fresh = await refreshTokens(local.provider, _CLIENT, {
      refreshToken: tokens.refreshToken as string,
    })
    expect(fresh.accessToken).toEqual(expect.any(String))
    expect(local.oidc.resourceSeen).toEqual([
      { path: '/auth', grant: undefined, resource: API },
      { path: '/token', grant: 'authorization_code', resource: API },
      { path: '/token', grant: 'refresh_token', resource: API },
    ])
  })

  it('client credentials and the device flow carry it too', async () => {
    local.oidc.resourceSeen.length = 0
    await clientCredentials(local.provider, _CLIENT, { scopes: ['api:read'] })
    await loginWithDeviceCode(local.provider, _CLIENT, {
      scopes: ['offline_access', 'api:read'],
      onCode: (prompt) => {
        void new _Browser().authorize(prompt.verificationUriComplete ?? prompt.verificationUri, {
          userCode: prompt.userCode,
        })
      },
    })
    expect(local.oidc.resourceSeen).toEqual(
      expect.arrayContaining([
        { path: '/token', grant: 'client_credentials', resource: API },
        { path: '/device/auth', grant: undefined, resource: API },
        { path: '/token', grant: 'urn:ietf:params:oauth:grant-type:device_code', resource: API },
      ]),
    )
    expect(local.oidc.resourceSeen.every((seen) => seen.resource === API)).toBe(true)
  })

  it('several resources are each sent; a resource with a fragment or no scheme is refused at definition', async () => {
    const two = defineProvider({
      id: 'two',
      authorizeUrl: 'https://login.acme.example/authorize',
      tokenUrl: 'https://login.acme.example/token',
      resource: ['https://a.example/', 'https://b.example/'],
    })
    const started = await authorizationUrl(two, { clientId: 'c' }, { redirectUri: 'myapp://cb' })
    expect(new URL(started.url).searchParams.getAll('resource')).toEqual([
      'https://a.example/',
      'https://b.example/',
    ])
    for (const resource of ['https://api.example/#x', 'api.example', 5]) {
      let error: unknown
      try {
        defineProvider({ id: 'bad', tokenUrl: 'https://t.example/', resource: resource as string })
      } catch (e) {
        error = e
      }
      expect(error).toMatchObject({
        code: KEYWARD_OAUTH_INVALID_PROVIDER,
        details: { path: 'resource' },
      })
    }
  })
})
