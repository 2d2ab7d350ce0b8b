/**
 * The public types of `@keyward/mcp`: the options of {@link mcpAuthProvider} and the shape of
 * what it returns. The OAuth types mirror the MCP SDK's own (v1 `@modelcontextprotocol/sdk`,
 * v2 `@modelcontextprotocol/client`) structurally, so this package's declarations never import
 * the SDK: a host installs the SDK version it uses.
 *
 * @module
 */
import type { AuthStore } from '@keyward/authstore'
import type { Logger } from '@keyward/core'
import type { CustomFetch, customFetch } from '@keyward/oauth'

/**
 * The OAuth client the provider signs in as. With `clientMetadataUrl` (a Client ID Metadata
 * Document, an https URL the authorization server fetches) the URL is the client id wherever
 * the server supports it; otherwise the provider registers itself dynamically (RFC 7591) and
 * keeps the registration per authorization server; `clientId` (and `clientSecret`) name a
 * client registered beforehand.
 */
export interface McpClientOptions {
  /** An https URL whose document describes the client (the MCP spec's preferred registration). */
  readonly clientMetadataUrl?: string | undefined
  /** A client registered beforehand with the authorization server. */
  readonly clientId?: string | undefined
  /** The secret of `clientId`, for a confidential client. */
  readonly clientSecret?: string | undefined
  /** The name the authorization server shows on its consent page (default `keyward MCP client`). */
  readonly clientName?: string | undefined
}

/** Options of {@link mcpAuthProvider}. */
export interface McpAuthProviderOptions {
  /** Where tokens, registrations and pending sign-ins are kept (any driver). */
  readonly store: AuthStore
  /** The MCP server's URL (the protected resource), as passed to the SDK's transport. */
  readonly serverUrl: string | URL
  /** The OAuth client; default: dynamic registration named `keyward MCP client`. */
  readonly client?: McpClientOptions | undefined
  /**
   * May the provider start a browser sign-in? Default: when an `openBrowser` is given or the
   * machine has a display. `false`: a call that needs a sign-in fails at once with
   * `KEYWARD_AUTH_REQUIRED` (`reason: 'reauth_required'`), opening nothing, binding nothing.
   */
  readonly interactive?: boolean | undefined
  /** Opens the authorization URL (default: the platform's URL opener). A failure is not fatal: the URL is logged. */
  readonly openBrowser?: ((url: string) => void | Promise<void>) | undefined
  /** Which account of the server the tokens belong to (default `default`). */
  readonly account?: string | undefined
  /** Scopes to ask for when the server names none (`WWW-Authenticate` or its metadata). */
  readonly scopes?: readonly string[] | undefined
  /** How long an interactive sign-in waits for the browser's callback (default 300 000 ms). */
  readonly signInTimeoutMs?: number | undefined
  /**
   * Accept plain-http authorization servers on loopback addresses, for local development and
   * tests only. Everything else must be https.
   */
  readonly allowLoopbackHttp?: boolean | undefined
  readonly logger?: Logger | undefined
  /**
   * Replaces the transport of discovery and client registration (`@keyward/oauth`'s
   * `customFetch`; default `safeFetch`): a loud opt-out of its SSRF policy, for tests and hosts
   * that route through their own client.
   */
  readonly [customFetch]?: CustomFetch | undefined
}

/** Tokens as the MCP SDK reads them: never a refresh token (refreshing is keyward's job). */
export interface McpOAuthTokens {
  access_token: string
  token_type: string
  /** The granted scopes, space-separated. */
  scope?: string
  /** Seconds the token stays valid (relative; only on tokens the SDK hands in). */
  expires_in?: number
  /** Only on tokens the SDK hands to `saveTokens`; never on those `tokens()` returns. */
  refresh_token?: string
  id_token?: string
  /** The authorization server the tokens came from. */
  issuer?: string
}

/** A client registration as the SDK stores it (RFC 7591 response, or a CIMD client id). */
export interface McpClientInformation {
  client_id: string
  client_secret?: string
  client_id_issued_at?: number
  client_secret_expires_at?: number
  token_endpoint_auth_method?: string
  /** The authorization server the registration belongs to. */
  issuer?: string
}

/** The client metadata the provider registers with (RFC 7591). */
export interface McpClientMetadata {
  redirect_uris: string[]
  client_name?: string
  grant_types?: string[]
  response_types?: string[]
  token_endpoint_auth_method?: string
  scope?: string
  application_type?: string
}

/** Authorization server metadata (RFC 8414), the fields the provider reads. */
export interface McpAuthorizationServerMetadata {
  issuer: string
  authorization_endpoint: string
  token_endpoint: string
  response_types_supported: string[]
  registration_endpoint?: string
  scopes_supported?: string[]
  code_challenge_methods_supported?: string[]
  authorization_response_iss_parameter_supported?: boolean
  client_id_metadata_document_supported?: boolean
  /** Other fields the server sends, kept as they are. */
  [field: string]: unknown
}

/** Protected resource metadata (RFC 9728), the fields the provider reads. */
export interface McpProtectedResourceMetadata {
  resource: string
  authorization_servers?: string[]
  scopes_supported?: string[]
  /** Other fields the server sends, kept as they are. */
  [field: string]: unknown
}

/** What the SDK's discovery found, kept per MCP server so every process reuses it. */
export interface McpDiscoveryState {
  authorizationServerUrl: string
  resourceMetadataUrl?: string
  authorizationServerMetadata?: McpAuthorizationServerMetadata
  resourceMetadata?: McpProtectedResourceMetadata
}

/** The context the v2 SDK passes to the credential methods: the authorization server in use. */
export interface McpIssuerContext {
  issuer: string
}

/** What `invalidateCredentials` is asked to drop. */
export type McpCredentialScope = 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'

/**
 * What {@link mcpAuthProvider} returns: an `OAuthClientProvider` of the MCP SDK, v1 and v2,
 * plus {@link McpAuthProvider.completeSignIn} for hosts that take the redirect themselves.
 */
export interface McpAuthProvider {
  /** The loopback redirect URI registered with the server (the port is chosen per sign-in). */
  readonly redirectUrl: string
  readonly clientMetadata: McpClientMetadata
  readonly clientMetadataUrl?: string
  state(): Promise<string>
  clientInformation(ctx?: McpIssuerContext): Promise<McpClientInformation | undefined>
  saveClientInformation(information: McpClientInformation, ctx?: McpIssuerContext): Promise<void>
  tokens(ctx?: McpIssuerContext): Promise<McpOAuthTokens | undefined>
  saveTokens(tokens: McpOAuthTokens, ctx?: McpIssuerContext): Promise<void>
  redirectToAuthorization(authorizationUrl: URL): Promise<void>
  saveCodeVerifier(codeVerifier: string): Promise<void>
  codeVerifier(): Promise<string>
  invalidateCredentials(scope: McpCredentialScope): Promise<void>
  saveDiscoveryState(state: McpDiscoveryState): Promise<void>
  discoveryState(): Promise<McpDiscoveryState | undefined>
  /**
   * Finishes a sign-in from the URL the browser was redirected to (the paste mode): checks its
   * `state` against the sign-ins started (kept in the store, so across a restart) and its
   * `iss`, exchanges the code and stores the tokens.
   */
  completeSignIn(callbackUrl: string | URL): Promise<void>
}
