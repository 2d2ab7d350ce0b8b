// Test helpers for the e2e tests of mcpAuthProvider with the official SDK (v1) client: a
// scripted "browser" and the host's one job (retry once after the SDK's UnauthorizedError).
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll } from 'vitest'
import { _Browser } from '../../oauth/src/_browser.js'
import { type _OidcServer, _startOidc } from '../../oauth/src/_oidc.js'
import { type _McpServer, _startMcpServer } from './_mcp-server.js'
import type { McpAuthProvider } from './index.js'

/**
 * Starts an MCP server (the SDK's) and an oidc-provider issuing tokens for it (resource
 * indicators, plus `options`) for the tests of one `describe` or file; closed afterwards.
 */
export function _useMcpAndOidc(options: Parameters<typeof _startOidc>[0] = {}): {
  readonly mcp: _McpServer
  readonly oidc: _OidcServer
} {
  const state: { mcp?: _McpServer; oidc?: _OidcServer } = {}
  beforeAll(async () => {
    // The resource lists what the authorization server grants for it (so a registration covers
    // every scope a later step-up asks for).
    const scopes = options.resourceScope?.split(' ').filter((s) => s !== 'offline_access')
    state.mcp = await _startMcpServer('/mcp', scopes)
    state.oidc = await _startOidc({ ...options, resourceServer: state.mcp.url })
    state.mcp.oidc = state.oidc
  })
  afterAll(async () => {
    await state.mcp?.close()
    await state.oidc?.close()
  })
  return {
    get mcp() {
      if (state.mcp === undefined) throw new Error('the MCP server is not started yet')
      return state.mcp
    },
    get oidc() {
      if (state.oidc === undefined) throw new Error('the oidc-provider is not started yet')
      return state.oidc
    },
  }
}

/** A "browser": signs in on oidc-provider's pages, then lands on the provider's loopback callback. */
export function _browser(opened: string[] = []): (url: string) => void {
  return (url) => {
    opened.push(url)
    void new _Browser()
      .authorize(url)
      .then((callback) => fetch(callback))
      .catch(() => {})
  }
}

/** Connects a v1 SDK client, retrying once after the SDK's UnauthorizedError (the host's only job). */
export async function _connectV1(
  url: string,
  authProvider: McpAuthProvider,
): Promise<{ client: Client; retried: boolean }> {
  const attempt = async () => {
    const client = new Client({ name: 'keyward-e2e', version: '1.0.0' })
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider }))
    return client
  }
  try {
    return { client: await attempt(), retried: false }
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error
    return { client: await attempt(), retried: true }
  }
}

export const _whoami = async (client: { callTool(p: { name: string }): Promise<unknown> }) =>
  ((await client.callTool({ name: 'whoami' })) as { content: { text: string }[] }).content[0]?.text
