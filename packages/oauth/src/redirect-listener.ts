/**
 * The loopback server that catches a native app's authorization redirect (RFC 8252 §7.3), for
 * hosts that drive the authorization request themselves (with {@link authorizationUrl}, or an
 * SDK that builds it, as the MCP SDK does) and for the browser sign-in of this package.
 *
 * @module
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { assertOptions, KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import {
  KEYWARD_OAUTH_ABORTED,
  KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE,
  KEYWARD_OAUTH_TIMEOUT,
} from './errors.js'
import { stateMatches } from './internal/authorize.js'

/** Options of {@link listenForRedirect}. */
export interface RedirectListenerOptions {
  /** Path of the redirect URI; must start with `/`. Default `/callback`. */
  path?: string | undefined
  /** Port to listen on; default 0, an ephemeral port (loopback redirects may use any port). */
  port?: number | undefined
  /**
   * Host written into {@link RedirectListener.redirectUri}: `127.0.0.1` (default), or
   * `localhost` for a server that only accepts that spelling. The listener binds 127.0.0.1,
   * and `::1` on the same port where it can.
   */
  host?: string | undefined
  /** Where the closing page sends the user back to ("the terminal" by default). */
  returnTo?: string | undefined
  /** Prefix of the listener's error messages (the provider's id, or the package). */
  label?: string | undefined
}

/** Options of {@link RedirectListener.redirect}. */
export interface RedirectWaitOptions {
  /** How long to wait for the redirect; `KEYWARD_OAUTH_TIMEOUT` after. Default 300,000 (5 min). */
  timeoutMs?: number | undefined
  /** Cancels the wait with `KEYWARD_OAUTH_ABORTED`. */
  signal?: AbortSignal | undefined
}

/** A listening loopback server (see {@link listenForRedirect}). */
export interface RedirectListener {
  /** The redirect URI to send in the authorization request: `http://<host>:<port><path>`. */
  readonly redirectUri: string
  /** The port it listens on. */
  readonly port: number
  /**
   * Callbacks refused so far because they did not carry the expected `state` (a forged request
   * or a stale browser tab): each got a 400 page and the wait went on.
   */
  readonly ignoredCallbacks: number
  /**
   * Resolves with the first redirect that carries `state` (its URL, with the code or the
   * provider's error still to check); rejects with `KEYWARD_OAUTH_TIMEOUT` (with
   * `details.ignoredCallbacks`) or `KEYWARD_OAUTH_ABORTED`. Before this is called no callback
   * is accepted. Call it once per listener.
   */
  redirect(state: string, options?: RedirectWaitOptions): Promise<URL>
  /**
   * Stops listening and drops open connections; a pending {@link RedirectListener.redirect}
   * ends with `KEYWARD_OAUTH_ABORTED`. Safe to call twice.
   */
  close(): void
}

const REDIRECT_CHECKS = {
  path: 'string',
  port: 'non-negative integer',
  host: 'string',
  returnTo: 'string',
  label: 'string',
} as const
const WAIT_CHECKS = { timeoutMs: 'positive integer', signal: 'abort signal' } as const
const DEFAULT_TIMEOUT_MS = 300_000

function page(ok: boolean, returnTo: string): string {
  const title = ok ? 'Signed in' : 'Sign-in failed'
  const text = ok
    ? `You can close this window and return to ${returnTo}.`
    : `Return to ${returnTo} for details, then try again.`
  return `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:sans-serif;margin:3em"><h1>${title}</h1><p>${text}</p></body>`
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  server.listen(port, host)
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([e]) => Promise.reject(e)),
  ])
  return (server.address() as AddressInfo).port
}

/**
 * Listens on 127.0.0.1 (and `::1` on the same port, best effort) for one authorization
 * redirect. Only a `GET` of `path` is served; a callback is accepted only when it carries the
 * `state` given to {@link RedirectListener.redirect}; every other one gets a 400 page, is
 * counted, and the wait goes on. Nothing in a callback is logged or echoed back. Rejects with
 * `KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE` when it cannot listen (a fixed port in use).
 *
 * @example
 * ```ts
 * import { authorizationUrl, defineProvider, exchangeCode, listenForRedirect } from '@keyward/oauth'
 *
 * const provider = defineProvider({ id: 'acme', issuer: 'https://login.acme.example' })
 * const client = { clientId: 'cli' }
 * const listener = await listenForRedirect({ label: 'acme' })
 * try {
 *   const request = await authorizationUrl(provider, client, { redirectUri: listener.redirectUri })
 *   console.log(`Open ${request.url}`)
 *   const callbackUrl = await listener.redirect(request.state, { timeoutMs: 120_000 })
 *   const tokens = await exchangeCode(provider, client, {
 *     callbackUrl,
 *     redirectUri: listener.redirectUri,
 *     state: request.state,
 *     codeVerifier: request.codeVerifier,
 *     nonce: request.nonce,
 *   })
 *   console.log(tokens.scopes)
 * } finally {
 *   listener.close()
 * }
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
export async function listenForRedirect(
  options: RedirectListenerOptions = {},
): Promise<RedirectListener> {
  assertOptions(options, 'listenForRedirect', REDIRECT_CHECKS)
  const path = options.path ?? '/callback'
  if (!path.startsWith('/'))
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `path` must start with "/"')
  const label = options.label ?? 'oauth'
  const returnTo = options.returnTo ?? 'the terminal'
  let expected: string | undefined
  let ignored = 0
  // The redirect URI's origin once the port is known: the URL handed back is the one the
  // browser was sent to.
  let origin = 'http://127.0.0.1'
  let deliver: (url: URL) => void = () => {}
  const received = new Promise<URL>((resolve) => {
    deliver = resolve
  })
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    let url: URL
    try {
      url = new URL(req.url ?? '/', origin)
    } catch {
      // A request target that is no URL (`http://[`): not a callback.
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request')
      return
    }
    if (url.pathname !== path || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    const matches = expected !== undefined && stateMatches(url.searchParams, expected)
    const ok = matches && url.searchParams.has('code')
    res
      .writeHead(ok ? 200 : 400, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      })
      .end(page(ok, returnTo))
    if (matches) deliver(url)
    else ignored += 1
  }
  const servers: Server[] = []
  // Set while a wait is pending: ends it (clears its timer and abort listener) with `error`.
  let stopWaiting: ((error: KeywardError) => void) | undefined
  const close = () => {
    stopWaiting?.(new KeywardError(KEYWARD_OAUTH_ABORTED, `${label}: the listener was closed`))
    for (const server of servers.splice(0)) {
      server.closeAllConnections()
      server.close()
    }
  }
  const v4 = createServer(handler)
  let port: number
  try {
    port = await listen(v4, options.port ?? 0, '127.0.0.1')
    servers.push(v4)
  } catch (error) {
    throw new KeywardError(
      KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE,
      `${label}: cannot listen on 127.0.0.1:${options.port ?? 0} for the sign-in redirect`,
      { cause: error, details: { port: options.port ?? 0 } },
    )
  }
  const v6 = createServer(handler)
  try {
    // The same port on ::1, for browsers that resolve the redirect host to IPv6.
    await listen(v6, port, '::1')
    servers.push(v6)
  } catch {
    // no IPv6 loopback, or the port is taken there: 127.0.0.1 alone serves the redirect
  }
  origin = `http://${options.host ?? '127.0.0.1'}:${port}`
  return {
    redirectUri: `${origin}${path}`,
    port,
    get ignoredCallbacks() {
      return ignored
    },
    async redirect(state, wait = {}) {
      assertOptions(wait, 'redirect', WAIT_CHECKS)
      if (typeof state !== 'string' || state === '')
        throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'the expected `state` must be a string')
      if (expected !== undefined)
        throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'a listener waits for one redirect')
      expected = state
      const timeoutMs = wait.timeoutMs ?? DEFAULT_TIMEOUT_MS
      const signal = wait.signal
      let timer: NodeJS.Timeout | undefined
      let onAbort: (() => void) | undefined
      const ended = new Promise<never>((_, reject) => {
        stopWaiting = reject
        timer = setTimeout(
          () =>
            reject(
              new KeywardError(
                KEYWARD_OAUTH_TIMEOUT,
                `${label}: no sign-in within ${Math.round(timeoutMs / 1000)} s${ignored > 0 ? ` (${ignored} callbacks with a wrong state ignored)` : ''}`,
                { details: { timeoutMs, ignoredCallbacks: ignored } },
              ),
            ),
          timeoutMs,
        )
        onAbort = () =>
          reject(new KeywardError(KEYWARD_OAUTH_ABORTED, `${label}: the sign-in was cancelled`))
        if (signal?.aborted) onAbort()
        else signal?.addEventListener('abort', onAbort, { once: true })
      })
      try {
        return await Promise.race([received, ended])
      } finally {
        stopWaiting = undefined
        clearTimeout(timer)
        if (onAbort) signal?.removeEventListener('abort', onAbort)
      }
    },
    close,
  }
}
