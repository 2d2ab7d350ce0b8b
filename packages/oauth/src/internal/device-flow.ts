import { KeywardError } from '@keyward/core'
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
import type { Provider } from '../provider.js'
import { requestedScopes, withGrant } from './scopes.js'
import { type ClientContext, joinScopes, need, send, tokenParameters } from './server.js'
import { MAX_DEVICE_CODE_LIFETIME, pollInterval, slowedDown } from './time.js'
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

function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  )
}

/**
 * A verification URI is shown to the user (and often opened): only `https:`, or plain `http:`
 * to a loopback host for a development provider (`allowLoopbackHttp`). Anything else —
 * `javascript:`, `data:`, `file:`, http to the network — is a malformed response.
 */
function checkVerificationUri(provider: Provider, uri: string, field: string): void {
  let url: URL | undefined
  try {
    url = new URL(uri)
  } catch {
    url = undefined
  }
  const ok =
    url !== undefined &&
    url.username === '' &&
    url.password === '' &&
    (url.protocol === 'https:' ||
      (url.protocol === 'http:' && provider.allowLoopbackHttp && isLoopbackHost(url.hostname)))
  if (!ok) {
    throw new KeywardError(
      KEYWARD_OAUTH_INVALID_RESPONSE,
      `${provider.id}: the device authorization response's \`${field}\` is not an https URL; it was not shown`,
      { details: { provider: provider.id, field } },
    )
  }
}

/** The device sign-in, on a resolved context (shared by `loginWithDeviceCode` and `login`). */
export async function deviceSignIn(
  ctx: ClientContext,
  options: DeviceLoginOptions,
): Promise<LoginTokens> {
  const provider = ctx.provider
  const signal = options.signal
  need(ctx, 'device_authorization_endpoint', 'device authorization')
  const scopes = requestedScopes(provider, options)
  const params = new URLSearchParams()
  if (scopes.length > 0) params.set('scope', joinScopes(provider, scopes))
  for (const resource of provider.resource) params.append('resource', resource)
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
  checkVerificationUri(
    provider,
    verificationUri,
    device.verification_uri ? 'verification_uri' : 'verification_url',
  )
  if (device.verification_uri_complete !== undefined)
    checkVerificationUri(provider, device.verification_uri_complete, 'verification_uri_complete')
  const expiresIn = Math.min(device.expires_in, MAX_DEVICE_CODE_LIFETIME)
  const deadline = Date.now() + expiresIn * 1000
  let interval = pollInterval(device.interval)
  options.onCode({
    userCode: device.user_code,
    verificationUri,
    ...(device.verification_uri_complete
      ? { verificationUriComplete: device.verification_uri_complete }
      : {}),
    expiresIn,
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
    await sleep(interval * 1000, signal)
    if (Date.now() >= deadline) throw expired()
    const poll = await send(ctx, 'device token request', () =>
      oauth.deviceCodeGrantRequest(ctx.as, ctx.client, ctx.auth, device.device_code, {
        ...ctx.http,
        additionalParameters: tokenParameters(provider),
      }),
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
        interval = slowedDown(interval) // RFC 8628 §3.5
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
