import { assertOptions, KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import type * as oauth from 'oauth4webapi'
import * as v from 'valibot'
import { type BearerChallenge, parseBearerChallenge } from './challenge.js'
import {
  KEYWARD_OAUTH_DISCOVERY_FAILED,
  KEYWARD_OAUTH_ISSUER_MISMATCH,
  KEYWARD_OAUTH_PKCE_UNSUPPORTED,
  KEYWARD_OAUTH_RESOURCE_MISMATCH,
} from './errors.js'
import { optionalFields } from './internal/fields.js'
import {
  type Fetched,
  getMetadata,
  type MetadataOptions,
  metadataFetch,
  webUrl,
} from './internal/metadata.js'
import { REQUEST_CHECKS, useMetadata } from './internal/server.js'
import { defineProvider, type Provider } from './provider.js'

/** Options of {@link discoverProtectedResource} and {@link discoverAuthorizationServer}. */
export interface DiscoveryOptions extends MetadataOptions {
  /**
   * Accept plain-http metadata URLs on loopback addresses (local development and tests only);
   * `safeFetch` still refuses every other plain-http address.
   */
  allowLoopbackHttp?: boolean | undefined
}

/** Options of {@link discoverProtectedResource}. */
export interface ProtectedResourceDiscoveryOptions extends DiscoveryOptions {
  /**
   * The resource's `WWW-Authenticate` challenge (the header value, the `Response`, or
   * {@link parseBearerChallenge}'s result): its `resource_metadata` URL is tried first.
   */
  challenge?: BearerChallenge | string | Response | undefined
}

/** Protected resource metadata (RFC 9728 §2), checked: the fields keyward relies on, and the rest as sent. */
export interface ProtectedResourceMetadata {
  /** The resource identifier: what RFC 8707 `resource` parameters carry. */
  readonly resource: string
  /** Issuer identifiers of the authorization servers that issue tokens for it (at least one). */
  readonly authorization_servers: readonly string[]
  readonly scopes_supported?: readonly string[]
  readonly bearer_methods_supported?: readonly string[]
  readonly resource_name?: string
  readonly [field: string]: unknown
}

/**
 * Authorization server metadata (RFC 8414 §2 / OpenID Connect Discovery), checked:
 * oauth4webapi's `AuthorizationServer` plus the Client ID Metadata Document flag.
 */
export type AuthorizationServerMetadata = oauth.AuthorizationServer & {
  /** The server accepts an https URL as `client_id` (OAuth Client ID Metadata Document). */
  readonly client_id_metadata_document_supported?: boolean
}

const stringList = (field: string) => v.array(v.string(`${field} must list strings`), field)
const absoluteUrl = (field: string) =>
  v.pipe(
    v.string(`${field} must be a string`),
    v.check((value) => URL.canParse(value), `${field} must be an absolute URL`),
  )

const ResourceSchema = v.looseObject({
  resource: absoluteUrl('resource'),
  authorization_servers: v.pipe(
    stringList('authorization_servers'),
    v.minLength(1, 'authorization_servers must name at least one issuer'),
  ),
  ...optionalFields(['scopes_supported', 'bearer_methods_supported'], stringList),
  resource_name: v.optional(v.string('resource_name must be a string')),
})

const ServerSchema = v.looseObject({
  issuer: absoluteUrl('issuer'),
  ...optionalFields(
    [
      'authorization_endpoint',
      'token_endpoint',
      'registration_endpoint',
      'revocation_endpoint',
      'device_authorization_endpoint',
      'userinfo_endpoint',
    ],
    absoluteUrl,
  ),
  ...optionalFields(['scopes_supported', 'code_challenge_methods_supported'], stringList),
  ...optionalFields(
    ['client_id_metadata_document_supported', 'authorization_response_iss_parameter_supported'],
    (field) => v.boolean(`${field} must be a boolean`),
  ),
})

function checkOptions(options: DiscoveryOptions, where: string): void {
  assertOptions(options, where, { ...REQUEST_CHECKS, allowLoopbackHttp: 'boolean' })
}

/** Validates a fetched document with `schema`; a malformed one names its field. */
function parsed<S extends v.GenericSchema>(
  schema: S,
  fetched: Fetched,
  url: URL,
  what: string,
): v.InferOutput<S> {
  const result = v.safeParse(schema, fetched.body, { abortPipeEarly: true })
  if (!result.success || fetched.body === undefined) {
    const field = result.success ? '' : (v.getDotPath(result.issues[0]) ?? '')
    throw new KeywardError(
      KEYWARD_OAUTH_DISCOVERY_FAILED,
      `${what} at ${url.href} is malformed${field === '' ? ' (not a JSON object)' : ` (field \`${field}\`)`}`,
      { details: { url: url.href, field } },
    )
  }
  return result.output
}

/**
 * Fetches the candidate URLs in order and validates the first document found with `schema`. A
 * 4xx answer moves to the next URL; any other failure stops. `tried` lists the URLs asked.
 */
async function firstDocument<S extends v.GenericSchema>(
  candidates: readonly URL[],
  schema: S,
  what: string,
  options: DiscoveryOptions,
): Promise<{ found?: { url: URL; metadata: v.InferOutput<S> }; tried: string[] }> {
  const fetcher = metadataFetch(options)
  const tried: string[] = []
  for (const url of candidates) {
    if (tried.includes(url.href)) continue
    tried.push(url.href)
    const fetched = await getMetadata(fetcher, url, options)
    if (fetched.status >= 400 && fetched.status < 500) continue
    if (fetched.status !== 200) {
      throw new KeywardError(
        KEYWARD_OAUTH_DISCOVERY_FAILED,
        `${what} at ${url.href} answered HTTP ${fetched.status}`,
        { details: { url: url.href, status: fetched.status, tried } },
      )
    }
    return { found: { url, metadata: parsed(schema, fetched, url, what) }, tried }
  }
  return { tried }
}

/** Whether `declared` (a metadata `resource`) is `requested`, or a path prefix of it on its origin. */
function resourceMatches(declared: string, requested: URL): boolean {
  const url = new URL(declared)
  if (url.origin !== requested.origin || url.hash !== '' || declared.includes('#')) return false
  if (url.search !== '' && url.search !== requested.search) return false
  const base = url.pathname.replace(/\/$/, '')
  const path = requested.pathname.replace(/\/$/, '')
  return path === base || path.startsWith(`${base}/`)
}

/** The well-known URL with `suffix` inserted between the origin and the path (RFC 8414 §3.1). */
function inserted(url: URL, suffix: string): URL {
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  return new URL(`${url.origin}/.well-known/${suffix}${path}`)
}

/**
 * Finds a protected resource's metadata (RFC 9728) the way the MCP authorization spec orders
 * it: the `resource_metadata` URL of the resource's `WWW-Authenticate` challenge when there is
 * one, then the path-aware well-known URL (`/.well-known/oauth-protected-resource/<path>`), then
 * the root one. A 4xx answer moves to the next URL; any other failure stops. The metadata's
 * `resource` must be the resource asked about (or a path prefix of it on the same origin), else
 * `KEYWARD_OAUTH_RESOURCE_MISMATCH`; none found or a malformed one is
 * `KEYWARD_OAUTH_DISCOVERY_FAILED` (`details.tried` lists the URLs).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9728
 * @example
 * ```ts
 * import { discoverProtectedResource } from '@keyward/oauth'
 *
 * const url = 'https://mcp.example.com/mcp'
 * const response = await fetch(url, { method: 'POST' })
 * if (response.status === 401) {
 *   const metadata = await discoverProtectedResource(url, { challenge: response })
 *   console.log(metadata.resource, metadata.authorization_servers[0])
 * }
 * ```
 */
export async function discoverProtectedResource(
  resourceUrl: string | URL,
  options: ProtectedResourceDiscoveryOptions = {},
): Promise<ProtectedResourceMetadata> {
  checkOptions(options, 'discoverProtectedResource')
  const allowHttp = options.allowLoopbackHttp === true
  const requested = webUrl(resourceUrl, 'resourceUrl', allowHttp, KEYWARD_INVALID_ARGUMENT)
  const challenge =
    options.challenge === undefined ||
    typeof options.challenge === 'string' ||
    options.challenge instanceof Response
      ? parseBearerChallenge(options.challenge)
      : options.challenge
  const candidates: URL[] = []
  if (challenge?.resourceMetadata !== undefined) {
    candidates.push(
      webUrl(
        challenge.resourceMetadata,
        'resource_metadata',
        allowHttp,
        KEYWARD_OAUTH_DISCOVERY_FAILED,
      ),
    )
  }
  if (requested.pathname !== '/') candidates.push(inserted(requested, 'oauth-protected-resource'))
  candidates.push(new URL(`${requested.origin}/.well-known/oauth-protected-resource`))
  const { found, tried } = await firstDocument(
    candidates,
    ResourceSchema,
    'protected resource metadata',
    options,
  )
  if (found !== undefined) {
    const { url, metadata } = found
    if (!resourceMatches(metadata.resource, requested)) {
      throw new KeywardError(
        KEYWARD_OAUTH_RESOURCE_MISMATCH,
        `protected resource metadata at ${url.href} is for ${metadata.resource}, not ${requested.href}`,
        { details: { url: url.href, resource: metadata.resource, expected: requested.href } },
      )
    }
    return Object.freeze(metadata) as ProtectedResourceMetadata
  }
  throw new KeywardError(
    KEYWARD_OAUTH_DISCOVERY_FAILED,
    `no protected resource metadata for ${requested.href} (tried ${tried.join(', ')})`,
    { details: { resource: requested.href, tried } },
  )
}

/**
 * The metadata URLs of an issuer in the order the MCP authorization spec tries them. With a
 * path (`https://auth.example.com/tenant1`): RFC 8414 path insertion, OIDC path insertion, OIDC
 * path appending. Without: `/.well-known/oauth-authorization-server`, then
 * `/.well-known/openid-configuration`.
 */
function serverMetadataUrls(issuer: URL): URL[] {
  if (issuer.pathname === '/' || issuer.pathname === '') {
    return [
      new URL(`${issuer.origin}/.well-known/oauth-authorization-server`),
      new URL(`${issuer.origin}/.well-known/openid-configuration`),
    ]
  }
  const path = issuer.pathname.replace(/\/$/, '')
  return [
    inserted(issuer, 'oauth-authorization-server'),
    inserted(issuer, 'openid-configuration'),
    new URL(`${issuer.origin}${path}/.well-known/openid-configuration`),
  ]
}

/**
 * Fetches an authorization server's metadata the way the MCP authorization spec orders it
 * (RFC 8414 and OpenID Connect Discovery; for an issuer with a path: OAuth path insertion, OIDC
 * path insertion, OIDC path appending). A 4xx answer moves to the next URL; the first document
 * found decides. Refusals, each with its own code:
 * - the document's `issuer` is not the issuer asked about (a mix-up):
 *   `KEYWARD_OAUTH_ISSUER_MISMATCH`;
 * - `code_challenge_methods_supported` is absent or lacks `S256`: `KEYWARD_OAUTH_PKCE_UNSUPPORTED`;
 * - no document, or a malformed one: `KEYWARD_OAUTH_DISCOVERY_FAILED`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414
 * @example
 * ```ts
 * import { discoverAuthorizationServer, discoverProtectedResource } from '@keyward/oauth'
 *
 * const resource = await discoverProtectedResource('https://mcp.example.com/mcp')
 * const server = await discoverAuthorizationServer(resource.authorization_servers[0] as string)
 * console.log(server.authorization_endpoint, server.registration_endpoint)
 * ```
 */
export async function discoverAuthorizationServer(
  issuer: string | URL,
  options: DiscoveryOptions = {},
): Promise<AuthorizationServerMetadata> {
  checkOptions(options, 'discoverAuthorizationServer')
  const expected = webUrl(
    issuer,
    'issuer',
    options.allowLoopbackHttp === true,
    KEYWARD_INVALID_ARGUMENT,
  )
  if (expected.search !== '' || expected.hash !== '' || String(issuer).includes('#')) {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, '`issuer` must have no query or fragment', {
      details: { field: 'issuer' },
    })
  }
  const { found, tried } = await firstDocument(
    serverMetadataUrls(expected),
    ServerSchema,
    'authorization server metadata',
    options,
  )
  if (found !== undefined) {
    const { url, metadata } = found
    // RFC 8414 §3.3: identical to the issuer the URL was built from (an empty path and `/` are
    // the same URL, as oauth4webapi compares them).
    if (new URL(metadata.issuer).href !== expected.href) {
      throw new KeywardError(
        KEYWARD_OAUTH_ISSUER_MISMATCH,
        `authorization server metadata at ${url.href} names issuer ${metadata.issuer}, not ${expected.href}: refused (mix-up)`,
        { details: { url: url.href, issuer: metadata.issuer, expected: String(issuer) } },
      )
    }
    if (!metadata.code_challenge_methods_supported?.includes('S256')) {
      throw new KeywardError(
        KEYWARD_OAUTH_PKCE_UNSUPPORTED,
        `${metadata.issuer} does not advertise PKCE with S256 (code_challenge_methods_supported); refused`,
        { details: { issuer: metadata.issuer, field: 'code_challenge_methods_supported' } },
      )
    }
    return Object.freeze(metadata) as AuthorizationServerMetadata
  }
  throw new KeywardError(
    KEYWARD_OAUTH_DISCOVERY_FAILED,
    `no authorization server metadata for ${expected.href} (tried ${tried.join(', ')})`,
    { details: { issuer: expected.href, tried } },
  )
}

/** Options of {@link providerFromMetadata}. */
export interface MetadataProviderOptions {
  /** The provider's id in messages and events. Default: made from the issuer's host name. */
  id?: string | undefined
  /** RFC 8707 resource indicator(s) sent on every request (the protected resource's `resource`). */
  resource?: string | readonly string[] | undefined
  /** Scopes asked for by default (see {@link selectScopes}). */
  scopes?: readonly string[] | undefined
  /** Accept plain-http endpoints on loopback addresses (local development and tests only). */
  allowLoopbackHttp?: boolean | undefined
}

/**
 * Turns discovered authorization server metadata into a {@link Provider} every flow of this
 * package takes (`authorizationUrl`, `exchangeCode`, `loginWithBrowser`, `refreshTokens`,
 * `oauthRefresher`…). The flows use this metadata as is — its issuer for the RFC 9207 `iss`
 * check, its endpoints — and never discover it again.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-2 (authorization server metadata)
 * @example
 * ```ts
 * import { authorizationUrl, discoverAuthorizationServer, providerFromMetadata } from '@keyward/oauth'
 *
 * const metadata = await discoverAuthorizationServer('https://auth.example.com/tenant1')
 * const provider = providerFromMetadata(metadata, { resource: 'https://mcp.example.com/mcp' })
 * const started = await authorizationUrl(provider, { clientId: 'https://app.example/oauth-client.json' }, {
 *   redirectUri: 'http://127.0.0.1:33418/callback',
 *   scopes: ['mcp:tools'],
 * })
 * ```
 */
export function providerFromMetadata(
  metadata: AuthorizationServerMetadata,
  options: MetadataProviderOptions = {},
): Provider {
  assertOptions(options, 'providerFromMetadata', {
    id: 'non-empty string',
    allowLoopbackHttp: 'boolean',
  })
  const host = new URL(metadata.issuer).hostname.toLowerCase().replace(/[^a-z0-9.-]/g, '-')
  const id = options.id ?? (/^[a-z0-9]/.test(host) ? host.slice(0, 64) : 'authorization-server')
  const provider = defineProvider({
    id,
    issuer: metadata.issuer,
    ...(metadata.authorization_endpoint ? { authorizeUrl: metadata.authorization_endpoint } : {}),
    ...(metadata.token_endpoint ? { tokenUrl: metadata.token_endpoint } : {}),
    ...(metadata.revocation_endpoint ? { revokeUrl: metadata.revocation_endpoint } : {}),
    ...(metadata.device_authorization_endpoint
      ? { deviceAuthorizationUrl: metadata.device_authorization_endpoint }
      : {}),
    ...(options.resource === undefined ? {} : { resource: options.resource }),
    ...(options.scopes === undefined ? {} : { scopes: [...options.scopes] }),
    allowLoopbackHttp: options.allowLoopbackHttp === true,
  })
  useMetadata(provider, metadata)
  return provider
}
