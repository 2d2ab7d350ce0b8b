// registerClient's choices and refusals against a loopback server that answers what each test
// says (malformed registration answers a real server would not give); registration.e2e.test.ts
// runs the real registrations against oidc-provider.
import { KEYWARD_INVALID_ARGUMENT } from '@keyward/core'
import { expectKeywardError, expectNoLeak } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _useMetadataServer } from './_metadata-server.js'
import type { AuthorizationServerMetadata } from './discovery.js'
import {
  KEYWARD_OAUTH_INVALID_RESPONSE,
  KEYWARD_OAUTH_REGISTRATION_EXPIRED,
  KEYWARD_OAUTH_UNSUPPORTED,
} from './errors.js'
import { registerClient, registeredClient } from './registration.js'

const server = _useMetadataServer()
const CIMD = 'https://app.example/oauth-client.json'
const redirectUris = ['http://127.0.0.1/callback']
const metadata = (
  extra: Partial<AuthorizationServerMetadata> = {},
): AuthorizationServerMetadata => ({
  issuer: server.origin,
  authorization_endpoint: `${server.origin}/authorize`,
  token_endpoint: `${server.origin}/token`,
  registration_endpoint: `${server.origin}/register`,
  code_challenge_methods_supported: ['S256'],
  ...extra,
})

describe('registerClient', () => {
  it('falls back to dynamic registration when the server does not take metadata documents', async () => {
    let sent: Record<string, unknown> = {}
    server.routes.set('/register', (_request, body) => {
      sent = JSON.parse(body)
      return { status: 201, body: { client_id: 'dyn-1', client_secret_expires_at: 0 } }
    })
    const registration = await registerClient(metadata(), {
      clientMetadataUrl: CIMD,
      redirectUris,
      clientName: 'agent',
      scopes: ['a', 'b'],
      allowLoopbackHttp: true,
    })
    expect(registration).toEqual({
      issuer: server.origin,
      clientId: 'dyn-1',
      clientSecretExpiresAt: 0,
      method: 'dynamic',
      redirectUris,
    })
    expect(sent).toEqual({
      application_type: 'native',
      redirect_uris: redirectUris,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      client_name: 'agent',
      scope: 'a b',
    })
  })

  it('takes the metadata document URL without any request where the server supports it', async () => {
    const registration = await registerClient(
      metadata({ client_id_metadata_document_supported: true }),
      { clientMetadataUrl: CIMD, redirectUris, allowLoopbackHttp: true },
    )
    expect(registration).toMatchObject({ clientId: CIMD, method: 'metadata-document' })
    expect(server.seen).toEqual([])
  })

  it('refuses with KEYWARD_OAUTH_UNSUPPORTED when the server offers neither', async () => {
    const error = await expectKeywardError(
      registerClient(metadata({ registration_endpoint: undefined }), {
        clientMetadataUrl: CIMD,
        redirectUris,
      }),
      KEYWARD_OAUTH_UNSUPPORTED,
    )
    expect(error.details).toMatchObject({ endpoint: 'registration_endpoint' })
  })

  it('refuses a metadata document URL the draft does not allow, before any request', async () => {
    for (const url of [
      'http://app.example/client.json',
      'https://app.example/',
      'https://app.example/a/../client.json',
      'https://app.example/client.json#x',
      'https://user:pw@app.example/client.json',
    ]) {
      const error = await expectKeywardError(
        registerClient(metadata(), { clientMetadataUrl: url, redirectUris }),
        KEYWARD_INVALID_ARGUMENT,
      )
      expect(error.details).toEqual({ field: 'clientMetadataUrl' })
    }
    await expectKeywardError(
      registerClient(metadata(), { redirectUris: [] }),
      KEYWARD_INVALID_ARGUMENT,
    )
    expect(server.seen).toEqual([])
  })

  it('refuses a malformed answer by field, without the client secret it carried', async () => {
    for (const [body, field] of [
      [{ client_secret: 'secret-canary-4f2', client_id: 7 }, 'client_id'],
      [
        { client_id: 'c', client_secret: 'secret-canary-4f2', client_secret_expires_at: -1 },
        'client_secret_expires_at',
      ],
    ] as const) {
      server.routes.set('/register', { status: 201, body })
      const error = await expectKeywardError(
        registerClient(metadata(), { redirectUris, allowLoopbackHttp: true }),
        KEYWARD_OAUTH_INVALID_RESPONSE,
      )
      expectNoLeak(error, ['secret-canary-4f2'])
      expect(error.details).toMatchObject({ field })
    }
  })
})

describe('registeredClient', () => {
  it('refuses a registration whose client secret has expired', async () => {
    const registration = {
      issuer: server.origin,
      clientId: 'c',
      clientSecret: 's',
      clientSecretExpiresAt: 1_000,
      method: 'dynamic',
      redirectUris,
    } as const
    expect(registeredClient(registration, server.origin, { now: 999_000 })).toEqual({
      clientId: 'c',
      clientSecret: 's',
    })
    await expectKeywardError(
      async () => registeredClient(registration, server.origin, { now: 1_000_000 }),
      KEYWARD_OAUTH_REGISTRATION_EXPIRED,
    )
  })
})
