import { assertOptions } from '@keyward/core'
import type { LoginTokens, ScopeRequestOptions } from './grant.js'
import { deviceSignIn } from './internal/device-flow.js'
import { REQUEST_CHECKS, resolveClient } from './internal/server.js'
import type { OAuthClient, RequestOptions } from './protocol.js'
import type { Provider } from './provider.js'

/** What the user needs to approve a device sign-in. */
export interface DeviceCodePrompt {
  userCode: string
  verificationUri: string
  verificationUriComplete?: string | undefined
  /** Seconds until the code expires. */
  expiresIn: number
}

/** Options of {@link loginWithDeviceCode}. */
export interface DeviceLoginOptions extends ScopeRequestOptions, RequestOptions {
  /** Shows the code and the URL to the user. */
  onCode: (prompt: DeviceCodePrompt) => void
}

/**
 * Signs a user in with the device authorization grant (RFC 8628), for machines without a
 * browser (SSH sessions, containers): `onCode` shows the user a code and a URL to open
 * elsewhere; this call polls until they approve, honouring `slow_down`, the code's expiry
 * and the `AbortSignal`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628 (device authorization grant)
 * @example
 * ```ts
 * import { loginWithDeviceCode, presets } from '@keyward/oauth'
 *
 * const tokens = await loginWithDeviceCode(presets.github(), { clientId: 'Iv1.abc' }, {
 *   scopes: ['repo'],
 *   onCode: ({ userCode, verificationUri }) => console.error(`Open ${verificationUri} and enter ${userCode}`),
 * })
 * ```
 */
export async function loginWithDeviceCode(
  provider: Provider,
  client: OAuthClient,
  options: DeviceLoginOptions,
): Promise<LoginTokens> {
  assertOptions(options, 'loginWithDeviceCode', {
    ...REQUEST_CHECKS,
    logger: 'logger',
    upgrade: 'boolean',
    onCode: { kind: 'function', required: true },
  })
  const ctx = await resolveClient(provider, client, options)
  return deviceSignIn(ctx, options)
}
