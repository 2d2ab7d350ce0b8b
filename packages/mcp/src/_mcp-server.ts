// Test helper: a real MCP server built with the SDK's server package (v1 McpServer and
// StreamableHTTPServerTransport, stateless) behind bearer auth, on 127.0.0.1. It publishes its
// RFC 9728 protected resource metadata naming the test's oidc-provider, answers 401 with a
// `resource_metadata` challenge, and checks each bearer token with the authorization server's
// own token store (oidc-provider's AccessToken model, in this process: the resource server and
// the authorization server share it, so no introspection round trip per tool call).
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { _OidcServer } from '../../oauth/src/_oidc.js'

export interface _McpServer {
  /** The MCP endpoint: the protected resource. */
  url: string
  /** The authorization server; set once it runs (it must know `url` first). */
  oidc: _OidcServer | undefined
  /** Tool calls answered, 401s sent, and bearer tokens seen. */
  calls: number
  unauthorized: number
  /** 403 insufficient_scope answers sent. */
  forbidden: number
  tokensSeen: Set<string>
  close(): Promise<void>
}

/** The scope each tool needs beyond `api:read` (`admin`'s is one the authorization server never grants). */
const TOOL_SCOPES: Record<string, string> = { write: 'api:write', admin: 'api:admin' }

/** Starts an MCP server with a `whoami` tool (scope `api:read`); set `oidc` before calling it. */
export async function _startMcpServer(
  path = '/mcp',
  scopesSupported: readonly string[] = ['api:read'],
): Promise<_McpServer> {
  const http: Server = createServer()
  // Keep idle client connections for the test's length: a server-side close racing a client's
  // reuse of the socket would fail a call for a reason that is not the one under test.
  http.keepAliveTimeout = 120_000
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  const { port } = http.address() as AddressInfo
  const origin = `http://127.0.0.1:${port}`
  const state: _McpServer = {
    url: `${origin}${path}`,
    oidc: undefined,
    calls: 0,
    unauthorized: 0,
    forbidden: 0,
    tokensSeen: new Set(),
    async close() {
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
  const metadataPath = `/.well-known/oauth-protected-resource${path}`
  const metadata = () => ({
    resource: state.url,
    authorization_servers: [state.oidc?.issuer],
    scopes_supported: scopesSupported,
    bearer_methods_supported: ['header'],
  })

  async function authorized(
    req: IncomingMessage,
  ): Promise<{ token: string; scopes: string[] } | undefined> {
    const header = req.headers.authorization ?? ''
    const token = /^Bearer (.+)$/i.exec(header)?.[1]
    if (token === undefined) return undefined
    const found = await state.oidc?.provider.AccessToken.find(token)
    const scopes = String(found?.scope ?? '').split(' ')
    if (!found || found.isExpired || !scopes.includes('api:read')) return undefined
    // RFC 8707: the token must be meant for this resource.
    if (found.aud !== undefined && found.aud !== state.url) return undefined
    return { token, scopes }
  }

  http.on('request', async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? '/', origin)
      if (url.pathname === metadataPath && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(metadata()))
        return
      }
      if (url.pathname !== path) {
        res.writeHead(404).end()
        return
      }
      const grant = await authorized(req)
      if (grant === undefined) {
        state.unauthorized += 1
        res
          .writeHead(401, {
            'www-authenticate': `Bearer resource_metadata="${origin}${metadataPath}", scope="api:read"`,
            'content-type': 'application/json',
          })
          .end('{"error":"invalid_token"}')
        return
      }
      state.tokensSeen.add(grant.token)
      if (req.method !== 'POST') {
        res.writeHead(405).end()
        return
      }
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      // A tool that needs a scope the token lacks: 403 insufficient_scope (RFC 6750 §3.1) with
      // the scope in the challenge, before the call reaches the MCP server.
      const needed = body?.method === 'tools/call' ? TOOL_SCOPES[body.params?.name] : undefined
      if (needed !== undefined && !grant.scopes.includes(needed)) {
        state.forbidden += 1
        res
          .writeHead(403, {
            'www-authenticate': `Bearer error="insufficient_scope", scope="${needed}", resource_metadata="${origin}${metadataPath}"`,
            'content-type': 'application/json',
          })
          .end('{"error":"insufficient_scope"}')
        return
      }
      const server = new McpServer({ name: 'keyward-test-server', version: '1.0.0' })
      server.registerTool('whoami', { description: 'who the token belongs to' }, async () => {
        state.calls += 1
        return { content: [{ type: 'text', text: 'alice' }] }
      })
      server.registerTool('write', { description: 'needs api:write' }, async () => {
        state.calls += 1
        return { content: [{ type: 'text', text: 'written' }] }
      })
      server.registerTool('admin', { description: 'needs api:admin (never granted)' }, async () => {
        state.calls += 1
        return { content: [{ type: 'text', text: 'admin' }] }
      })
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      })
      res.on('close', () => {
        void transport.close()
        void server.close()
      })
      await server.connect(transport)
      await transport.handleRequest(req, res, body)
    } catch {
      if (!res.headersSent) res.writeHead(500).end()
    }
  })
  return state
}
