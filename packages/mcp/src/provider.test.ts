// The provider's storage, headless and invalidation behaviour against a real AuthStore (memory
// driver; two stores on one driver stand for two processes sharing a token file). The
// sign-in, refresh and race behaviour against a real authorization server and MCP server is in
// mcp.e2e.test.ts.
import net from 'node:net'
import { AuthStore } from '@keyward/authstore'
import { KEYWARD_AUTH_REQUIRED, KEYWARD_INVALID_ARGUMENT } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError, expectNoLeak, recordingLogger } from '@keyward/core/testing'
import {
  customFetch,
  KEYWARD_OAUTH_DISCOVERY_FAILED,
  KEYWARD_OAUTH_STATE_MISMATCH,
  KEYWARD_OAUTH_UNSUPPORTED,
} from '@keyward/oauth'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { KEYWARD_MCP_FLOW_NOT_FOUND, mcpAuthProvider } from './index.js'

const serverUrl = 'https://mcp.example.com/mcp'
const service = `mcp:${serverUrl}`
const issuer = 'https://auth.example.com'
const discovery = {
  authorizationServerUrl: issuer,
  authorizationServerMetadata: {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    response_types_supported: ['code'],
  },
  resourceMetadata: { resource: serverUrl, authorization_servers: [issuer] },
}
const REFRESH_CANARY = 'rt_canary_9c1f2e7a_do_not_leak'

/** A transport for discovery (no network in these tests) that answers 404 and records what was asked. */
function notFound(asked: string[]) {
  return async (url: string, init: RequestInit) => {
    asked.push(`${init.method ?? 'GET'} ${url}`)
    return new Response('{}', { status: 404 })
  }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('mcpAuthProvider: tokens', () => {
  it('serves the stored token without its refresh token, with the issuer it came from', async () => {
    const store = new AuthStore({ driver: memoryDriver() })
    const provider = mcpAuthProvider({ store, serverUrl, interactive: false })
    await provider.saveDiscoveryState(discovery)
    await provider.saveClientInformation({ client_id: 'dcr-client', issuer })
    await provider.saveTokens(
      {
        access_token: 'at_one',
        token_type: 'Bearer',
        refresh_token: REFRESH_CANARY,
        expires_in: 3600,
        scope: 'tools:read',
      },
      { issuer },
    )
    const tokens = await provider.tokens()
    expect(tokens).toEqual({
      access_token: 'at_one',
      token_type: 'Bearer',
      scope: 'tools:read',
      issuer,
    })
    expectNoLeak(tokens, REFRESH_CANARY)
    // The same object while the token is the same (the hot path allocates nothing).
    expect(await provider.tokens()).toBe(tokens)
  })

  it('saveTokens stores an absolute expiry, and keeps the refresh token when none comes back', async () => {
    const store = new AuthStore({ driver: memoryDriver() })
    const provider = mcpAuthProvider({ store, serverUrl, interactive: false })
    await provider.saveDiscoveryState(discovery)
    const before = Date.now()
    await provider.saveTokens({
      access_token: 'at_one',
      token_type: 'Bearer',
      refresh_token: 'rt_one',
      expires_in: 600,
    })
    const meta = await store.getMetadata(service)
    expect(meta?.expiresAt?.getTime()).toBeGreaterThanOrEqual(before + 600_000)
    expect(meta?.expiresAt?.getTime()).toBeLessThanOrEqual(Date.now() + 600_000)
    await provider.saveTokens({ access_token: 'at_two', token_type: 'Bearer', expires_in: 600 })
    expect((await store.getMetadata(service))?.hasRefreshToken).toBe(true)
    expect(await store.getToken(service)).toBe('at_two')
  })

  it('the v2 SDK stamping the served tokens with their issuer writes nothing', async () => {
    const store = new AuthStore({ driver: memoryDriver() })
    const provider = mcpAuthProvider({ store, serverUrl, interactive: false })
    await provider.saveTokens({
      access_token: 'at_one',
      token_type: 'Bearer',
      refresh_token: 'rt_one',
    })
    const generation = (await store.getMetadata(service))?.generation
    const served = await provider.tokens({ issuer })
    await provider.saveTokens(
      { ...(served as { access_token: string; token_type: string }), issuer },
      { issuer },
    )
    expect((await store.getMetadata(service))?.generation).toBe(generation)
  })
})

describe('mcpAuthProvider: headless', () => {
  it('fails within 100 ms with KEYWARD_AUTH_REQUIRED, opening nothing and binding nothing', async () => {
    const store = new AuthStore({ driver: memoryDriver() })
    const openBrowser = vi.fn()
    const listen = vi.spyOn(net.Server.prototype, 'listen')
    const provider = mcpAuthProvider({ store, serverUrl, interactive: false, openBrowser })
    const started = performance.now()
    const error = await expectKeywardError(provider.tokens(), KEYWARD_AUTH_REQUIRED)
    const elapsed = performance.now() - started
    expect(error.details).toMatchObject({ reason: 'reauth_required', service })
    expect(elapsed).toBeLessThan(100)
    // redirectToAuthorization (a 401 on a stored token) fails the same way.
    await provider.saveDiscoveryState(discovery)
    const state = await provider.state()
    await expectKeywardError(
      provider.redirectToAuthorization(new URL(`${issuer}/authorize?state=${state}`)),
      KEYWARD_AUTH_REQUIRED,
    )
    expect(openBrowser).not.toHaveBeenCalled()
    expect(listen).not.toHaveBeenCalled()
  })

  it('a revoked grant (reauth_required) fails the same way', async () => {
    const driver = memoryDriver()
    const store = new AuthStore({ driver })
    const provider = mcpAuthProvider({ store, serverUrl, interactive: false })
    await provider.saveTokens({ access_token: 'at_one', token_type: 'Bearer' })
    await provider.tokens()
    await provider.invalidateCredentials('tokens') // no refresh token: reauth_required
    expect((await store.getMetadata(service))?.state).toBe('reauth_required')
    const error = await expectKeywardError(provider.tokens(), KEYWARD_AUTH_REQUIRED)
    expect(error.details).toMatchObject({ reason: 'reauth_required' })
  })

  it('interactive: no token is no Authorization header (the SDK then discovers and signs in)', async () => {
    const store = new AuthStore({ driver: memoryDriver() })
    const provider = mcpAuthProvider({ store, serverUrl, interactive: true })
    expect(await provider.tokens()).toBeUndefined()
  })
})

describe('mcpAuthProvider: invalidateCredentials', () => {
  it("'tokens' keeps a sibling's newer tokens instead of deleting them", async () => {
    const driver = memoryDriver()
    const mine = new AuthStore({ driver })
    const sibling = new AuthStore({ driver })
    const provider = mcpAuthProvider({ store: mine, serverUrl, interactive: false })
    await provider.saveTokens({ access_token: 'at_old', token_type: 'Bearer', expires_in: 3600 })
    expect((await provider.tokens())?.access_token).toBe('at_old')
    // Another process signs in again (or refreshes) meanwhile.
    await sibling.setToken(service, { accessToken: 'at_new', expiresIn: 3600, account: 'default' })
    await provider.invalidateCredentials('tokens')
    expect(await sibling.getToken(service)).toBe('at_new')
    expect((await mine.getMetadata(service))?.state).toBe('valid')
    expect((await provider.tokens())?.access_token).toBe('at_new')
  })

  it('a 401 for the token served before a refresh uses the newer one without refreshing again (bench race: ~2 refreshes per expiry)', async () => {
    // Calls that carried the old token reach the server just after it expired and get 401;
    // the SDK then asks the provider to recover without saying which token was refused. It used
    // to take the token served last (the fresh one) and refresh it again.
    let offsetMs = 0
    const store = new AuthStore({ driver: memoryDriver(), clock: () => Date.now() + offsetMs })
    const provider = mcpAuthProvider({ store, serverUrl, interactive: false })
    let refreshes = 0
    store.setRefresher(service, async () => {
      refreshes += 1
      return {
        accessToken: `at_${refreshes + 1}`,
        refreshToken: `rt_${refreshes + 1}`,
        expiresIn: 3,
      }
    })
    await provider.saveTokens({
      access_token: 'at_1',
      token_type: 'Bearer',
      refresh_token: 'rt_1',
      expires_in: 3,
    })
    expect((await provider.tokens())?.access_token).toBe('at_1')
    offsetMs = 2_900 // due: refreshed ahead of expiry
    expect((await provider.tokens())?.access_token).toBe('at_2')
    expect(refreshes).toBe(1)
    // A call that carried at_1 was answered 401: the SDK's auth() ends in redirectToAuthorization.
    await provider.saveDiscoveryState(discovery)
    const state = await provider.state()
    await provider.redirectToAuthorization(new URL(`${issuer}/authorize?state=${state}`))
    expect(refreshes).toBe(1)
    expect((await provider.tokens())?.access_token).toBe('at_2')
  })

  it("'client' drops this server's registration only if it is still the one in use", async () => {
    const driver = memoryDriver()
    const a = mcpAuthProvider({ store: new AuthStore({ driver }), serverUrl, interactive: false })
    const b = mcpAuthProvider({ store: new AuthStore({ driver }), serverUrl, interactive: false })
    await a.saveDiscoveryState(discovery)
    await a.saveClientInformation({ client_id: 'first', issuer })
    await a.invalidateCredentials('client')
    // Nothing stored any more: b would register anew, and this server offers no registration.
    await expectKeywardError(b.clientInformation({ issuer }), KEYWARD_OAUTH_UNSUPPORTED)
  })
})

describe('mcpAuthProvider: registrations per authorization server', () => {
  it('reuses a registration across providers (processes) and never at another issuer', async () => {
    const driver = memoryDriver()
    const a = mcpAuthProvider({ store: new AuthStore({ driver }), serverUrl, interactive: false })
    await a.saveDiscoveryState(discovery)
    await a.saveClientInformation(
      { client_id: 'dcr-1', client_secret: 's3cr3t', issuer },
      { issuer },
    )
    const b = mcpAuthProvider({ store: new AuthStore({ driver }), serverUrl, interactive: false })
    // v2 passes the issuer; v1 passes nothing and the stored discovery state names it.
    expect(await b.clientInformation({ issuer })).toMatchObject({ client_id: 'dcr-1', issuer })
    expect(await b.clientInformation()).toMatchObject({ client_id: 'dcr-1', issuer })
    expect(await b.clientInformation({ issuer: `${issuer}/` })).toMatchObject({
      client_id: 'dcr-1',
    })
    expect(await b.clientInformation({ issuer: 'https://evil.example.com' })).toBeUndefined()
  })

  it('a pre-registered client id is offered unbound, for the SDK to bind', async () => {
    const store = new AuthStore({ driver: memoryDriver() })
    const provider = mcpAuthProvider({
      store,
      serverUrl,
      interactive: false,
      client: { clientId: 'preregistered', clientSecret: 'pw' },
    })
    expect(await provider.clientInformation({ issuer })).toEqual({
      client_id: 'preregistered',
      client_secret: 'pw',
    })
  })

  it('discovery state survives into another provider (process); once dropped, it is discovered again', async () => {
    const driver = memoryDriver()
    const asked: string[] = []
    const a = mcpAuthProvider({
      store: new AuthStore({ driver }),
      serverUrl,
      interactive: false,
      [customFetch]: notFound(asked),
    })
    await a.saveDiscoveryState(discovery)
    const b = mcpAuthProvider({ store: new AuthStore({ driver }), serverUrl, interactive: false })
    expect(await b.discoveryState()).toEqual(discovery)
    expect(asked).toEqual([])
    await b.invalidateCredentials('discovery')
    await expectKeywardError(a.discoveryState(), KEYWARD_OAUTH_DISCOVERY_FAILED)
    expect(asked).toEqual([
      `POST ${serverUrl}`,
      'GET https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
      'GET https://mcp.example.com/.well-known/oauth-protected-resource',
    ])
  })

  it('ignores an unreadable stored entry with a warning naming the key, never its content', async () => {
    const driver = memoryDriver()
    const store = new AuthStore({ driver })
    const logger = recordingLogger()
    const provider = mcpAuthProvider({
      store,
      serverUrl,
      interactive: false,
      logger,
      [customFetch]: notFound([]),
    })
    await provider.saveDiscoveryState(discovery)
    const key = (await driver.list()).find((k) => k.includes('discovery'))
    await driver.set(key as string, new TextEncoder().encode(`{"broken": "${REFRESH_CANARY}`))
    // Ignored: discovered again (here, nothing is found).
    await expectKeywardError(provider.discoveryState(), KEYWARD_OAUTH_DISCOVERY_FAILED)
    expect(logger.at('warn')[0]?.message).toContain('unreadable')
    expect(logger.at('warn')[0]?.fields).toMatchObject({ code: 'KEYWARD_MCP_STATE_CORRUPT' })
    expectNoLeak(logger.text(), REFRESH_CANARY)
  })
})

describe('mcpAuthProvider: sign-in flows', () => {
  it('refuses an authorization URL whose state it did not issue', async () => {
    const store = new AuthStore({ driver: memoryDriver() })
    const provider = mcpAuthProvider({ store, serverUrl, openBrowser: () => {} })
    await expectKeywardError(
      provider.redirectToAuthorization(new URL(`${issuer}/authorize?state=forged`)),
      KEYWARD_OAUTH_STATE_MISMATCH,
    )
  })

  it('completeSignIn refuses a callback of no pending sign-in', async () => {
    const store = new AuthStore({ driver: memoryDriver() })
    const provider = mcpAuthProvider({ store, serverUrl, interactive: false })
    await expectKeywardError(
      provider.completeSignIn('http://127.0.0.1:1234/callback?code=c&state=unknown'),
      KEYWARD_MCP_FLOW_NOT_FOUND,
    )
    await expectKeywardError(
      provider.completeSignIn('http://127.0.0.1:1234/callback?code=c'),
      KEYWARD_OAUTH_STATE_MISMATCH,
    )
    await expectKeywardError(provider.codeVerifier(), KEYWARD_MCP_FLOW_NOT_FOUND)
  })
})

describe('mcpAuthProvider: options', () => {
  it('refuses bad options eagerly, naming the option', async () => {
    const store = new AuthStore({ driver: memoryDriver() })
    for (const options of [
      { store, serverUrl: 'not a url' },
      { store, serverUrl: 'ftp://mcp.example.com' },
      { store: {}, serverUrl },
      { store, serverUrl, client: { clientMetadataUrl: 'http://app.example/client.json' } },
      { store, serverUrl, client: { clientMetadataUrl: 'https://app.example/' } },
      { store, serverUrl, scopes: ['a b'] },
      { store, serverUrl, interactive: 'yes' },
    ]) {
      await expectKeywardError(
        async () => mcpAuthProvider(options as never),
        KEYWARD_INVALID_ARGUMENT,
      )
    }
    const provider = mcpAuthProvider({
      store,
      serverUrl,
      client: { clientMetadataUrl: 'https://app.example/oauth-client.json', clientName: 'agent' },
      scopes: ['tools:read'],
      interactive: undefined,
      account: undefined,
    })
    expect(provider.clientMetadataUrl).toBe('https://app.example/oauth-client.json')
    expect(provider.clientMetadata).toMatchObject({
      client_name: 'agent',
      scope: 'tools:read',
      application_type: 'native',
    })
  })
})
