// Test helpers for the e2e tests of mcpAuthProvider with the official SDK (v1) client: a
// scripted "browser" and the host's one job (retry once after the SDK's UnauthorizedError).
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { _Browser } from '../../oauth/src/_browser.js'
import type { McpAuthProvider } from './index.js'

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
