// Discovery and client registration for the provider, through @keyward/oauth rather than the
// SDK's own: RFC 9728 from the server's challenge in the MCP spec's order, RFC 8414/OIDC in the
// three-URL order with the issuer check (mix-up) and the PKCE check, Client ID Metadata
// Documents else RFC 7591, and registrations bound to the issuer that issued them.
import type { Logger } from '@keyward/core'
import {
  type AuthorizationServerMetadata,
  type BearerChallenge,
  type ClientRegistration,
  type CustomFetch,
  customFetch,
  discoverAuthorizationServer,
  discoverProtectedResource,
  type ProtectedResourceMetadata,
  parseBearerChallenge,
  registerClient,
  registeredClient,
  safeFetch,
  selectScopes,
} from '@keyward/oauth'
import type {
  McpAuthorizationServerMetadata,
  McpClientInformation,
  McpDiscoveryState,
  McpProtectedResourceMetadata,
} from '../types.js'
import { issuerOf } from './storage.js'

/** How the provider reaches metadata and registration endpoints. */
export interface NetworkOptions {
  readonly allowLoopbackHttp: boolean
  /** The `[customFetch]` option of `mcpAuthProvider`, when set. */
  readonly fetch: CustomFetch | undefined
  readonly logger: Logger
}

function requestOptions(network: NetworkOptions) {
  return {
    allowLoopbackHttp: network.allowLoopbackHttp,
    ...(network.fetch === undefined ? {} : { [customFetch]: network.fetch }),
  }
}

/**
 * The server's `WWW-Authenticate` challenge, asked for with a request that carries no token (the
 * SDK does not hand the one it received to the provider). Its `resource_metadata` comes first in
 * the discovery order; without a usable challenge, discovery goes on with the well-known URLs.
 */
async function challengeOf(
  serverUrl: URL,
  network: NetworkOptions,
): Promise<BearerChallenge | undefined> {
  const init: RequestInit = {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping' }),
    redirect: 'manual',
  }
  const response = await (
    network.fetch ??
    ((url, i) => safeFetch(url, i, { allowLoopbackHttp: network.allowLoopbackHttp }))
  )(serverUrl.href, init)
  await response.body?.cancel().catch(() => {})
  if (response.status !== 401 && response.status !== 403) return undefined
  try {
    return parseBearerChallenge(response)
  } catch (error) {
    network.logger.warn('mcp: ignoring a malformed WWW-Authenticate challenge', {
      server: serverUrl.href,
      code: (error as { code?: unknown }).code,
    })
    return undefined
  }
}

/**
 * Discovers what a sign-in to the MCP server at `serverUrl` needs, in the MCP authorization
 * spec's order: the protected resource metadata (challenge URL, path-aware well-known URL, root
 * well-known URL), then its first authorization server's metadata (RFC 8414 and OIDC, three URLs
 * for an issuer with a path). Refusals keep their `@keyward/oauth` codes: a metadata document
 * naming another issuer is `KEYWARD_OAUTH_ISSUER_MISMATCH`, one without S256 PKCE
 * `KEYWARD_OAUTH_PKCE_UNSUPPORTED`, a resource naming another server
 * `KEYWARD_OAUTH_RESOURCE_MISMATCH`.
 */
export async function discover(
  serverUrl: URL,
  network: NetworkOptions,
): Promise<McpDiscoveryState> {
  const challenge = await challengeOf(serverUrl, network)
  const options = requestOptions(network)
  const resource = await discoverProtectedResource(serverUrl, { ...options, challenge })
  const server = await discoverAuthorizationServer(
    resource.authorization_servers[0] as string,
    options,
  )
  return {
    authorizationServerUrl: server.issuer,
    ...(challenge?.resourceMetadata === undefined
      ? {}
      : { resourceMetadataUrl: challenge.resourceMetadata }),
    authorizationServerMetadata: server as unknown as McpAuthorizationServerMetadata,
    resourceMetadata: resource as unknown as McpProtectedResourceMetadata,
  }
}

/** What the provider registers as (its client options and metadata). */
export interface RegistrationInput {
  readonly clientMetadataUrl: string | undefined
  readonly clientName: string | undefined
  readonly redirectUri: string
  readonly scopes: readonly string[] | undefined
}

/**
 * A client id at the authorization server of `discovery`: the Client ID Metadata Document URL
 * where the server accepts one, else an RFC 7591 registration (`registerClient`), as the SDK
 * stores client information, stamped with the issuer.
 */
export async function register(
  discovery: McpDiscoveryState,
  input: RegistrationInput,
  network: NetworkOptions,
): Promise<McpClientInformation> {
  const server = discovery.authorizationServerMetadata
  // Every scope the resource lists (so a later step-up stays within the registration), and
  // `offline_access` where the server offers it, as the MCP spec selects them; plus the host's.
  const selected = selectScopes({
    resource: discovery.resourceMetadata as Pick<ProtectedResourceMetadata, 'scopes_supported'>,
    server: server as Pick<AuthorizationServerMetadata, 'scopes_supported'>,
  })
  const scopes = [...new Set([...selected, ...(input.scopes ?? [])])]
  const registration = await registerClient(
    server as unknown as Parameters<typeof registerClient>[0],
    {
      ...requestOptions(network),
      clientMetadataUrl: input.clientMetadataUrl,
      clientName: input.clientName,
      redirectUris: [input.redirectUri],
      scopes: scopes.length === 0 ? undefined : scopes,
    },
  )
  return {
    client_id: registration.clientId,
    ...(registration.clientSecret === undefined
      ? { token_endpoint_auth_method: 'none' }
      : { client_secret: registration.clientSecret }),
    ...(registration.clientSecretExpiresAt === undefined
      ? {}
      : { client_secret_expires_at: registration.clientSecretExpiresAt }),
    issuer: registration.issuer,
  }
}

/**
 * Checks that a stored registration belongs to `issuer` (`registeredClient`): one issued by
 * another authorization server is refused with `KEYWARD_OAUTH_REGISTRATION_MISMATCH` before its
 * client id is sent anywhere; an expired client secret with `KEYWARD_OAUTH_REGISTRATION_EXPIRED`.
 */
export function checkRegistration(information: McpClientInformation, issuer: string): void {
  const registration: ClientRegistration = {
    issuer: issuerOf(information.issuer ?? issuer),
    clientId: information.client_id,
    ...(information.client_secret === undefined ? {} : { clientSecret: information.client_secret }),
    ...(information.client_secret_expires_at === undefined
      ? {}
      : { clientSecretExpiresAt: information.client_secret_expires_at }),
    method: 'dynamic',
    redirectUris: [],
  }
  registeredClient(registration, issuerOf(issuer))
}
