// keyward's refresher for MCP grants: the AuthStore calls it under its single-flight and
// cross-process lock; it refreshes at the token endpoint of the authorization server that
// issued the grant, as the client the grant was issued to, with the grant's `resource`.
import { RefreshError, type Refresher } from '@keyward/core'
import { defineProvider, type OAuthClient, oauthRefresher, type Provider } from '@keyward/oauth'
import type { Grant, Storage } from './storage.js'

/** The `@keyward/oauth` provider and client that talk to a grant's authorization server. */
export function grantProvider(
  grant: Pick<Grant, 'tokenEndpoint' | 'resource' | 'client'> & { authorizationEndpoint?: string },
  allowLoopbackHttp: boolean,
): { provider: Provider; client: OAuthClient } {
  const provider = defineProvider({
    id: 'mcp',
    tokenUrl: grant.tokenEndpoint,
    ...(grant.authorizationEndpoint === undefined
      ? {}
      : { authorizeUrl: grant.authorizationEndpoint }),
    ...(grant.resource === undefined ? {} : { resource: grant.resource }),
    ...(grant.client.authMethod === undefined ? {} : { clientAuth: grant.client.authMethod }),
    allowLoopbackHttp,
  })
  const client: OAuthClient = {
    clientId: grant.client.clientId,
    ...(grant.client.clientSecret === undefined ? {} : { clientSecret: grant.client.clientSecret }),
  }
  return { provider, client }
}

/** The refresher `mcpAuthProvider` adds to the store for its service. */
export function mcpRefresher(storage: Storage, allowLoopbackHttp: boolean): Refresher {
  return async ({ service, account, refreshToken, scopes, signal }) => {
    const grant = await storage.grant(service, account ?? 'default')
    if (grant === undefined)
      throw new RefreshError(
        `mcp: nothing is known about the authorization server of ${service}; sign in again`,
        { transient: false },
      )
    const { provider, client } = grantProvider(grant, allowLoopbackHttp)
    return oauthRefresher(
      provider,
      client,
      signal === undefined ? {} : { signal },
    )({
      service,
      refreshToken,
      scopes,
    })
  }
}
