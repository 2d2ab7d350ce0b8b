// RFC 9728 and RFC 8414 / OIDC discovery against a real loopback HTTP server that answers exactly
// what each test says (the discovery order, mix-up and missing-PKCE cases need answers a real
// authorization server would not give); discovery.e2e.test.ts runs it against oidc-provider.
import { KEYWARD_INVALID_ARGUMENT } from '@keyward/core'
import { expectKeywardError } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _useMetadataServer } from './_metadata-server.js'
import { parseBearerChallenge } from './challenge.js'
import {
  discoverAuthorizationServer,
  discoverProtectedResource,
  providerFromMetadata,
} from './discovery.js'
import {
  KEYWARD_OAUTH_DISCOVERY_FAILED,
  KEYWARD_OAUTH_ISSUER_MISMATCH,
  KEYWARD_OAUTH_PKCE_UNSUPPORTED,
  KEYWARD_OAUTH_RESOURCE_MISMATCH,
} from './errors.js'
import { authorizationUrl } from './sign-in.js'

const server = _useMetadataServer()
const local = { allowLoopbackHttp: true }

const PRM = '/.well-known/oauth-protected-resource'
const resourceDoc = (resource: string) => ({
  status: 200,
  body: { resource, authorization_servers: [`${server.origin}/tenant1`], scopes_supported: ['a'] },
})
const serverDoc = (issuer: string, extra: Record<string, unknown> = {}) => ({
  status: 200,
  body: {
    issuer,
    authorization_endpoint: `${server.origin}/authorize`,
    token_endpoint: `${server.origin}/token`,
    code_challenge_methods_supported: ['S256'],
    response_types_supported: ['code'],
    ...extra,
  },
})

describe('discoverProtectedResource (RFC 9728)', () => {
  it("tries the challenge's resource_metadata, then the path-aware, then the root well-known URL", async () => {
    const resource = `${server.origin}/mcp`
    server.routes.set(PRM, resourceDoc(resource))
    const challenge = `Bearer resource_metadata="${server.origin}/meta/from-challenge"`
    const metadata = await discoverProtectedResource(resource, { ...local, challenge })
    expect(metadata).toMatchObject({
      resource,
      authorization_servers: [`${server.origin}/tenant1`],
      scopes_supported: ['a'],
    })
    expect(server.seen).toEqual([
      'GET /meta/from-challenge',
      'GET /.well-known/oauth-protected-resource/mcp',
      'GET /.well-known/oauth-protected-resource',
    ])
  })

  it('uses the first document found: the challenge URL, else the path-aware one', async () => {
    const resource = `${server.origin}/mcp`
    server.routes.set('/meta', resourceDoc(resource))
    server.routes.set(`${PRM}/mcp`, resourceDoc(resource))
    const response = new Response(null, {
      status: 401,
      headers: { 'www-authenticate': `Bearer resource_metadata="${server.origin}/meta"` },
    })
    await discoverProtectedResource(resource, { ...local, challenge: response })
    await discoverProtectedResource(resource, {
      ...local,
      challenge: parseBearerChallenge('Bearer error="invalid_token"'),
    })
    expect(server.seen).toEqual(['GET /meta', 'GET /.well-known/oauth-protected-resource/mcp'])
  })

  it('refuses metadata whose resource is not the one asked about (KEYWARD_OAUTH_RESOURCE_MISMATCH)', async () => {
    for (const declared of [
      `${server.origin}/other`,
      `${server.origin}/mcp-evil`,
      'https://mcp.example.com/mcp',
      `${server.origin}/mcp#x`,
    ]) {
      server.routes.set(`${PRM}/mcp`, resourceDoc(declared))
      const error = await expectKeywardError(
        discoverProtectedResource(`${server.origin}/mcp`, local),
        KEYWARD_OAUTH_RESOURCE_MISMATCH,
      )
      expect(error.details).toMatchObject({ resource: declared })
    }
    // The root document of a server may name the origin, or the resource itself.
    server.routes.clear()
    server.routes.set(PRM, resourceDoc(server.origin))
    await expect(discoverProtectedResource(`${server.origin}/mcp`, local)).resolves.toMatchObject({
      resource: server.origin,
    })
  })

  it('stops on a server error or a malformed document; reports every URL tried when none answers', async () => {
    server.routes.set(`${PRM}/mcp`, { status: 500, body: {} })
    const failed = await expectKeywardError(
      discoverProtectedResource(`${server.origin}/mcp`, local),
      KEYWARD_OAUTH_DISCOVERY_FAILED,
    )
    expect(failed.details).toMatchObject({ status: 500 })
    expect(server.seen).toEqual(['GET /.well-known/oauth-protected-resource/mcp'])

    server.routes.set(`${PRM}/mcp`, {
      status: 200,
      body: { resource: `${server.origin}/mcp`, authorization_servers: [] },
    })
    const malformed = await expectKeywardError(
      discoverProtectedResource(`${server.origin}/mcp`, local),
      KEYWARD_OAUTH_DISCOVERY_FAILED,
    )
    expect(malformed.details).toMatchObject({ field: 'authorization_servers' })

    server.routes.clear()
    const none = await expectKeywardError(
      discoverProtectedResource(`${server.origin}/mcp`, local),
      KEYWARD_OAUTH_DISCOVERY_FAILED,
    )
    expect(none.details).toMatchObject({
      tried: [`${server.origin}${PRM}/mcp`, `${server.origin}${PRM}`],
    })
  })

  it('refuses plain http without allowLoopbackHttp, before any request', async () => {
    const error = await expectKeywardError(
      discoverProtectedResource(`${server.origin}/mcp`),
      KEYWARD_INVALID_ARGUMENT,
    )
    expect(error.details).toEqual({ field: 'resourceUrl' })
    expect(server.seen).toEqual([])
  })
})

describe('discoverAuthorizationServer (RFC 8414 / OIDC discovery)', () => {
  it('for an issuer with a path: OAuth path insertion, OIDC path insertion, OIDC path appending', async () => {
    const issuer = `${server.origin}/tenant1`
    const none = await expectKeywardError(
      discoverAuthorizationServer(issuer, local),
      KEYWARD_OAUTH_DISCOVERY_FAILED,
    )
    const order = [
      '/.well-known/oauth-authorization-server/tenant1',
      '/.well-known/openid-configuration/tenant1',
      '/tenant1/.well-known/openid-configuration',
    ]
    expect(server.seen).toEqual(order.map((path) => `GET ${path}`))
    expect(none.details).toMatchObject({ tried: order.map((path) => `${server.origin}${path}`) })

    server.seen.length = 0
    server.routes.set('/tenant1/.well-known/openid-configuration', serverDoc(issuer))
    await expect(discoverAuthorizationServer(issuer, local)).resolves.toMatchObject({ issuer })
    expect(server.seen).toHaveLength(3)

    server.seen.length = 0
    server.routes.set('/.well-known/oauth-authorization-server/tenant1', serverDoc(issuer))
    await discoverAuthorizationServer(issuer, local)
    expect(server.seen).toEqual([`GET ${order[0]}`])
  })

  it('for an issuer without a path: oauth-authorization-server, then openid-configuration', async () => {
    server.routes.set('/.well-known/openid-configuration', serverDoc(server.origin))
    await expect(discoverAuthorizationServer(server.origin, local)).resolves.toMatchObject({
      issuer: server.origin,
    })
    expect(server.seen).toEqual([
      'GET /.well-known/oauth-authorization-server',
      'GET /.well-known/openid-configuration',
    ])
  })

  it('refuses metadata naming another issuer (mix-up) with KEYWARD_OAUTH_ISSUER_MISMATCH, trying no further', async () => {
    const issuer = `${server.origin}/tenant1`
    for (const other of [
      `${server.origin}/tenant2`,
      `${server.origin}`,
      'https://evil.example/tenant1',
    ]) {
      server.seen.length = 0
      server.routes.set('/.well-known/oauth-authorization-server/tenant1', serverDoc(other))
      server.routes.set('/tenant1/.well-known/openid-configuration', serverDoc(issuer))
      const error = await expectKeywardError(
        discoverAuthorizationServer(issuer, local),
        KEYWARD_OAUTH_ISSUER_MISMATCH,
      )
      expect(error.details).toMatchObject({ issuer: other, expected: issuer })
      expect(server.seen).toHaveLength(1)
    }
  })

  it('refuses a server without PKCE S256 with KEYWARD_OAUTH_PKCE_UNSUPPORTED', async () => {
    for (const methods of [undefined, ['plain'], []]) {
      server.routes.set(
        '/.well-known/oauth-authorization-server',
        serverDoc(server.origin, { code_challenge_methods_supported: methods }),
      )
      const error = await expectKeywardError(
        discoverAuthorizationServer(server.origin, local),
        KEYWARD_OAUTH_PKCE_UNSUPPORTED,
      )
      expect(error.details).toMatchObject({ field: 'code_challenge_methods_supported' })
    }
  })

  it('refuses a malformed document, naming the field', async () => {
    server.routes.set(
      '/.well-known/oauth-authorization-server',
      serverDoc(server.origin, { token_endpoint: 'not a url' }),
    )
    const error = await expectKeywardError(
      discoverAuthorizationServer(server.origin, local),
      KEYWARD_OAUTH_DISCOVERY_FAILED,
    )
    expect(error.details).toMatchObject({ field: 'token_endpoint' })
  })

  it('providerFromMetadata: the flows use the discovered endpoints and never discover again', async () => {
    const issuer = `${server.origin}/tenant1`
    server.routes.set('/.well-known/oauth-authorization-server/tenant1', serverDoc(issuer))
    const metadata = await discoverAuthorizationServer(issuer, local)
    const provider = providerFromMetadata(metadata, {
      resource: `${server.origin}/mcp`,
      scopes: ['a'],
      ...local,
    })
    expect(provider).toMatchObject({ id: '127.0.0.1', issuer, resource: [`${server.origin}/mcp`] })
    server.seen.length = 0
    const started = await authorizationUrl(
      provider,
      { clientId: 'c' },
      {
        redirectUri: 'http://127.0.0.1/callback',
      },
    )
    const url = new URL(started.url)
    expect(url.origin + url.pathname).toBe(`${server.origin}/authorize`)
    expect(url.searchParams.get('resource')).toBe(`${server.origin}/mcp`)
    expect(url.searchParams.get('scope')).toBe('a')
    expect(server.seen).toEqual([])
  })
})
