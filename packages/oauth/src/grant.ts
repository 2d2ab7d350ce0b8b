import type { Logger, TokenSet } from '@keyward/core'
import type { Provider } from './provider.js'

/** Scope options the sign-in flows share (incremental authorization). */
export interface ScopeRequestOptions {
  /** Scopes to ask for; default the provider's `scopes`. */
  scopes?: readonly string[]
  /** Add the provider's `upgradeScopes` (incremental authorization). */
  upgrade?: boolean
  /**
   * Scopes the user already granted (e.g. `(await store.getMetadata(service))?.scopes`): asked
   * for again, so that the new token keeps them alongside the added ones.
   */
  grantedScopes?: readonly string[]
  /** Receives a warning when the provider granted fewer scopes than asked. Never a token. */
  logger?: Logger
}

/**
 * What a sign-in returns: the AuthStore's `TokenSet` (store it as is), plus what was asked for
 * and what the provider left out of the grant.
 */
export interface LoginTokens extends TokenSet {
  /** Every scope the authorization request asked for. */
  requestedScopes: string[]
  /**
   * Requested scopes the provider did not grant (empty when it granted all). Compared by exact
   * name; `offline_access` counts as granted when a refresh token came back.
   */
  deniedScopes: string[]
}

/** The scopes one sign-in asks for: already granted ∪ asked ∪ (with `upgrade`) upgradeScopes. */
export function _requestedScopes(provider: Provider, options: ScopeRequestOptions): string[] {
  return [
    ...new Set([
      ...(options.grantedScopes ?? []),
      ...(options.scopes ?? provider.scopes),
      ...(options.upgrade ? provider.upgradeScopes : []),
    ]),
  ]
}

/** Adds `requestedScopes`/`deniedScopes` to a sign-in's tokens and warns about a partial grant. */
export function _withGrant(
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
