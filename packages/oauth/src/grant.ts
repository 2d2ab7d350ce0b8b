import type { Logger, TokenSet } from '@keyward/core'

/** Scope options the sign-in flows share (incremental authorization). */
export interface ScopeRequestOptions {
  /** Scopes to ask for; default the provider's `scopes`. */
  scopes?: readonly string[] | undefined
  /** Add the provider's `upgradeScopes` (incremental authorization). */
  upgrade?: boolean | undefined
  /**
   * Scopes the user already granted (e.g. `(await store.getMetadata(service))?.scopes`): asked
   * for again, so that the new token keeps them alongside the added ones.
   */
  grantedScopes?: readonly string[] | undefined
  /** Receives a warning when the provider granted fewer scopes than asked. Never a token. */
  logger?: Logger | undefined
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
