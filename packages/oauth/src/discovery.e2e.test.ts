// Discovery against a real oidc-provider whose issuer has a path (`…/oidc`): it publishes only
// `/oidc/.well-known/openid-configuration` (OIDC path appending, the third URL of the order), so
// the first two answer 404 and the sign-in proceeds on the discovered metadata, RFC 8707
// `resource` and RFC 9207 `iss` included.
import { describe, expect, it } from 'vitest'
import { _Browser } from './_browser.js'
import { _CLIENT, _useOidc } from './_oidc.js'
import { loginWithBrowser } from './browser.js'
import { discoverAuthorizationServer, providerFromMetadata } from './discovery.js'
import { refreshTokens } from './flows.js'

const API = 'https://api.example/'
const local = _useOidc({}, { mountPath: '/oidc', resourceServer: API, registration: true })

describe('discovery against oidc-provider on a path issuer', () => {
  it('finds the metadata at the OIDC path-appended URL and signs in with it', async () => {
    const metadata = await discoverAuthorizationServer(local.oidc.issuer, {
      allowLoopbackHttp: true,
    })
    expect(local.oidc.issuer).toMatch(/\/oidc$/)
    expect(metadata).toMatchObject({
      issuer: local.oidc.issuer,
      authorization_endpoint: `${local.oidc.issuer}/auth`,
      token_endpoint: `${local.oidc.issuer}/token`,
      registration_endpoint: `${local.oidc.issuer}/reg`,
      code_challenge_methods_supported: ['S256'],
    })
    const provider = providerFromMetadata(metadata, {
      id: 'local',
      resource: API,
      scopes: ['openid', 'offline_access', 'api:read'],
      allowLoopbackHttp: true,
    })
    local.oidc.resourceSeen.length = 0
    const tokens = await loginWithBrowser(provider, _CLIENT, {
      openBrowser: async (url) => {
        const redirect = await new _Browser().authorize(url)
        // oidc-provider sends RFC 9207 `iss`: the path issuer, which the flow checks.
        expect(new URL(redirect).searchParams.get('iss')).toBe(local.oidc.issuer)
        await fetch(redirect).then((r) => r.text())
      },
    })
    expect(tokens.refreshToken).toEqual(expect.any(String))
    await refreshTokens(provider, _CLIENT, { refreshToken: tokens.refreshToken as string })
    expect(local.oidc.resourceSeen).toEqual([
      { path: '/auth', grant: undefined, resource: API },
      { path: '/token', grant: 'authorization_code', resource: API },
      { path: '/token', grant: 'refresh_token', resource: API },
    ])
  })
})
