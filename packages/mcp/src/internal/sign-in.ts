// The pieces of a sign-in the provider finishes itself: what a grant is bound to (from the
// SDK's discovery state and the client registration), and the code exchange of a pending flow
// through @keyward/oauth (state, `iss`, PKCE, RFC 8707 `resource`).
import { KeywardError, type TokenSet } from '@keyward/core'
import { exchangeCode, KEYWARD_OAUTH_ERROR_RESPONSE } from '@keyward/oauth'
import type { McpClientInformation, McpDiscoveryState } from '../types.js'
import { grantProvider } from './refresher.js'
import { type Flow, type Grant, type GrantClient, issuerOf } from './storage.js'

/** Space-separated scopes as a list (empty for none). */
export function scopesOf(value: string | null | undefined): string[] {
  return (value ?? '').split(' ').filter((s) => s !== '')
}

const METHODS = new Set(['client_secret_basic', 'client_secret_post', 'none'])

/** The grant a sign-in at `issuer` as `client` produces, or undefined without discovery state. */
export function grantFromDiscovery(
  discovery: McpDiscoveryState | undefined,
  client: Partial<McpClientInformation> | undefined,
  issuer: string | undefined,
): Grant | undefined {
  const tokenEndpoint = discovery?.authorizationServerMetadata?.token_endpoint
  if (tokenEndpoint === undefined || issuer === undefined || !client?.client_id) return undefined
  const method = client.token_endpoint_auth_method
  const grantClient: GrantClient = {
    clientId: client.client_id,
    ...(client.client_secret === undefined ? {} : { clientSecret: client.client_secret }),
    ...(method !== undefined && METHODS.has(method)
      ? { authMethod: method as GrantClient['authMethod'] & string }
      : {}),
  }
  const resource = discovery?.resourceMetadata?.resource
  return {
    issuer: issuerOf(issuer),
    tokenEndpoint,
    ...(resource === undefined ? {} : { resource }),
    client: grantClient,
  }
}

/**
 * Exchanges the code of `callback` for tokens: the `iss` of the response must be the flow's
 * authorization server (RFC 9207; required where the server promises it), then
 * `exchangeCode` checks the state and sends the code with the PKCE verifier and `resource`.
 */
export async function exchangeFlow(
  flow: Flow,
  callback: URL,
  allowLoopbackHttp: boolean,
): Promise<TokenSet> {
  const iss = callback.searchParams.get('iss')
  if ((iss !== null && issuerOf(iss) !== flow.issuer) || (iss === null && flow.issRequired))
    throw new KeywardError(
      KEYWARD_OAUTH_ERROR_RESPONSE,
      'mcp: the authorization response does not come from the authorization server of this sign-in (iss)',
      { details: { check: 'iss' } },
    )
  // Checked above against the discovered issuer; @keyward/oauth's provider here is built from
  // endpoints only, so it would compare `iss` with the endpoint's origin instead.
  const checked = new URL(callback.href)
  checked.searchParams.delete('iss')
  const { provider, client } = grantProvider(flow, allowLoopbackHttp)
  return exchangeCode(provider, client, {
    callbackUrl: checked,
    state: flow.state,
    codeVerifier: flow.codeVerifier,
    redirectUri: flow.redirectUri,
    scopes: flow.scopes,
  })
}
