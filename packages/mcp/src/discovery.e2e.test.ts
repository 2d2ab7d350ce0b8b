// mcpAuthProvider runs discovery and client registration through @keyward/oauth, with the
// official SDK (v1) client driving it: the MCP spec's discovery order, the refusals (a mix-up, a
// server without PKCE, a registration issued by another server), each with its own code, and a
// sign-in as a Client ID Metadata Document client. The servers that must lie (a protected
// resource and authorization server answering exactly what a test says) are a small local HTTP
// server (_metadata-server.ts); the real ones are oidc-provider and an MCP server built with the
// SDK.
import { createHash } from 'node:crypto'
import { AuthStore } from '@keyward/authstore'
import type { Driver } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError } from '@keyward/core/testing'
import {
  KEYWARD_OAUTH_ISSUER_MISMATCH,
  KEYWARD_OAUTH_PKCE_UNSUPPORTED,
  KEYWARD_OAUTH_REGISTRATION_MISMATCH,
  KEYWARD_OAUTH_TIMEOUT,
} from '@keyward/oauth'
import { describe, expect, it } from 'vitest'
import { _useMetadataServer } from '../../oauth/src/_metadata-server.js'
import { _browser, _connectV1, _useMcpAndOidc, _whoami } from './_sdk.js'
import { mcpAuthProvider } from './index.js'

const lying = _useMetadataServer()
/** The MCP endpoint and the authorization server (an issuer with a path) of the lying server. */
const mcpUrl = () => `${lying.origin}/mcp`
const tenant = () => `${lying.origin}/tenant`

/** The MCP endpoint answers 401 with a challenge whose `resource_metadata` URL is missing (404). */
function serveMcp(): void {
  lying.routes.set('/mcp', {
    status: 401,
    headers: {
      'www-authenticate': `Bearer resource_metadata="${lying.origin}/prm-from-challenge", scope="api:read"`,
    },
    body: { error: 'invalid_token' },
  })
  lying.routes.set('/.well-known/oauth-protected-resource', {
    body: { resource: mcpUrl(), authorization_servers: [tenant()], scopes_supported: ['api:read'] },
  })
}

function serverMetadata(overrides: Record<string, unknown> = {}) {
  return {
    issuer: tenant(),
    authorization_endpoint: `${tenant()}/auth`,
    token_endpoint: `${tenant()}/token`,
    registration_endpoint: `${tenant()}/reg`,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    ...overrides,
  }
}

function lyingProvider(driver: Driver = memoryDriver(), opened: string[] = []) {
  return mcpAuthProvider({
    store: new AuthStore({ driver }),
    serverUrl: mcpUrl(),
    allowLoopbackHttp: true,
    openBrowser: (url) => {
      opened.push(url)
    },
    signInTimeoutMs: 300,
  })
}

describe('discovery through @keyward/oauth, driven by the v1 SDK client', () => {
  it("follows the MCP spec's order: challenge URL, path then root protected resource metadata, three issuer URLs", async () => {
    serveMcp()
    lying.routes.set('/tenant/.well-known/openid-configuration', { body: serverMetadata() })
    lying.routes.set('/tenant/reg', { status: 201, body: { client_id: 'registered-at-tenant' } })
    const opened: string[] = []
    // Nobody completes the sign-in here: it times out once the authorization URL is opened.
    await expectKeywardError(
      _connectV1(mcpUrl(), lyingProvider(memoryDriver(), opened)),
      KEYWARD_OAUTH_TIMEOUT,
    )
    expect(lying.seen).toEqual([
      'POST /mcp', // the SDK's initialize, answered 401
      'POST /mcp', // the provider asks for the challenge itself (the SDK does not pass it on)
      'GET /prm-from-challenge',
      'GET /.well-known/oauth-protected-resource/mcp',
      'GET /.well-known/oauth-protected-resource',
      'GET /.well-known/oauth-authorization-server/tenant',
      'GET /.well-known/openid-configuration/tenant',
      'GET /tenant/.well-known/openid-configuration',
      'POST /tenant/reg',
    ])
    const authorize = new URL(opened[0] as string)
    expect(authorize.origin + authorize.pathname).toBe(`${tenant()}/auth`)
    expect(authorize.searchParams.get('client_id')).toBe('registered-at-tenant')
    expect(authorize.searchParams.get('resource')).toBe(mcpUrl())
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
  })

  it('refuses metadata that names another issuer (mix-up): KEYWARD_OAUTH_ISSUER_MISMATCH, nothing registered or opened', async () => {
    serveMcp()
    lying.routes.set('/.well-known/oauth-authorization-server/tenant', {
      body: serverMetadata({ issuer: `${lying.origin}/attacker` }),
    })
    const opened: string[] = []
    const error = await expectKeywardError(
      _connectV1(mcpUrl(), lyingProvider(memoryDriver(), opened)),
      KEYWARD_OAUTH_ISSUER_MISMATCH,
    )
    expect(error.details).toMatchObject({ issuer: `${lying.origin}/attacker`, expected: tenant() })
    expect(lying.seen.filter((s) => s.startsWith('POST /tenant'))).toEqual([])
    expect(opened).toEqual([])
  })

  it('refuses a server that does not advertise PKCE (code_challenge_methods_supported absent): KEYWARD_OAUTH_PKCE_UNSUPPORTED', async () => {
    serveMcp()
    const { code_challenge_methods_supported: _absent, ...withoutPkce } = serverMetadata()
    lying.routes.set('/.well-known/oauth-authorization-server/tenant', { body: withoutPkce })
    const opened: string[] = []
    const error = await expectKeywardError(
      _connectV1(mcpUrl(), lyingProvider(memoryDriver(), opened)),
      KEYWARD_OAUTH_PKCE_UNSUPPORTED,
    )
    expect(error.details).toMatchObject({ field: 'code_challenge_methods_supported' })
    expect(lying.seen.filter((s) => s.startsWith('POST /tenant'))).toEqual([])
    expect(opened).toEqual([])
  })
})

describe('registrations, with oidc-provider and an MCP server built with the SDK', () => {
  const servers = _useMcpAndOidc({ registration: true })

  it('refuses a registration issued by another server: KEYWARD_OAUTH_REGISTRATION_MISMATCH, its client id never sent', async () => {
    const { mcp, oidc } = servers
    const driver = memoryDriver()
    // A real dynamic registration at oidc-provider, through the provider's own discovery.
    const real = mcpAuthProvider({
      store: new AuthStore({ driver }),
      serverUrl: mcp.url,
      interactive: false,
      allowLoopbackHttp: true,
    })
    await real.discoveryState()
    const registered = await real.clientInformation()
    expect(registered).toMatchObject({ issuer: oidc.issuer })
    expect(oidc.registrations).toBe(1)
    // The store now holds that registration in the slot of the lying server's issuer (an older
    // keyward, a copied file, a tampered store).
    const slot = (issuer: string) =>
      createHash('sha256').update(issuer).digest('base64url').slice(0, 32)
    const keys = await driver.list()
    const from = keys.find((k) => k.includes(`issuer/${slot(oidc.issuer)}/client`)) as string
    const stored = await driver.get(from)
    await driver.set(from.replace(slot(oidc.issuer), slot(tenant())), stored?.value as Uint8Array)
    serveMcp()
    lying.routes.set('/.well-known/oauth-authorization-server/tenant', { body: serverMetadata() })
    const opened: string[] = []
    const error = await expectKeywardError(
      _connectV1(mcpUrl(), lyingProvider(driver, opened)),
      KEYWARD_OAUTH_REGISTRATION_MISMATCH,
    )
    expect(error.details).toEqual({ issuer: tenant(), registeredIssuer: oidc.issuer })
    expect(opened).toEqual([])
    expect(lying.seen.filter((s) => s.startsWith('POST /tenant'))).toEqual([])
  })
})

const CIMD = 'https://agent.example/oauth-client.json'

describe('a Client ID Metadata Document client, with oidc-provider (CIMD enabled) and the SDK', () => {
  const servers = _useMcpAndOidc({
    clientMetadataDocuments: {
      [CIMD]: {
        client_id: CIMD,
        client_name: 'keyward CIMD agent',
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
    },
  })

  it('signs in with the document URL as client id: no registration request, the server reads the document', async () => {
    const { mcp, oidc } = servers
    const opened: string[] = []
    const authProvider = mcpAuthProvider({
      store: new AuthStore({ driver: memoryDriver() }),
      serverUrl: mcp.url,
      allowLoopbackHttp: true,
      openBrowser: _browser(opened),
      client: { clientMetadataUrl: CIMD },
    })
    const { client, retried } = await _connectV1(mcp.url, authProvider)
    expect(retried).toBe(true)
    expect(await _whoami(client)).toBe('alice')
    await client.close()
    expect(new URL(opened[0] as string).searchParams.get('client_id')).toBe(CIMD)
    expect(oidc.documentsFetched).toContain(CIMD)
    expect(oidc.registrations).toBe(0)
    expect(await authProvider.clientInformation()).toMatchObject({
      client_id: CIMD,
      issuer: oidc.issuer,
    })
  })
})
