// The provider's own loopback listener for one interactive sign-in: 127.0.0.1 on an ephemeral
// port (RFC 8252 §7.3: the server ignores the port of a native client's loopback redirect), a
// callback accepted only with the sign-in's `state`, a time limit, and nothing left listening.
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { KeywardError } from '@keyward/core'
import { KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE, KEYWARD_OAUTH_TIMEOUT } from '@keyward/oauth'

export const CALLBACK_PATH = '/callback'

const page = (heading: string, text: string) =>
  `<!doctype html><meta charset="utf-8"><title>${heading}</title><body style="font-family:sans-serif;margin:3em"><h1>${heading}</h1><p>${text}</p></body>`
const SIGNED_IN = page('Signed in', 'You can close this window and return to your agent.')
const FAILED = page('Sign-in failed', 'Return to your agent for details, then try again.')

/** A listening loopback callback server, waiting for the redirect that carries `state`. */
export interface Loopback {
  readonly redirectUri: string
  /** The callback URL once it arrives; rejects after `timeoutMs`. */
  readonly callback: Promise<URL>
  close(): void
}

/** Binds the listener; `state` is the one callback it accepts (others get 400 and are ignored). */
export async function listenForCallback(state: string, timeoutMs: number): Promise<Loopback> {
  let deliver: (url: URL) => void = () => {}
  let fail: (error: unknown) => void = () => {}
  let ignored = 0
  const received = new Promise<URL>((resolve, reject) => {
    deliver = resolve
    fail = reject
  })
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname !== CALLBACK_PATH || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    const matches = url.searchParams.get('state') === state
    const ok = matches && url.searchParams.has('code')
    res
      .writeHead(ok ? 200 : 400, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      })
      .end(ok ? SIGNED_IN : FAILED)
    if (matches) deliver(url)
    else ignored += 1
  }
  const server = createServer(handler)
  server.listen(0, '127.0.0.1')
  try {
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([e]) => Promise.reject(e)),
    ])
  } catch (error) {
    throw new KeywardError(
      KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE,
      'mcp: cannot listen on 127.0.0.1 for the sign-in redirect',
      { cause: error, details: { port: 0 } },
    )
  }
  const { port } = server.address() as AddressInfo
  const timer = setTimeout(
    () =>
      fail(
        new KeywardError(
          KEYWARD_OAUTH_TIMEOUT,
          `mcp: no sign-in within ${Math.round(timeoutMs / 1000)} s${ignored > 0 ? ` (${ignored} callbacks with a wrong state ignored)` : ''}`,
          { details: { timeoutMs, ignoredCallbacks: ignored } },
        ),
      ),
    timeoutMs,
  )
  timer.unref()
  return {
    redirectUri: `http://127.0.0.1:${port}${CALLBACK_PATH}`,
    callback: received,
    close() {
      clearTimeout(timer)
      server.closeAllConnections()
      server.close()
    },
  }
}
