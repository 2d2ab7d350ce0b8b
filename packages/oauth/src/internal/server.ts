import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { safeFetch } from '@keyward/core/safe-fetch'
import * as oauth from 'oauth4webapi'
import {
  KEYWARD_OAUTH_DISCOVERY_FAILED,
  KEYWARD_OAUTH_ERROR_RESPONSE,
  KEYWARD_OAUTH_UNSUPPORTED,
} from '../errors.js'
import {
  type CustomFetch,
  customFetch,
  type OAuthClient,
  type RequestOptions,
} from '../protocol.js'
import type { Provider } from '../provider.js'

/** The option checks every network call shares (`assertOptions` fields). */
export const REQUEST_CHECKS = { signal: 'abort signal', timeoutMs: 'positive integer' } as const

/** The authorization server of one provider, resolved once per call and shared by its steps. */
export interface ServerContext {
  provider: Provider
  as: oauth.AuthorizationServer
  /** The provider-wrapped transport, for requests oauth4webapi does not make (account lookup). */
  fetch: CustomFetch
  /** What every oauth4webapi request of this call takes: the transport and the signal. */
  http: oauth.HttpRequestOptions<'POST', URLSearchParams>
}

/** A server context plus the client that talks to it. */
export interface ClientContext extends ServerContext {
  client: oauth.Client
  auth: oauth.ClientAuth
}

const discovered = new WeakMap<Provider, Promise<oauth.AuthorizationServer>>()

/**
 * Records metadata discovered elsewhere (`discoverAuthorizationServer`) as the provider's, so
 * its flows use it as is and never fetch it again.
 */
export function useMetadata(provider: Provider, as: oauth.AuthorizationServer): void {
  discovered.set(provider, Promise.resolve(as))
}

/** The one client check of the package: a non-empty `clientId` (named as `where` says). */
export function checkClient(client: unknown, where = 'client'): asserts client is OAuthClient {
  const id = (client as { clientId?: unknown } | null | undefined)?.clientId
  if (typeof id !== 'string' || id === '') {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`${where}.clientId\` must be a non-empty string`,
      { details: { field: `${where}.clientId` } },
    )
  }
  const secret = (client as { clientSecret?: unknown }).clientSecret
  if (secret !== undefined && typeof secret !== 'string') {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`${where}.clientSecret\` must be a string when given`,
      { details: { field: `${where}.clientSecret` } },
    )
  }
}

/** The default transport: `safeFetch` with the provider's loopback allowance. */
function defaultFetch(provider: Provider, timeoutMs: number | undefined): CustomFetch {
  return (url, init) =>
    safeFetch(url, init, {
      allowLoopbackHttp: provider.allowLoopbackHttp,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    })
}

/** Wraps a transport with the provider's headers and body format. */
function providerFetch(provider: Provider, fetcher: CustomFetch): CustomFetch {
  return (url, init) => {
    const headers = new Headers(init.headers)
    for (const [name, value] of Object.entries(provider.headers ?? {})) headers.set(name, value)
    let body = init.body
    if (provider.bodyFormat === 'json' && body instanceof URLSearchParams) {
      body = JSON.stringify(Object.fromEntries(body))
      headers.set('content-type', 'application/json')
    }
    return fetcher(url, { ...init, headers, body })
  }
}

/** The server metadata a provider definition states itself. */
function staticMetadata(provider: Provider): oauth.AuthorizationServer {
  const base = provider.authorizeUrl ?? provider.tokenUrl ?? provider.issuer ?? ''
  return {
    issuer: provider.issuer ?? new URL(base).origin,
    ...(provider.authorizeUrl ? { authorization_endpoint: provider.authorizeUrl } : {}),
    ...(provider.tokenUrl ? { token_endpoint: provider.tokenUrl } : {}),
    ...(provider.revokeUrl ? { revocation_endpoint: provider.revokeUrl } : {}),
    ...(provider.deviceAuthorizationUrl
      ? { device_authorization_endpoint: provider.deviceAuthorizationUrl }
      : {}),
    ...(provider.accountUrl ? { userinfo_endpoint: provider.accountUrl } : {}),
  }
}

async function discover(
  provider: Provider,
  fetcher: CustomFetch,
): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(provider.issuer as string)
  try {
    const response = await oauth.discoveryRequest(issuer, {
      [oauth.customFetch]: fetcher,
      [oauth.allowInsecureRequests]: provider.allowLoopbackHttp,
    })
    const metadata = await oauth.processDiscoveryResponse(issuer, response)
    return { ...metadata, ...staticMetadata(provider), issuer: metadata.issuer }
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    throw new KeywardError(
      KEYWARD_OAUTH_DISCOVERY_FAILED,
      `${provider.id}: OIDC discovery at ${issuer.origin} failed`,
      { cause: error, details: { provider: provider.id, issuer: issuer.href } },
    )
  }
}

/**
 * Resolves the provider's authorization server (discovered once per provider object) and the
 * transport of this call: `options[customFetch]`, else `safeFetch`.
 */
export async function resolveServer(
  provider: Provider,
  options: RequestOptions = {},
): Promise<ServerContext> {
  const custom = options[customFetch]
  if (custom !== undefined && typeof custom !== 'function') {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `[customFetch]` must be a function')
  }
  const fetch = providerFetch(provider, custom ?? defaultFetch(provider, options.timeoutMs))
  let as: oauth.AuthorizationServer
  if (provider.issuer === undefined) {
    as = staticMetadata(provider)
  } else {
    let pending = discovered.get(provider)
    if (pending === undefined) {
      pending = discover(provider, fetch)
      discovered.set(provider, pending)
      pending.catch(() => discovered.delete(provider))
    }
    as = await pending
  }
  return {
    provider,
    as,
    fetch,
    http: {
      [oauth.customFetch]: fetch,
      [oauth.allowInsecureRequests]: provider.allowLoopbackHttp,
      ...(options.signal ? { signal: options.signal } : {}),
    },
  }
}

/** Adds the client (and its authentication method at the token endpoint) to a server context. */
export function withClient(server: ServerContext, client: OAuthClient): ClientContext {
  checkClient(client)
  const provider = server.provider
  const method = provider.clientAuth ?? (client.clientSecret ? 'client_secret_basic' : 'none')
  const secret = client.clientSecret
  const auth =
    method === 'none' || secret === undefined
      ? oauth.None()
      : method === 'client_secret_post'
        ? oauth.ClientSecretPost(secret)
        : oauth.ClientSecretBasic(secret)
  return { ...server, client: { client_id: client.clientId }, auth }
}

/** Resolves the server and adds the client: what most flows start with. */
export async function resolveClient(
  provider: Provider,
  client: OAuthClient,
  options: RequestOptions = {},
): Promise<ClientContext> {
  checkClient(client)
  return withClient(await resolveServer(provider, options), client)
}

/** Throws `KEYWARD_OAUTH_UNSUPPORTED` when the server lacks an endpoint. */
export function need(
  ctx: ServerContext,
  endpoint: keyof oauth.AuthorizationServer,
  what: string,
): string {
  const value = ctx.as[endpoint]
  if (typeof value !== 'string') {
    throw new KeywardError(
      KEYWARD_OAUTH_UNSUPPORTED,
      `${ctx.provider.id}: the provider has no ${what} endpoint`,
      { details: { provider: ctx.provider.id, endpoint } },
    )
  }
  return value
}

/** Maps an oauth4webapi request failure (bad endpoint URL, aborted) to a KeywardError. */
export async function send(
  ctx: ServerContext,
  what: string,
  request: () => Promise<Response>,
): Promise<Response> {
  try {
    return await request()
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    throw new KeywardError(
      KEYWARD_OAUTH_ERROR_RESPONSE,
      `${ctx.provider.id}: the ${what} could not be sent`,
      {
        cause: error instanceof Error ? new Error(error.name) : undefined,
        details: { provider: ctx.provider.id },
      },
    )
  }
}

/** Joins scopes the way the provider's endpoints want them. */
export function joinScopes(provider: Provider, scopes: readonly string[]): string {
  return scopes.join(provider.scopeSeparator)
}

/**
 * The request options of a sign-in flow, whose own `timeoutMs` is the wait for the user and
 * not the limit of one HTTP exchange: its signal and transport only.
 */
export function serverOptions(options: Omit<RequestOptions, 'timeoutMs'>): RequestOptions {
  const custom = options[customFetch]
  return {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(custom === undefined ? {} : { [customFetch]: custom }),
  }
}

/**
 * The extra parameters of every token request: the provider's `tokenParams` and its RFC 8707
 * `resource` indicators. `undefined` when there are none.
 */
export function tokenParameters(provider: Provider): URLSearchParams | undefined {
  const params = new URLSearchParams(provider.tokenParams)
  for (const resource of provider.resource) params.append('resource', resource)
  return params.size > 0 ? params : undefined
}
