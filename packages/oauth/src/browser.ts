import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { KeywardError } from '@keyward/core'
import * as oauth from 'oauth4webapi'
import {
  KEYWARD_OAUTH_ABORTED,
  KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE,
  KEYWARD_OAUTH_TIMEOUT,
} from './errors.js'
import {
  _requestedScopes,
  _withGrant,
  type LoginTokens,
  type ScopeRequestOptions,
} from './grant.js'
import {
  _authorizationUrl,
  _context,
  _exchangeCode,
  type _Fetcher,
  type OAuthClient,
} from './protocol.js'
import type { Provider } from './provider.js'

/** Options of {@link loginWithBrowser}. */
export interface BrowserLoginOptions extends ScopeRequestOptions {
  /**
   * Opens the authorize URL. Default: the platform opener (`xdg-open`, `open`, `start`).
   * A failure is not fatal: the URL is shown through `onUrl` (or on stderr) and the login
   * keeps waiting.
   */
  openBrowser?: (url: string) => Promise<void>
  /** Receives the authorize URL to show the user (always called). Default: stderr when opening failed. */
  onUrl?: (url: string) => void
  /** Path of the loopback redirect. Default `/callback`. */
  redirectPath?: string
  /** Loopback port; default the provider's `redirectPort`, else an ephemeral port. */
  port?: number
  /**
   * Paste mode, for machines where the browser runs elsewhere: resolves with the redirect URL
   * the user copied from the browser's address bar. Whichever of the loopback callback and
   * the paste arrives first completes the login.
   */
  pasteRedirectUrl?: () => Promise<string>
  /** How long to wait for the user, in ms. Default 5 minutes. */
  timeoutMs?: number
  /** Cancels the login. */
  signal?: AbortSignal
}

const PAGE = (ok: boolean) =>
  `<!doctype html><meta charset="utf-8"><title>${ok ? 'Signed in' : 'Sign-in failed'}</title><body style="font-family:sans-serif;margin:3em"><h1>${ok ? 'Signed in' : 'Sign-in failed'}</h1><p>${ok ? 'You can close this window and return to the terminal.' : 'Return to the terminal for details, then try again.'}</p></body>`

/** The platform's URL opener, without a shell. */
export async function _defaultOpenBrowser(url: string): Promise<void> {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]]
  const child = spawn(command, args as string[], { stdio: 'ignore', detached: true })
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.once('spawn', () => {
      child.unref()
      resolve()
    })
  })
}

async function _listen(server: Server, port: number, host: string): Promise<number> {
  server.listen(port, host)
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([e]) => Promise.reject(e)),
  ])
  return (server.address() as AddressInfo).port
}

/** @internal */
export async function _loginWithBrowser(
  provider: Provider,
  client: OAuthClient,
  options: BrowserLoginOptions = {},
  fetcher?: _Fetcher,
): Promise<LoginTokens> {
  const signal = options.signal
  const ctx = await _context(provider, client, signal ? { signal } : {}, fetcher)
  const scopes = _requestedScopes(provider, options)
  const redirectPath = options.redirectPath ?? '/callback'
  if (!redirectPath.startsWith('/')) {
    throw new KeywardError('KEYWARD_INVALID_ARGUMENT', 'option `redirectPath` must start with "/"')
  }
  const state = oauth.generateRandomState()
  const codeVerifier = provider.pkce ? oauth.generateRandomCodeVerifier() : undefined
  const codeChallenge = codeVerifier
    ? await oauth.calculatePKCECodeChallenge(codeVerifier)
    : undefined

  let deliver: (url: URL) => void = () => {}
  const received = new Promise<URL>((resolve) => {
    deliver = resolve
  })
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname !== redirectPath || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    const ok = url.searchParams.get('state') === state && url.searchParams.has('code')
    res
      .writeHead(ok ? 200 : 400, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      })
      .end(PAGE(ok))
    deliver(url)
  }
  const v4 = createServer(handler)
  const v6 = createServer(handler)
  const servers: Server[] = []
  const close = () => {
    for (const server of servers) {
      server.closeAllConnections()
      server.close()
    }
  }
  let port: number
  try {
    port = await _listen(v4, options.port ?? provider.redirectPort ?? 0, '127.0.0.1')
    servers.push(v4)
  } catch (error) {
    throw new KeywardError(
      KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE,
      `cannot listen on 127.0.0.1:${options.port ?? provider.redirectPort ?? 0} for the sign-in redirect`,
      {
        cause: error,
        details: { port: options.port ?? provider.redirectPort ?? 0 },
      },
    )
  }
  try {
    // The same port on ::1, for browsers that resolve the redirect host to IPv6; best effort.
    await _listen(v6, port, '::1')
    servers.push(v6)
  } catch {
    // no IPv6 loopback, or the port is taken there: 127.0.0.1 alone serves the redirect
  }
  const redirectUri = `http://${provider.redirectHost ?? '127.0.0.1'}:${port}${redirectPath}`
  const authorizeUrl = _authorizationUrl(ctx, {
    redirectUri,
    scopes,
    state,
    ...(codeChallenge ? { codeChallenge } : {}),
  }).href

  const timeoutMs = options.timeoutMs ?? 300_000
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  try {
    options.onUrl?.(authorizeUrl)
    try {
      await (options.openBrowser ?? _defaultOpenBrowser)(authorizeUrl)
    } catch {
      if (!options.onUrl)
        process.stderr.write(`Open this URL in a browser to sign in:\n\n  ${authorizeUrl}\n\n`)
    }
    const waits: Promise<URL>[] = [received]
    if (options.pasteRedirectUrl) {
      waits.push(
        options.pasteRedirectUrl().then((pasted) => {
          try {
            return new URL(pasted.trim())
          } catch {
            throw new KeywardError(
              'KEYWARD_INVALID_ARGUMENT',
              'the pasted text is not a URL; paste the whole address of the page the browser landed on',
            )
          }
        }),
      )
    }
    waits.push(
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new KeywardError(
                KEYWARD_OAUTH_TIMEOUT,
                `${provider.id}: no sign-in within ${Math.round(timeoutMs / 1000)} s`,
                { details: { timeoutMs } },
              ),
            ),
          timeoutMs,
        )
        onAbort = () =>
          reject(
            new KeywardError(KEYWARD_OAUTH_ABORTED, `${provider.id}: the sign-in was cancelled`),
          )
        if (signal?.aborted) onAbort()
        else signal?.addEventListener('abort', onAbort, { once: true })
      }),
    )
    const redirect = await Promise.race(waits)
    const tokens = await _exchangeCode(ctx, redirect, {
      state,
      redirectUri,
      scopes,
      ...(codeVerifier ? { codeVerifier } : {}),
    })
    return _withGrant(provider, tokens, scopes, options.logger)
  } finally {
    clearTimeout(timer)
    if (onAbort) signal?.removeEventListener('abort', onAbort)
    close()
  }
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
export function loginWithBrowser(
  provider: Provider,
  client: OAuthClient,
  options: BrowserLoginOptions = {},
): Promise<LoginTokens> {
  return _loginWithBrowser(provider, client, options)
}
