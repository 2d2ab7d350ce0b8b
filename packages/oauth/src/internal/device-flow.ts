import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import * as oauth from 'oauth4webapi'
import * as v from 'valibot'
import type { DeviceLoginOptions } from '../device.js'
import {
  KEYWARD_OAUTH_ABORTED,
  KEYWARD_OAUTH_ACCESS_DENIED,
  KEYWARD_OAUTH_DEVICE_CODE_EXPIRED,
  KEYWARD_OAUTH_ERROR_RESPONSE,
  KEYWARD_OAUTH_INVALID_RESPONSE,
} from '../errors.js'
import type { LoginTokens } from '../grant.js'
import { requestedScopes, withGrant } from './scopes.js'
import { type ClientContext, joinScopes, need, send } from './server.js'
import { checkedBody, parseTokenResponse } from './tokens.js'

const DeviceAuthorization = v.object({
  device_code: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
  user_code: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  verification_uri: v.optional(v.pipe(v.string(), v.url())),
  // Google names it verification_url.
  verification_url: v.optional(v.pipe(v.string(), v.url())),
  verification_uri_complete: v.optional(v.pipe(v.string(), v.url())),
  expires_in: v.union([
    v.pipe(v.number(), v.minValue(1)),
    v.pipe(v.string(), v.regex(/^\d{1,7}$/), v.transform(Number)),
  ]),
  interval: v.optional(
    v.union([
      v.pipe(v.number(), v.minValue(0)),
      v.pipe(v.string(), v.regex(/^\d{1,4}$/), v.transform(Number)),
    ]),
  ),
})

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(timer)
      reject(new KeywardError(KEYWARD_OAUTH_ABORTED, 'the device sign-in was cancelled'))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort)
      resolve()
    }, ms)
    if (signal?.aborted) abort()
    else signal?.addEventListener('abort', abort, { once: true })
  })
}

/** Refuses a missing `onCode` before anything is sent. */
export function checkOnCode(options: { onCode?: unknown } | undefined): void {
  if (typeof options?.onCode !== 'function') {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `onCode` must be a function')
  }
}

/** The device sign-in, on a resolved context (shared by `loginWithDeviceCode` and `login`). */
export async function deviceSignIn(
  ctx: ClientContext,
  options: DeviceLoginOptions,
): Promise<LoginTokens> {
  checkOnCode(options)
  const provider = ctx.provider
  const signal = options.signal
  need(ctx, 'device_authorization_endpoint', 'device authorization')
  const scopes = requestedScopes(provider, options)
  const params = new URLSearchParams()
  if (scopes.length > 0) params.set('scope', joinScopes(provider, scopes))
  const response = await send(ctx, 'device authorization request', () =>
    oauth.deviceAuthorizationRequest(ctx.as, ctx.client, ctx.auth, params, ctx.http),
  )
  const parsed = v.safeParse(
    DeviceAuthorization,
    await checkedBody(provider, 'device authorization request', response),
  )
  const verificationUri = parsed.success
    ? (parsed.output.verification_uri ?? parsed.output.verification_url)
    : undefined
  if (!parsed.success || verificationUri === undefined) {
    const field = parsed.success ? 'verification_uri' : (v.getDotPath(parsed.issues[0]) ?? '')
    throw new KeywardError(
      KEYWARD_OAUTH_INVALID_RESPONSE,
      `${provider.id}: the device authorization response is malformed at \`${field}\``,
      {
        details: { provider: provider.id, field },
      },
    )
  }
  const device = parsed.output
  const deadline = Date.now() + device.expires_in * 1000
  let intervalMs = (device.interval ?? 5) * 1000
  options.onCode({
    userCode: device.user_code,
    verificationUri,
    ...(device.verification_uri_complete
      ? { verificationUriComplete: device.verification_uri_complete }
      : {}),
    expiresIn: device.expires_in,
  })
  const expired = () =>
    new KeywardError(
      KEYWARD_OAUTH_DEVICE_CODE_EXPIRED,
      `${provider.id}: the device code expired before it was approved; start again`,
      {
        details: { provider: provider.id },
      },
    )
  for (;;) {
    await sleep(intervalMs, signal)
    if (Date.now() >= deadline) throw expired()
    const poll = await send(ctx, 'device token request', () =>
      oauth.deviceCodeGrantRequest(ctx.as, ctx.client, ctx.auth, device.device_code, ctx.http),
    )
    try {
      const tokens = await parseTokenResponse(provider, poll, scopes, 'device token request')
      return withGrant(provider, tokens, scopes, options.logger)
    } catch (error) {
      if (!KeywardError.isInstance(error) || error.code !== KEYWARD_OAUTH_ERROR_RESPONSE)
        throw error
      const code = error.details.error
      if (code === 'authorization_pending') continue
      if (code === 'slow_down') {
        intervalMs += 5000 // RFC 8628 §3.5
        continue
      }
      if (code === 'expired_token') throw expired()
      if (code === 'access_denied') {
        throw new KeywardError(
          KEYWARD_OAUTH_ACCESS_DENIED,
          `${provider.id}: the device sign-in was denied`,
          {
            details: { provider: provider.id, error: code },
          },
        )
      }
      throw error
    }
  }
}
