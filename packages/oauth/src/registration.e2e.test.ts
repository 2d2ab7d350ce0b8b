// Client registration against real oidc-provider servers: RFC 7591 dynamic registration as a
// native public client, Client ID Metadata Documents (the provider fetches and checks the
// document; only its network route to the hosted https URL is answered from memory, see
// _oidc.ts), and a registration refused at another issuer.
import { expectKeywardError, expectNoLeak } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _Browser } from './_browser.js'
import { _startOidc, _useOidc } from './_oidc.js'
import { loginWithBrowser } from './browser.js'
import { discoverAuthorizationServer, providerFromMetadata } from './discovery.js'
import { KEYWARD_OAUTH_ERROR_RESPONSE, KEYWARD_OAUTH_REGISTRATION_MISMATCH } from './errors.js'
import { type ClientRegistration, registerClient, registeredClient } from './registration.js'

const CIMD = 'https://app.example/oauth-client.json'
const local = _useOidc(
  {},
  {
    registration: true,
    clientMetadataDocuments: {
      [CIMD]: {
        client_id: CIMD,
        client_name: 'keyward test agent',
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        scope: 'openid offline_access api:read',
      },
    },
  },
)
const loopback = { allowLoopbackHttp: true }

/** Signs in at the local server with `registration`'s client, through the discovered metadata. */
async function signIn(registration: ClientRegistration) {
  const metadata = await discoverAuthorizationServer(local.oidc.issuer, loopback)
  const provider = providerFromMetadata(metadata, {
    scopes: ['openid', 'offline_access', 'api:read'],
    ...loopback,
  })
  return loginWithBrowser(provider, registeredClient(registration, metadata), {
    openBrowser: async (url) => {
      const redirect = await new _Browser().authorize(url)
      await fetch(redirect).then((r) => r.text())
    },
  })
}

describe('registerClient against oidc-provider', () => {
  it('registers dynamically as a native public client, and the registration signs in', async () => {
    const metadata = await discoverAuthorizationServer(local.oidc.issuer, loopback)
    const registration = await registerClient(
      { ...metadata, client_id_metadata_document_supported: false },
      {
        redirectUris: ['http://127.0.0.1/callback'],
        clientName: 'keyward test agent',
        scopes: ['openid', 'offline_access', 'api:read'],
        ...loopback,
      },
    )
    expect(registration).toEqual({
      issuer: local.oidc.issuer,
      clientId: expect.any(String),
      method: 'dynamic',
      redirectUris: ['http://127.0.0.1/callback'],
    })
    const client = await local.oidc.provider.Client.find(registration.clientId)
    expect(client?.metadata()).toMatchObject({
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      client_name: 'keyward test agent',
    })
    const tokens = await signIn(registration)
    expect(tokens.refreshToken).toEqual(expect.any(String))
  })

  it('uses the Client ID Metadata Document URL where the server advertises support', async () => {
    const metadata = await discoverAuthorizationServer(local.oidc.issuer, loopback)
    expect(metadata.client_id_metadata_document_supported).toBe(true)
    const registration = await registerClient(metadata, {
      clientMetadataUrl: CIMD,
      redirectUris: ['http://127.0.0.1/callback'],
      ...loopback,
    })
    expect(registration).toEqual({
      issuer: local.oidc.issuer,
      clientId: CIMD,
      method: 'metadata-document',
      redirectUris: ['http://127.0.0.1/callback'],
    })
    local.oidc.documentsFetched.length = 0
    const tokens = await signIn(registration)
    expect(tokens.accessToken).toEqual(expect.any(String))
    // The server read the document: the client id really was the URL.
    expect(local.oidc.documentsFetched).toContain(CIMD)
  })

  it("reports the server's refusal by its RFC 7591 code, never the body", async () => {
    const metadata = await discoverAuthorizationServer(local.oidc.issuer, loopback)
    const error = await expectKeywardError(
      registerClient(
        { ...metadata, client_id_metadata_document_supported: false },
        { redirectUris: ['https://evil.example/#fragment-canary-51d'], ...loopback },
      ),
      KEYWARD_OAUTH_ERROR_RESPONSE,
    )
    expect(error.details).toMatchObject({ status: 400, error: 'invalid_redirect_uri' })
    expectNoLeak(error, ['fragment-canary-51d'])
  })

  it('refuses a registration from another authorization server (KEYWARD_OAUTH_REGISTRATION_MISMATCH)', async () => {
    const other = await _startOidc({ registration: true })
    try {
      const there = await discoverAuthorizationServer(other.issuer, loopback)
      const registration = await registerClient(there, {
        redirectUris: ['http://127.0.0.1/callback'],
        ...loopback,
      })
      const here = await discoverAuthorizationServer(local.oidc.issuer, loopback)
      const error = await expectKeywardError(
        async () => registeredClient(registration, here),
        KEYWARD_OAUTH_REGISTRATION_MISMATCH,
      )
      expect(error.details).toEqual({ issuer: here.issuer, registeredIssuer: other.issuer })
      // …and at its own server it is the client it was registered as.
      expect(registeredClient(registration, there)).toEqual({ clientId: registration.clientId })
    } finally {
      await other.close()
    }
  })
})
