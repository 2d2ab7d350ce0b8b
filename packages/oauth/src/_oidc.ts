import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'
import { afterAll, beforeAll } from 'vitest'
import {
  defineProvider,
  type Provider as KeywardProvider,
  type ProviderDefinition,
} from './provider.js'

/** A real oidc-provider on 127.0.0.1 (ephemeral port) with refresh token rotation on. */
export interface _OidcServer {
  issuer: string
  provider: Provider
  close(): Promise<void>
  /** Count of refresh_token grants the server has answered. */
  refreshGrants: number
  /** Answer the next `n` device-code polls with `slow_down` (a provider rate limit). */
  slowDownNext: number
  /** Refresh grants the server refused with `invalid_grant` (a spent or revoked refresh token). */
  invalidGrants: number
  /**
   * While set, the token and revocation endpoints fail: `503` answers HTTP 503, `reset` drops
   * the connection without an answer (the server is unreachable).
   */
  outage: '503' | 'reset' | undefined
  /** Dynamic client registrations (RFC 7591) the server answered. */
  registrations: number
  /** The `resource` parameter of every authorization and token request, in order (RFC 8707). */
  resourceSeen: { path: string; grant: string | undefined; resource: unknown }[]
  /** The Client ID Metadata Document URLs the provider fetched, in order. */
  documentsFetched: string[]
}

/** The part of oidc-provider's koa context these tests touch. */
interface _Ctx {
  path: string
  method: string
  status: number
  body: unknown
  type: string
  respond: boolean
  req: IncomingMessage
  oidc?: { params?: Record<string, unknown> }
}

export const _CLIENT = { clientId: 'keyward-cli', clientSecret: 'client-secret-canary-7b1' }

export async function _startOidc(
  options: {
    deviceCodeTtl?: number
    resourceServer?: string
    /** The scopes the resource server grants (default `api:read offline_access`); the server knows them all. */
    resourceScope?: string
    /** Serve the provider under this path (an issuer with a path); other paths answer 404. */
    mountPath?: string
    /** Enable RFC 7591 dynamic client registration (`features.registration`). */
    registration?: boolean
    /** Lifetime of access tokens, in seconds (default 3600). */
    accessTokenTTL?: number
    /**
     * Enable Client ID Metadata Documents and serve these documents (URL → JSON) to the
     * provider's own fetch: the https URLs a real deployment hosts cannot be served with a
     * trusted certificate here, so the provider's `fetch` answers them from this map (and every
     * other URL through the real `fetch`). The URLs the provider fetched are recorded in
     * `documentsFetched`.
     */
    clientMetadataDocuments?: Record<string, unknown>
    /** oidc-provider's storage adapter (default its memory adapter, an LRU of ~2,000 entries). */
    adapter?: unknown
  } = {},
): Promise<_OidcServer> {
  const server: Server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const issuer = `http://127.0.0.1:${port}${options.mountPath ?? ''}`
  const documentsFetched: string[] = []
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: _CLIENT.clientId,
        client_secret: _CLIENT.clientSecret,
        application_type: 'native',
        grant_types: [
          'authorization_code',
          'refresh_token',
          'client_credentials',
          'urn:ietf:params:oauth:grant-type:device_code',
        ],
        response_types: ['code'],
        redirect_uris: [
          'http://127.0.0.1/callback',
          'http://[::1]/callback',
          'https://app.example/oauth/callback',
          'https://app.example/__integrations/callback',
          'myapp://callback',
        ],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'openid offline_access email profile api:read',
      },
    ],
    scopes: [
      ...new Set([
        ...['openid', 'offline_access', 'email', 'profile', 'api:read'],
        ...(options.resourceScope?.split(' ') ?? []),
      ]),
    ],
    claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      ...(options.registration ? { registration: { enabled: true } } : {}),
      ...(options.clientMetadataDocuments
        ? { clientIdMetadataDocument: { enabled: true, ack: 'draft-02' } }
        : {}),
      ...(options.resourceServer === undefined
        ? {}
        : {
            resourceIndicators: {
              enabled: true,
              defaultResource: async (_ctx: _Ctx, _client: unknown, oneOf?: string) => oneOf,
              useGrantedResource: async () => true,
              getResourceServerInfo: async (_ctx: _Ctx, indicator: string) => {
                if (indicator !== options.resourceServer) throw new Error('unknown resource')
                return {
                  scope: options.resourceScope ?? 'api:read offline_access',
                  audience: indicator,
                  accessTokenFormat: 'opaque',
                  accessTokenTTL: options.accessTokenTTL ?? 3600,
                }
              },
            },
          }),
    },
    ...(options.clientMetadataDocuments
      ? {
          fetch: async (url: string | URL, init: RequestInit) => {
            const document = options.clientMetadataDocuments?.[String(url)]
            if (document === undefined) return fetch(url, init)
            documentsFetched.push(String(url))
            return new Response(JSON.stringify(document), {
              headers: { 'content-type': 'application/json' },
            })
          },
        }
      : {}),
    ...(options.adapter === undefined ? {} : { adapter: options.adapter }),
    pkce: { required: () => true },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx: _Ctx, client: { grantTypeAllowed(type: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx: _Ctx, sub: string) => ({
      accountId: sub,
      claims: async () => ({ sub, email: `${sub}@example.test`, name: `User ${sub}` }),
    }),
    ttl: {
      AccessToken: options.accessTokenTTL ?? 3600,
      ClientCredentials: 600,
      DeviceCode: options.deviceCodeTtl ?? 600,
      RefreshToken: 86_400,
      Grant: 86_400,
      Session: 86_400,
      Interaction: 600,
      IdToken: 3600,
      AuthorizationCode: 60,
    },
    cookies: { keys: ['test-cookie-key'] },
    renderError: async (ctx: _Ctx, out: unknown) => {
      ctx.type = 'json'
      ctx.body = out
    },
  })
  const state: _OidcServer = {
    issuer,
    provider,
    refreshGrants: 0,
    slowDownNext: 0,
    invalidGrants: 0,
    outage: undefined,
    registrations: 0,
    resourceSeen: [],
    documentsFetched,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  provider.use(async (ctx: _Ctx, next: () => Promise<void>) => {
    if (state.outage !== undefined && ctx.method === 'POST' && ctx.path.startsWith('/token')) {
      if (state.outage === 'reset') {
        ctx.respond = false
        ctx.req.socket.destroy()
        return
      }
      ctx.status = 503
      ctx.body = { error: 'temporarily_unavailable' }
      return
    }
    if (ctx.path === '/token' && ctx.method === 'POST' && state.slowDownNext > 0) {
      const raw = await new Promise<string>((resolve) => {
        let body = ''
        ctx.req.on('data', (c: Buffer) => {
          body += c
        })
        ctx.req.on('end', () => resolve(body))
      })
      const form = new URLSearchParams(raw)
      if (form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:device_code') {
        state.slowDownNext -= 1
        ctx.status = 400
        ctx.body = { error: 'slow_down' }
        return
      }
      ;(ctx.req as unknown as { body: unknown }).body = Object.fromEntries(form)
    }
    await next()
    if (ctx.path === '/reg' && ctx.method === 'POST' && ctx.status === 201) state.registrations += 1
    if (['/auth', '/token', '/device/auth'].includes(ctx.path) && ctx.oidc?.params) {
      const grant = ctx.oidc.params.grant_type
      state.resourceSeen.push({
        path: ctx.path,
        grant: typeof grant === 'string' ? grant : undefined,
        resource: ctx.oidc.params.resource,
      })
    }
    if (ctx.path === '/device/auth' && ctx.status === 200 && typeof ctx.body === 'object') {
      // oidc-provider omits `interval` (clients then default to 5 s): poll fast in tests.
      ctx.body = { ...(ctx.body as object), interval: 0.05 }
    }
    if (
      ctx.path === '/token' &&
      ctx.status === 200 &&
      ctx.oidc?.params?.grant_type === 'refresh_token'
    ) {
      state.refreshGrants += 1
    }
    if (
      ctx.path === '/token' &&
      ctx.status === 400 &&
      (ctx.body as { error?: unknown } | undefined)?.error === 'invalid_grant'
    ) {
      state.invalidGrants += 1
    }
  })
  provider.on('server_error', () => {})
  const callback = provider.callback()
  const mountPath = options.mountPath
  server.on('request', (req: IncomingMessage & { originalUrl?: string }, res) => {
    if (mountPath === undefined) return callback(req, res)
    const url = req.url ?? '/'
    if (url !== mountPath && !url.startsWith(`${mountPath}/`) && !url.startsWith(`${mountPath}?`)) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}')
      return
    }
    req.originalUrl = url
    req.url = url.slice(mountPath.length) || '/'
    return callback(req, res)
  })
  return state
}

/**
 * Starts an oidc-provider for the tests of one file (beforeAll, closed in afterAll) and defines
 * a provider on it (`id: 'local'`, loopback http allowed, plus `definition`).
 */
export function _useOidc(
  definition: Partial<ProviderDefinition> = {},
  options: Parameters<typeof _startOidc>[0] = {},
): { readonly oidc: _OidcServer; readonly provider: KeywardProvider } {
  let oidc: _OidcServer | undefined
  let provider: KeywardProvider | undefined
  beforeAll(async () => {
    oidc = await _startOidc(options)
    provider = defineProvider({
      id: 'local',
      issuer: oidc.issuer,
      allowLoopbackHttp: true,
      ...definition,
    })
  })
  afterAll(async () => {
    await oidc?.close()
  })
  return {
    get oidc() {
      if (oidc === undefined) throw new Error('the oidc-provider is not started yet')
      return oidc
    },
    get provider() {
      if (provider === undefined) throw new Error('the oidc-provider is not started yet')
      return provider
    },
  }
}
