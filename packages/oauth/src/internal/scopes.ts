import type { Logger, TokenSet } from '@keyward/core'
import type { LoginTokens, ScopeRequestOptions } from '../grant.js'
import type { Provider } from '../provider.js'

/** The scopes one sign-in asks for: already granted ∪ asked ∪ (with `upgrade`) upgradeScopes. */
export function requestedScopes(provider: Provider, options: ScopeRequestOptions): string[] {
  return [
    ...new Set([
      ...(options.grantedScopes ?? []),
      ...(options.scopes ?? provider.scopes),
      ...(options.upgrade ? provider.upgradeScopes : []),
    ]),
  ]
}

/** Adds `requestedScopes`/`deniedScopes` to a sign-in's tokens and warns about a partial grant. */
export function withGrant(
  provider: Provider,
  tokens: TokenSet,
  requested: readonly string[],
  logger: Logger | undefined,
): LoginTokens {
  const granted = new Set(
    tokens.scopes === undefined
      ? requested
      : typeof tokens.scopes === 'string'
        ? tokens.scopes.split(/[\s,]+/)
        : tokens.scopes,
  )
  const deniedScopes = requested.filter(
    (scope) =>
      !granted.has(scope) && !(scope === 'offline_access' && tokens.refreshToken !== undefined),
  )
  if (deniedScopes.length > 0) {
    logger?.warn('oauth: the provider granted fewer scopes than asked', {
      provider: provider.id,
      deniedScopes,
    })
  }
  return { ...tokens, requestedScopes: [...requested], deniedScopes }
}
