// Scope step-up through mcpAuthProvider with the official SDK clients (v1 and v2), an MCP server
// built with the SDK (a tool that needs `api:write` answers 403 insufficient_scope with the scope
// in its challenge) and oidc-provider: the provider re-authorizes with the union of granted and
// challenged scopes (stepUpScopes), and stepUpLimiter bounds a server that keeps asking.
import { AuthStore } from '@keyward/authstore'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError } from '@keyward/core/testing'
import { KEYWARD_OAUTH_STEP_UP_EXHAUSTED } from '@keyward/oauth'
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
  UnauthorizedError as UnauthorizedErrorV2,
} from '@modelcontextprotocol/client'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { describe, expect, it } from 'vitest'
import { _browser, _connectV1, _useMcpAndOidc, _whoami } from './_sdk.js'
import { mcpAuthProvider } from './index.js'

const servers = _useMcpAndOidc({
  registration: true,
  resourceScope: 'api:read api:write offline_access',
})

const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]?.text

function signedInProvider(opened: string[]) {
  const store = new AuthStore({ driver: memoryDriver() })
  const provider = mcpAuthProvider({
    store,
    serverUrl: servers.mcp.url,
    openBrowser: _browser(opened),
    allowLoopbackHttp: true,
  })
  return { store, provider }
}

describe('step-up on 403 insufficient_scope', () => {
  it('v1 SDK: re-authorizes with granted ∪ challenged scopes; the retried call succeeds', async () => {
    const { mcp } = servers
    const opened: string[] = []
    const { store, provider } = signedInProvider(opened)
    const { client } = await _connectV1(mcp.url, provider)
    expect(await _whoami(client)).toBe('alice')
    const granted = (await store.getMetadata(`mcp:${mcp.url}`))?.scopes ?? []
    expect(granted).not.toContain('api:write')
    const forbidden = mcp.forbidden
    // The SDK gets 403, the provider signs in again (the browser consents), the SDK throws
    // UnauthorizedError, and the host retries the call.
    await expect(client.callTool({ name: 'write' })).rejects.toBeInstanceOf(UnauthorizedError)
    expect(text(await client.callTool({ name: 'write' }))).toBe('written')
    expect(mcp.forbidden - forbidden).toBe(1)
    expect(opened).toHaveLength(2)
    const asked = new URL(opened[1] as string).searchParams.get('scope')?.split(' ')
    expect(asked).toEqual([...granted, 'api:write'])
    // The new token does everything the old one did, and the refused operation too.
    expect((await store.getMetadata(`mcp:${mcp.url}`))?.scopes).toEqual(
      expect.arrayContaining([...granted, 'api:write']),
    )
    expect(await _whoami(client)).toBe('alice')
    await client.close()
  })

  it('a server that keeps asking (a scope never granted) ends in KEYWARD_OAUTH_STEP_UP_EXHAUSTED after two step-ups', async () => {
    const { mcp } = servers
    const opened: string[] = []
    const { provider } = signedInProvider(opened)
    const { client: first } = await _connectV1(mcp.url, provider)
    await first.close()
    // A host that reconnects after every UnauthorizedError (the SDK's own guard is per transport).
    const attempt = async () => {
      const { client } = await _connectV1(mcp.url, provider)
      try {
        return await client.callTool({ name: 'admin' })
      } finally {
        await client.close()
      }
    }
    await expect(attempt()).rejects.toBeInstanceOf(UnauthorizedError)
    await expect(attempt()).rejects.toBeInstanceOf(UnauthorizedError)
    const error = await expectKeywardError(attempt(), KEYWARD_OAUTH_STEP_UP_EXHAUSTED)
    expect(error.details).toMatchObject({ resource: mcp.url, attempts: 2 })
    // One sign-in, then two step-ups: no third browser.
    expect(opened).toHaveLength(3)
  })

  it('v2 SDK (@modelcontextprotocol/client): the same step-up', async () => {
    const { mcp } = servers
    const opened: string[] = []
    const { store, provider } = signedInProvider(opened)
    const connect = async () => {
      const client = new ClientV2({ name: 'keyward-e2e-v2', version: '1.0.0' })
      await client.connect(new TransportV2(new URL(mcp.url), { authProvider: provider }))
      return client
    }
    const client = await connect().catch(async (error) => {
      if (!(error instanceof UnauthorizedErrorV2)) throw error
      return connect()
    })
    await expect(client.callTool({ name: 'write' })).rejects.toBeInstanceOf(UnauthorizedErrorV2)
    expect(text(await client.callTool({ name: 'write' }))).toBe('written')
    expect(opened).toHaveLength(2)
    expect((await store.getMetadata(`mcp:${mcp.url}`))?.scopes).toContain('api:write')
    await client.close()
  })
})
