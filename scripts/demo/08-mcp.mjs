// Demo step 7: an MCP client (the official SDK) signs in once to a local MCP server protected by
// a real authorization server (oidc-provider: dynamic registration, resource indicators,
// refresh token rotation), then makes many parallel tool calls across an expiry and the token
// is refreshed once. Prints no token.
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuthStore } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { mcpAuthProvider } from '@keyward/mcp'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { browse } from './_browser.mjs'
import { muteProviderWarnings } from './05-oauth.mjs'

export const title =
  'mcp: an agent signs in to an MCP server once; parallel tool calls refresh once'

async function listen(server) {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${server.address().port}`
}

/** oidc-provider with dynamic registration and `resource` bound to the MCP server. */
async function startAuthorizationServer(resource, counts) {
  const { default: Provider } = await import('oidc-provider')
  const server = createServer()
  const issuer = await listen(server)
  const provider = new Provider(issuer, {
    scopes: ['api:read'],
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    cookies: { keys: [randomBytes(16).toString('hex')] },
    pkce: { required: () => true },
    ttl: {
      AccessToken: 3600,
      RefreshToken: 86_400,
      Grant: 86_400,
      Session: 3600,
      Interaction: 600,
    },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (indicator !== resource) throw new Error('unknown resource')
          return {
            scope: 'api:read',
            audience: resource,
            accessTokenFormat: 'opaque',
            accessTokenTTL: 3600,
          }
        },
      },
    },
  })
  provider.use(async (ctx, next) => {
    await next()
    if (
      ctx.path === '/token' &&
      ctx.status === 200 &&
      ctx.oidc?.params?.grant_type === 'refresh_token'
    )
      counts.refreshes += 1
    if (ctx.path === '/reg' && ctx.status === 201) counts.registrations += 1
  })
  server.on('request', provider.callback())
  return {
    issuer,
    provider,
    close: () => {
      server.closeAllConnections()
      server.close()
    },
  }
}

/** An MCP server (the SDK's server package) with one tool, behind bearer auth. */
async function startMcpServer(holder) {
  const server = createServer()
  const origin = await listen(server)
  const url = `${origin}/mcp`
  const metadataPath = '/.well-known/oauth-protected-resource/mcp'
  server.on('request', async (req, res) => {
    if (req.url === metadataPath) {
      res.setHeader('content-type', 'application/json')
      res.end(
        JSON.stringify({
          resource: url,
          authorization_servers: [holder.as.issuer],
          scopes_supported: ['api:read'],
        }),
      )
      return
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const found = token && (await holder.as.provider.AccessToken.find(token))
    if (!found || found.isExpired) {
      res
        .writeHead(401, {
          'www-authenticate': `Bearer resource_metadata="${origin}${metadataPath}"`,
        })
        .end()
      return
    }
    if (req.method !== 'POST') {
      res.writeHead(405).end()
      return
    }
    const chunks = []
    for await (const chunk of req) chunks.push(chunk)
    const mcp = new McpServer({ name: 'demo-server', version: '1.0.0' })
    mcp.registerTool('whoami', { description: 'the signed-in user' }, async () => ({
      content: [{ type: 'text', text: found.accountId }],
    }))
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    })
    res.on('close', () => void mcp.close())
    await mcp.connect(transport)
    await transport.handleRequest(req, res, JSON.parse(Buffer.concat(chunks).toString('utf8')))
  })
  return {
    url,
    close: () => {
      server.closeAllConnections()
      server.close()
    },
  }
}

export async function run(narrate) {
  const unmute = muteProviderWarnings()
  const counts = { refreshes: 0, registrations: 0 }
  const holder = {}
  const mcp = await startMcpServer(holder)
  holder.as = await startAuthorizationServer(mcp.url, counts)
  const dir = await mkdtemp(join(tmpdir(), 'keyward-demo-mcp-'))
  try {
    narrate(
      `an MCP server at ${mcp.url}, protected by an authorization server at ${holder.as.issuer}`,
    )
    let offsetMs = 0
    const env = { KEYWARD_KEY: randomBytes(32).toString('base64') }
    const store = new AuthStore({
      driver: fileDriver({ path: join(dir, 'tokens.kw'), key: envKey('KEYWARD_KEY', { env }) }),
      clock: () => Date.now() + offsetMs,
    })
    const authProvider = mcpAuthProvider({
      store,
      serverUrl: mcp.url,
      allowLoopbackHttp: true,
      openBrowser: (url) => {
        narrate('the provider opens the browser for the sign-in (a scripted user approves)')
        void browse(url)
      },
    })
    const connect = async () => {
      const client = new Client({ name: 'demo-agent', version: '1.0.0' })
      await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider }))
      return client
    }
    let client
    try {
      client = await connect()
    } catch (error) {
      if (!(error instanceof UnauthorizedError)) throw error
      narrate(
        'the SDK threw UnauthorizedError after the provider signed in: the agent connects again',
      )
      client = await connect()
    }
    narrate(
      `signed in once: discovery, ${counts.registrations} dynamic registration, PKCE, resource; tokens in the encrypted file`,
    )
    const call = () => client.callTool({ name: 'whoami' })
    let results = await Promise.all(Array.from({ length: 100 }, call))
    narrate(
      `100 parallel tool calls as ${results[0].content[0].text}: ${counts.refreshes} refreshes`,
    )
    offsetMs = 2 * 3600_000
    results = await Promise.all(Array.from({ length: 100 }, call))
    narrate(
      `two hours later (the store's clock), 100 parallel tool calls: ${results.length} answered, ${counts.refreshes} refresh`,
    )
    const meta = await store.getMetadata(`mcp:${mcp.url}`)
    narrate(
      `the record: generation ${meta.generation}, state ${meta.state}, scopes ${meta.scopes.join(' ')}`,
    )
    await client.close()
  } finally {
    mcp.close()
    holder.as?.close()
    unmute()
    await rm(dir, { recursive: true, force: true })
  }
}
