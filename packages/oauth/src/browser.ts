import { assertOptions } from '@keyward/core'
import type { LoginTokens, ScopeRequestOptions } from './grant.js'
import { loopbackSignIn } from './internal/loopback.js'
import { resolveClient, serverOptions } from './internal/server.js'
import type { OAuthClient, RequestOptions } from './protocol.js'
import type { Provider } from './provider.js'

/** The option checks of the browser sign-in (shared with `login`). */
export const BROWSER_CHECKS = {
  signal: 'abort signal',
  timeoutMs: 'positive integer',
  logger: 'logger',
  upgrade: 'boolean',
  openBrowser: 'function',
  onUrl: 'function',
  redirectPath: 'string',
  port: 'non-negative integer',
  pasteRedirectUrl: 'function',
} as const

/** Options of {@link loginWithBrowser}. */
export interface BrowserLoginOptions
  extends ScopeRequestOptions,
    Omit<RequestOptions, 'timeoutMs'> {
  /**
   * Opens the authorize URL. Default: the platform opener (`xdg-open`, `open`, `start`).
   * A failure is not fatal: the URL is shown through `onUrl` (or on stderr) and the login
   * keeps waiting.
   */
  openBrowser?: ((url: string) => Promise<void>) | undefined
  /** Receives the authorize URL to show the user (always called). Default: stderr when opening failed. */
  onUrl?: ((url: string) => void) | undefined
  /** Path of the loopback redirect. Default `/callback`. */
  redirectPath?: string | undefined
  /** Loopback port; default the provider's `redirectPort`, else an ephemeral port. */
  port?: number | undefined
  /**
   * Paste mode, for machines where the browser runs elsewhere: resolves with the redirect URL
   * the user copied from the browser's address bar. Whichever of the loopback callback and
   * the paste arrives first completes the login.
   */
  pasteRedirectUrl?: (() => Promise<string>) | undefined
  /** How long to wait for the user, in ms. Default 5 minutes. */
  timeoutMs?: number | undefined
}

/**
 * Signs a user in through their browser: authorization code with PKCE and `state` (and the
 * `iss` check where the provider supports it), redirected to a loopback server this call
 * runs on an ephemeral port on 127.0.0.1 and ::1. Opening the browser is injectable and its
 * failure is not fatal (the URL is shown); `pasteRedirectUrl` supports machines where the
 * browser runs elsewhere. Returns the AuthStore's `TokenSet`, with the scopes asked for and
 * any the provider did not grant (`deniedScopes`; see `upgrade` and `grantedScopes` for
 * incremental authorization).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1 (authorization code)
 * @see https://www.rfc-editor.org/rfc/rfc7636 (PKCE)
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3 (loopback redirect for native apps)
 * @example
 * ```ts
 * import { loginWithBrowser, presets } from '@keyward/oauth'
 *
 * const tokens = await loginWithBrowser(presets.github(), { clientId: 'Iv1.abc' }, {
 *   scopes: ['repo'],
 *   onUrl: (url) => console.error(`Sign in at ${url}`),
 *   timeoutMs: 120_000,
 * })
 * ```
 */
export async function loginWithBrowser(
  provider: Provider,
  client: OAuthClient,
  options: BrowserLoginOptions = {},
): Promise<LoginTokens> {
  assertOptions(options, 'loginWithBrowser', BROWSER_CHECKS)
  const ctx = await resolveClient(provider, client, serverOptions(options))
  return loopbackSignIn(ctx, options)
}
