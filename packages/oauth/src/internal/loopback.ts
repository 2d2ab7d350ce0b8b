import { spawn } from 'node:child_process'
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import type { BrowserLoginOptions } from '../browser.js'
import type { LoginTokens } from '../grant.js'
import { listenForRedirect } from '../redirect-listener.js'
import { beginAuthorization, completeAuthorization } from './authorize.js'
import { requestedScopes, withGrant } from './scopes.js'
import type { ClientContext } from './server.js'

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

/** The loopback browser sign-in, on a resolved context (shared by `loginWithBrowser` and `login`). */
export async function loopbackSignIn(
  ctx: ClientContext,
  options: BrowserLoginOptions,
): Promise<LoginTokens> {
  const provider = ctx.provider
  const signal = options.signal
  const scopes = requestedScopes(provider, options)
  if (options.redirectPath !== undefined && !options.redirectPath.startsWith('/')) {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `redirectPath` must start with "/"')
  }
  const listener = await listenForRedirect({
    path: options.redirectPath,
    port: options.port ?? provider.redirectPort,
    host: provider.redirectHost,
    label: provider.id,
  })
  try {
    const redirectUri = listener.redirectUri
    const started = await beginAuthorization(ctx, { redirectUri, scopes })
    const authorizeUrl = started.url.href
    // Waiting from before the browser opens: an opener may complete the sign-in before it
    // returns. (Handled here too, so an early throw below leaves no unhandled rejection.)
    const waiting = listener.redirect(started.state, { timeoutMs: options.timeoutMs, signal })
    waiting.catch(() => {})
    const waits = [waiting]
    options.onUrl?.(authorizeUrl)
    try {
      await (options.openBrowser ?? defaultOpenBrowser)(authorizeUrl)
    } catch {
      if (!options.onUrl)
        process.stderr.write(`Open this URL in a browser to sign in:\n\n  ${authorizeUrl}\n\n`)
    }
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
    if (listener.ignoredCallbacks > 0) {
      options.logger?.warn('oauth: ignored loopback callbacks with a wrong state', {
        provider: provider.id,
        ignoredCallbacks: listener.ignoredCallbacks,
      })
    }
    listener.close()
  }
}
