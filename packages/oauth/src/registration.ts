import {
  assertOptions,
  KEYWARD_INVALID_ARGUMENT,
  KeywardError,
  knownOAuthError,
} from '@keyward/core'
import * as oauth from 'oauth4webapi'
import * as v from 'valibot'
import type { AuthorizationServerMetadata, DiscoveryOptions } from './discovery.js'
import {
  KEYWARD_OAUTH_ERROR_RESPONSE,
  KEYWARD_OAUTH_INVALID_RESPONSE,
  KEYWARD_OAUTH_REGISTRATION_EXPIRED,
  KEYWARD_OAUTH_REGISTRATION_MISMATCH,
  KEYWARD_OAUTH_UNSUPPORTED,
} from './errors.js'
import { metadataFetch, webUrl } from './internal/metadata.js'
import { REQUEST_CHECKS } from './internal/server.js'
import type { OAuthClient } from './protocol.js'

/**
 * A client known to one authorization server: a Client ID Metadata Document URL it accepts, or
 * the result of a dynamic registration there. Keep it per issuer and reuse it across runs;
 * {@link registeredClient} refuses it at any other issuer. It holds the client secret when the
 * server issued one: store it as a secret.
 */
export interface ClientRegistration {
  /** The issuer of the authorization server the client id belongs to. */
  readonly issuer: string
  readonly clientId: string
  /** Set when the server issued one (a confidential registration); keyward asks for none. */
  readonly clientSecret?: string
  /** When the secret expires (seconds since the epoch); `0` or absent: never. */
  readonly clientSecretExpiresAt?: number
  /** `metadata-document`: the client id is the document's https URL; `dynamic`: RFC 7591. */
  readonly method: 'metadata-document' | 'dynamic'
  /** The redirect URIs the client was registered with. */
  readonly redirectUris: readonly string[]
}

/** Options of {@link registerClient}. */
export interface RegisterClientOptions extends DiscoveryOptions {
  /**
   * The https URL of the application's Client ID Metadata Document. Used as the `client_id`
   * when the server advertises `client_id_metadata_document_supported`; otherwise the client
   * registers dynamically (when the server has a `registration_endpoint`).
   */
  clientMetadataUrl?: string | undefined
  /** The redirect URIs to register (a loopback `http://127.0.0.1/callback` for native apps). */
  redirectUris: readonly string[]
  /** Shown to the user on the consent page. */
  clientName?: string | undefined
  /** The scopes the client will ask for (`scope` of the registration). */
  scopes?: readonly string[] | undefined
  /** An RFC 7591 initial access token, for servers that protect their registration endpoint. */
  initialAccessToken?: string | undefined
}

const MAX_CLIENT_ID = 2048

const RegistrationResponse = v.object({
  client_id: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_CLIENT_ID)),
  client_secret: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_CLIENT_ID))),
  client_secret_expires_at: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 53 - 1)),
  ),
})

/** The first field of a registration response outside its schema, if any. */
function fieldAtFault(body: unknown): string | undefined {
  const result = v.safeParse(RegistrationResponse, body, { abortPipeEarly: true })
  return result.success ? undefined : (v.getDotPath(result.issues[0]) ?? '')
}

/**
 * Checks a Client ID Metadata Document URL as the draft requires: https, a path, no fragment,
 * no credentials, no `.`/`..` segments.
 */
function checkMetadataUrl(value: unknown): string {
  const url = webUrl(value, 'clientMetadataUrl', false, KEYWARD_INVALID_ARGUMENT)
  const text = value as string
  const segments = text.slice(url.origin.length).split(/[?#]/)[0]?.split('/') ?? []
  if (
    url.pathname === '/' ||
    text.includes('#') ||
    segments.some((s) => /^(\.|%2e){1,2}$/i.test(s))
  ) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `clientMetadataUrl` must be an https URL with a path, without a fragment or dot segments',
      { details: { field: 'clientMetadataUrl' } },
    )
  }
  return text
}

/**
 * Gets a client id at an authorization server the application was never registered with, the
 * way the MCP authorization spec prefers: the application's Client ID Metadata Document URL
 * when the server advertises `client_id_metadata_document_supported` (no request is made), else
 * RFC 7591 dynamic registration as a public native client (`application_type: native`,
 * `token_endpoint_auth_method: none`, authorization code and refresh token grants). Without
 * either: `KEYWARD_OAUTH_UNSUPPORTED`. The server's refusal is `KEYWARD_OAUTH_ERROR_RESPONSE`
 * (`details.error`), a malformed answer `KEYWARD_OAUTH_INVALID_RESPONSE`; neither carries the
 * body.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7591
 * @see https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/
 * @example
 * ```ts
 * import { discoverAuthorizationServer, registerClient } from '@keyward/oauth'
 *
 * const server = await discoverAuthorizationServer('https://auth.example.com')
 * const registration = await registerClient(server, {
 *   clientMetadataUrl: 'https://app.example/oauth-client.json',
 *   redirectUris: ['http://127.0.0.1/callback'],
 *   clientName: 'Example agent',
 * })
 * // keep `registration` per issuer (registration.issuer) and reuse it next time
 * ```
 */
export async function registerClient(
  server: AuthorizationServerMetadata,
  options: RegisterClientOptions,
): Promise<ClientRegistration> {
  assertOptions(options, 'registerClient', {
    ...REQUEST_CHECKS,
    allowLoopbackHttp: 'boolean',
    clientName: 'non-empty string',
    initialAccessToken: 'non-empty string',
  })
  const redirectUris = options.redirectUris as unknown
  if (
    !Array.isArray(redirectUris) ||
    redirectUris.length === 0 ||
    !redirectUris.every((uri) => typeof uri === 'string' && URL.canParse(uri))
  ) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `redirectUris` must be a non-empty array of absolute URLs',
      { details: { field: 'redirectUris' } },
    )
  }
  const metadataUrl =
    options.clientMetadataUrl === undefined
      ? undefined
      : checkMetadataUrl(options.clientMetadataUrl)
  if (metadataUrl !== undefined && server.client_id_metadata_document_supported === true) {
    return Object.freeze({
      issuer: server.issuer,
      clientId: metadataUrl,
      method: 'metadata-document',
      redirectUris: Object.freeze([...options.redirectUris]),
    })
  }
  if (server.registration_endpoint === undefined) {
    throw new KeywardError(
      KEYWARD_OAUTH_UNSUPPORTED,
      `${server.issuer} accepts neither Client ID Metadata Documents${metadataUrl === undefined ? ' (no clientMetadataUrl given)' : ''} nor dynamic registration: configure a client id`,
      { details: { issuer: server.issuer, endpoint: 'registration_endpoint' } },
    )
  }
  return register(server, options)
}

async function register(
  server: AuthorizationServerMetadata,
  options: RegisterClientOptions,
): Promise<ClientRegistration> {
  const allowHttp = options.allowLoopbackHttp === true
  webUrl(server.registration_endpoint, 'registration_endpoint', allowHttp, KEYWARD_INVALID_ARGUMENT)
  const metadata: Partial<oauth.OmitSymbolProperties<oauth.Client>> = {
    application_type: 'native',
    redirect_uris: [...options.redirectUris],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...(options.clientName === undefined ? {} : { client_name: options.clientName }),
    ...(options.scopes === undefined || options.scopes.length === 0
      ? {}
      : { scope: options.scopes.join(' ') }),
  }
  const malformed = (field: string) =>
    new KeywardError(
      KEYWARD_OAUTH_INVALID_RESPONSE,
      `${server.issuer}: the client registration response is malformed${field === '' ? '' : ` (field \`${field}\`)`}`,
      { details: { issuer: server.issuer, field } },
    )
  let body: unknown
  try {
    const response = await oauth.dynamicClientRegistrationRequest(server, metadata, {
      [oauth.customFetch]: metadataFetch(options),
      [oauth.allowInsecureRequests]: allowHttp,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.initialAccessToken ? { initialAccessToken: options.initialAccessToken } : {}),
    })
    body = await oauth.processDynamicClientRegistrationResponse(response)
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    if (error instanceof oauth.ResponseBodyError) {
      const code = knownOAuthError(error.error) ?? 'unrecognized_error'
      throw new KeywardError(
        KEYWARD_OAUTH_ERROR_RESPONSE,
        `${server.issuer}: the client registration failed with HTTP ${error.status} (${code})`,
        { details: { issuer: server.issuer, status: error.status, error: code } },
      )
    }
    // oauth4webapi's errors quote the body, which may hold a client secret: only the field.
    const quoted = (error as { cause?: { body?: unknown } } | null)?.cause?.body
    throw malformed(quoted === undefined ? '' : (fieldAtFault(quoted) ?? ''))
  }
  const result = v.safeParse(RegistrationResponse, body, { abortPipeEarly: true })
  if (!result.success) throw malformed(v.getDotPath(result.issues[0]) ?? '')
  const { client_id, client_secret, client_secret_expires_at } = result.output
  return Object.freeze({
    issuer: server.issuer,
    clientId: client_id,
    ...(client_secret === undefined ? {} : { clientSecret: client_secret }),
    ...(client_secret_expires_at === undefined
      ? {}
      : { clientSecretExpiresAt: client_secret_expires_at }),
    method: 'dynamic',
    redirectUris: Object.freeze([...options.redirectUris]),
  })
}

/**
 * The {@link OAuthClient} of a stored registration, for the authorization server it is used
 * with: a registration issued by (or for) another issuer is refused with
 * `KEYWARD_OAUTH_REGISTRATION_MISMATCH` — a client id from one server is never sent to another.
 * A registration whose client secret has expired is refused with
 * `KEYWARD_OAUTH_REGISTRATION_EXPIRED`: register again.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-3.2.1 (client information response)
 * @example
 * ```ts
 * import { type ClientRegistration, discoverAuthorizationServer, registeredClient } from '@keyward/oauth'
 *
 * declare const stored: ClientRegistration // kept from an earlier registerClient
 * const server = await discoverAuthorizationServer('https://auth.example.com')
 * const client = registeredClient(stored, server) // throws if stored.issuer is another server
 * ```
 */
export function registeredClient(
  registration: ClientRegistration,
  server: Pick<AuthorizationServerMetadata, 'issuer'> | string,
  options: { now?: number | undefined } = {},
): OAuthClient {
  const issuer = typeof server === 'string' ? server : server.issuer
  if (typeof registration?.clientId !== 'string' || registration.clientId === '') {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'argument `registration` is not a client registration',
      { details: { field: 'registration' } },
    )
  }
  if (registration.issuer !== issuer) {
    throw new KeywardError(
      KEYWARD_OAUTH_REGISTRATION_MISMATCH,
      `the client registration belongs to ${registration.issuer}, not ${issuer}: register at ${issuer}`,
      { details: { issuer, registeredIssuer: registration.issuer } },
    )
  }
  const expires = registration.clientSecretExpiresAt
  if (expires !== undefined && expires !== 0 && expires * 1000 <= (options.now ?? Date.now())) {
    throw new KeywardError(
      KEYWARD_OAUTH_REGISTRATION_EXPIRED,
      `the client registration at ${issuer} has an expired client secret: register again`,
      { details: { issuer } },
    )
  }
  return {
    clientId: registration.clientId,
    ...(registration.clientSecret === undefined ? {} : { clientSecret: registration.clientSecret }),
  }
}
