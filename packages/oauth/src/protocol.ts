/**
 * The public types every flow of `@keyward/oauth` shares: the client, the options of a network
 * call, and the `customFetch` option (oauth4webapi's pattern) that replaces the transport.
 *
 * @module
 */

/**
 * The OAuth client registered with a provider.
 *
 * @example
 * ```ts
 * import type { OAuthClient } from '@keyward/oauth'
 *
 * const cli: OAuthClient = { clientId: 'Iv1.abc' } // a public client: PKCE, no secret
 * const web: OAuthClient = { clientId: 'web-app', clientSecret: process.env.OAUTH_SECRET }
 * ```
 */
export interface OAuthClient {
  clientId: string
  /** Absent for public clients (native apps, CLIs), which then rely on PKCE. */
  clientSecret?: string | undefined
}

/**
 * The function a flow sends its HTTP requests through: `fetch`'s signature, with the URL as a
 * string.
 *
 * @example
 * ```ts
 * import type { CustomFetch } from '@keyward/oauth'
 *
 * const viaGlobalFetch: CustomFetch = (url, init) => fetch(url, init)
 * ```
 */
export type CustomFetch = (url: string, init: RequestInit) => Promise<Response>

/**
 * Option key that replaces the transport of a flow (oauth4webapi's `customFetch` pattern): every
 * request of that call goes to the given {@link CustomFetch} instead of `safeFetch`, with the
 * provider's headers and body format already applied. It is a loud, separate opt-out: the
 * function then owns the SSRF policy, the time limits and the body bound `safeFetch` enforces.
 * Tests use it to record what a provider is sent; hosts use it to route through their own
 * proxy.
 *
 * @example
 * ```ts
 * import { customFetch, presets, refreshTokens } from '@keyward/oauth'
 *
 * const tokens = await refreshTokens(presets.github(), { clientId: 'Iv1.abc' }, {
 *   refreshToken: 'ghr_…',
 *   [customFetch]: (url, init) => fetch(url, { ...init, redirect: 'error' }),
 * })
 * ```
 */
export const customFetch: unique symbol = Symbol('@keyward/oauth customFetch')

/**
 * Options every network call of this package takes.
 *
 * @example
 * ```ts
 * import type { RequestOptions } from '@keyward/oauth'
 *
 * const options: RequestOptions = { signal: AbortSignal.timeout(30_000), timeoutMs: 5_000 }
 * ```
 */
export interface RequestOptions {
  /** Cancels the call. */
  signal?: AbortSignal | undefined
  /** Time limit per HTTP exchange, in ms. Default 10 s. */
  timeoutMs?: number | undefined
  /** Replaces `safeFetch` for this call; see {@link customFetch}. */
  [customFetch]?: CustomFetch | undefined
}
