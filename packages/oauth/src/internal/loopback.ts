import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import type { BrowserLoginOptions } from '../browser.js'
import {
  KEYWARD_OAUTH_ABORTED,
  KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE,
  KEYWARD_OAUTH_TIMEOUT,
} from '../errors.js'
import type { LoginTokens } from '../grant.js'
import { beginAuthorization, completeAuthorization, stateMatches } from './authorize.js'
import { requestedScopes, withGrant } from './scopes.js'
import type { ClientContext } from './server.js'

const PAGE = (ok: boolean) =>
  `<!doctype html><meta charset="utf-8"><title>${ok ? 'Signed in' : 'Sign-in failed'}</title><body style="font-family:sans-serif;margin:3em"><h1>${ok ? 'Signed in' : 'Sign-in failed'}</h1><p>${ok ? 'You can close this window and return to the terminal.' : 'Return to the terminal for details, then try again.'}</p></body>`

/**
 * Opens `url` with the platform's URL opener (`open`, `xdg-open`, `rundll32`), without a shell;
 * rejects when the opener cannot be started. The default `openBrowser` of the sign-in flows.
 *
 * @example
 * ```ts
 * import { systemOpenBrowser } from '@keyward/oauth'
 *
 * await systemOpenBrowser('https://auth.example.com/authorize?client_id=cli').catch(() => {
 *   console.error('open the URL yourself')
 * })
 * ```
 */
export async function defaultOpenBrowser(url: string): Promise<void> {
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

async function listen(server: Server, port: number, host: string): Promise<number> {
  server.listen(port, host)
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([e]) => Promise.reject(e)),
  ])
  return (server.address() as AddressInfo).port
}

/** The loopback browser sign-in, on a resolved context (shared by `loginWithBrowser` and `login`). */
export async function loopbackSignIn(
  ctx: ClientContext,
  options: BrowserLoginOptions,
): Promise<LoginTokens> {
  const provider = ctx.provider
  const signal = options.signal
  const scopes = requestedScopes(provider, options)
  const redirectPath = options.redirectPath ?? '/callback'
  if (!redirectPath.startsWith('/')) {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `redirectPath` must start with "/"')
  }
  // Set once the authorization request is built, before the first callback can arrive.
  let state: string | undefined
  let ignoredCallbacks = 0

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
    // A callback with another state is not this sign-in's redirect (a forged request, or a
    // stale tab): ignore it, count it, and keep waiting for the genuine one until the timeout.
    const matches = state !== undefined && stateMatches(url.searchParams, state)
    const ok = matches && url.searchParams.has('code')
    res
      .writeHead(ok ? 200 : 400, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      })
      .end(PAGE(ok))
    if (matches) deliver(url)
    else ignoredCallbacks += 1
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
    port = await listen(v4, options.port ?? provider.redirectPort ?? 0, '127.0.0.1')
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
    await listen(v6, port, '::1')
    servers.push(v6)
  } catch {
    // no IPv6 loopback, or the port is taken there: 127.0.0.1 alone serves the redirect
  }
  const redirectUri = `http://${provider.redirectHost ?? '127.0.0.1'}:${port}${redirectPath}`
  const started = await beginAuthorization(ctx, { redirectUri, scopes })
  state = started.state
  const authorizeUrl = started.url.href

  const timeoutMs = options.timeoutMs ?? 300_000
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  try {
    options.onUrl?.(authorizeUrl)
    try {
      await (options.openBrowser ?? defaultOpenBrowser)(authorizeUrl)
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
              KEYWARD_INVALID_ARGUMENT,
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
                `${provider.id}: no sign-in within ${Math.round(timeoutMs / 1000)} s${ignoredCallbacks > 0 ? ` (${ignoredCallbacks} callbacks with a wrong state ignored)` : ''}`,
                { details: { timeoutMs, ignoredCallbacks } },
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
    const tokens = await completeAuthorization(ctx, redirect, {
      state: started.state,
      redirectUri,
      scopes,
      codeVerifier: started.codeVerifier,
      nonce: started.nonce,
    })
    return withGrant(provider, tokens, scopes, options.logger)
  } finally {
    if (ignoredCallbacks > 0) {
      options.logger?.warn('oauth: ignored loopback callbacks with a wrong state', {
        provider: provider.id,
        ignoredCallbacks,
      })
    }
    clearTimeout(timer)
    if (onAbort) signal?.removeEventListener('abort', onAbort)
    close()
  }
}
