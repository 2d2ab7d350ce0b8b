import { assertOptions, KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { BROWSER_CHECKS, type BrowserLoginOptions } from './browser.js'
import type { DeviceCodePrompt } from './device.js'
import type { LoginTokens } from './grant.js'
import { deviceSignIn } from './internal/device-flow.js'
import { loopbackSignIn } from './internal/loopback.js'
import { resolveClient, serverOptions } from './internal/server.js'
import type { OAuthClient } from './protocol.js'
import type { Provider } from './provider.js'

/** Where {@link hasDisplay} looks: the environment and platform (injectable for tests). */
export interface DisplayEnvironment {
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined
  /** Default `process.platform`. */
  platform?: NodeJS.Platform | undefined
}

/** Options of {@link login}: those of `loginWithBrowser`, plus the device flow's `onCode`. */
export interface LoginOptions extends BrowserLoginOptions, DisplayEnvironment {
  /**
   * Shows the device code and URL to the user. Needed for the device flow: without it, `login`
   * always signs in through the browser.
   */
  onCode?: ((prompt: DeviceCodePrompt) => void) | undefined
  /**
   * `auto` (default): the device flow when there is no display ({@link hasDisplay} is false)
   * and the provider supports it and `onCode` is given; the browser flow otherwise.
   * `browser` or `device` force one.
   */
  flow?: 'auto' | 'browser' | 'device' | undefined
}

/**
 * Whether a browser opened on this machine would be seen by the user. On Linux and other
 * Unix systems: a `DISPLAY` or `WAYLAND_DISPLAY` is set (an SSH session without X forwarding
 * has neither). On macOS and Windows: not an SSH session (`SSH_CONNECTION`, `SSH_CLIENT`,
 * `SSH_TTY`), where the browser would open on the remote machine's screen.
 *
 * @example
 * ```ts
 * import { hasDisplay } from '@keyward/oauth'
 *
 * hasDisplay() // this process
 * hasDisplay({ env: {}, platform: 'linux' }) // false: a headless box
 * ```
 */
export function hasDisplay(options: DisplayEnvironment = {}): boolean {
  assertOptions(options, 'hasDisplay', { env: 'object', platform: 'string' })
  const env = options.env ?? process.env
  const platform = options.platform ?? process.platform
  const set = (name: string) => typeof env[name] === 'string' && env[name] !== ''
  if (platform === 'darwin' || platform === 'win32')
    return !(set('SSH_CONNECTION') || set('SSH_CLIENT') || set('SSH_TTY'))
  return set('DISPLAY') || set('WAYLAND_DISPLAY')
}

/**
 * Signs a user in the way that works on this machine: through the browser
 * ({@link loginWithBrowser}) where there is a display, and with the device flow
 * ({@link loginWithDeviceCode}) on a headless box — an SSH session, a container, Linux without
 * `DISPLAY`/`WAYLAND_DISPLAY` — when the provider supports it. Without device support the
 * browser flow runs anyway and shows the URL (add `pasteRedirectUrl` for that case).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8252 (OAuth for native apps)
 * @see https://www.rfc-editor.org/rfc/rfc8628 (device authorization grant)
 * @example
 * ```ts
 * import { login, presets } from '@keyward/oauth'
 *
 * const tokens = await login(presets.github(), { clientId: 'Iv1.abc' }, {
 *   scopes: ['repo'],
 *   onUrl: (url) => console.error(`Sign in at ${url}`),
 *   onCode: ({ userCode, verificationUri }) => console.error(`Open ${verificationUri} and enter ${userCode}`),
 * })
 * ```
 */
export async function login(
  provider: Provider,
  client: OAuthClient,
  options: LoginOptions = {},
): Promise<LoginTokens> {
  assertOptions(options, 'login', {
    ...BROWSER_CHECKS,
    onCode: 'function',
    flow: 'string',
    env: 'object',
    platform: 'string',
  })
  const flow = options.flow ?? 'auto'
  if (flow !== 'auto' && flow !== 'browser' && flow !== 'device') {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      "option `flow` must be 'auto', 'browser' or 'device'",
    )
  }
  const { onCode } = options
  if (flow === 'device' && onCode === undefined) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      "option `onCode` is required with flow: 'device'",
    )
  }
  // One context for the whole sign-in: discovered once, then handed to the flow picked.
  const ctx = await resolveClient(provider, client, serverOptions(options))
  let device = flow === 'device'
  if (flow === 'auto' && onCode !== undefined && !hasDisplay(options)) {
    device = typeof ctx.as.device_authorization_endpoint === 'string'
    if (!device) {
      options.logger?.info(
        'oauth: no display, and the provider has no device flow; showing the sign-in URL',
        { provider: provider.id },
      )
    }
  }
  if (device && onCode !== undefined) {
    return deviceSignIn(ctx, {
      onCode,
      scopes: options.scopes,
      upgrade: options.upgrade,
      grantedScopes: options.grantedScopes,
      logger: options.logger,
      signal: options.signal,
    })
  }
  return loopbackSignIn(ctx, options)
}
