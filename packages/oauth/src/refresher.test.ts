// How oauthRefresher reads the time values of a refusal. The token endpoint is a recording
// transport ([customFetch]): oidc-provider never sends a Retry-After header.
import { AuthStore, RefreshError } from '@keyward/authstore'
import { KeywardError } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { _json, _recordingFetcher } from './_recording.js'
import { oauthRefresher, toRefreshError } from './flows.js'
import { MAX_RETRY_AFTER, retryAfterSeconds } from './internal/time.js'
import { errorResponse } from './internal/tokens.js'
import { customFetch } from './protocol.js'
import { defineProvider } from './provider.js'

const provider = defineProvider({ id: 'acme', tokenUrl: 'https://login.acme.example/token' })
const CLIENT = { clientId: 'cli' }

describe('Retry-After on a refused refresh', () => {
  it('Retry-After: 99999999999999 on invalid_grant no longer throws RangeError: a permanent RefreshError, and the AuthStore asks for a new sign-in', async () => {
    const refusal = _json({ error: 'invalid_grant' }, 400, { 'retry-after': '99999999999999' })
    const { fetcher } = _recordingFetcher([refusal, refusal])
    const refresher = oauthRefresher(provider, CLIENT, { [customFetch]: fetcher })
    const error = await refresher({ service: 'acme', refreshToken: 'rt', scopes: [] }).catch(
      (e: unknown) => e,
    )
    expect(RefreshError.isInstance(error)).toBe(true)
    expect(error).toMatchObject({ transient: false, oauthError: 'invalid_grant' })

    let now = Date.now()
    const store = new AuthStore({
      driver: memoryDriver(),
      refreshers: { acme: refresher },
      clock: () => now,
    })
    await store.setToken('acme', { accessToken: 'at', refreshToken: 'rt', expiresIn: 60 })
    now += 120_000
    const refused = await store.getToken('acme').catch((e: unknown) => e)
    expect(refused).toMatchObject({ reason: 'reauth_required' })
  })

  it('a 429 with a huge Retry-After backs off for at most an hour', async () => {
    const { fetcher } = _recordingFetcher([
      _json({ error: 'temporarily_unavailable' }, 429, { 'retry-after': '9'.repeat(400) }),
    ])
    const before = Date.now()
    const error = (await oauthRefresher(provider, CLIENT, { [customFetch]: fetcher })({
      service: 'acme',
      refreshToken: 'rt',
      scopes: [],
    }).catch((e: unknown) => e)) as RefreshError
    expect(error.transient).toBe(true)
    expect(error.retryAt?.getTime()).toBeLessThanOrEqual(Date.now() + MAX_RETRY_AFTER * 1000)
    expect(error.retryAt?.getTime()).toBeGreaterThan(before)
  })

  it('property: any Retry-After value yields a RefreshError with no retryAt or one within the cap', () => {
    const header = fc.oneof(
      fc.string(),
      fc.stringMatching(/^\d{1,30}$/),
      fc.stringMatching(/^ ?-?\d{1,20}(\.\d{1,5})? ?$/),
      fc
        .date({ noInvalidDate: false })
        .map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toUTCString())),
      fc.constantFrom('Infinity', 'NaN', '1e400', '0x10', '', ' ', 'Wed, 21 Oct 2015 07:28:00 GMT'),
    )
    fc.assert(
      fc.property(header, fc.constantFrom(400, 429, 503), (value, status) => {
        const now = Date.now()
        const seconds = retryAfterSeconds(value, now)
        if (seconds !== undefined) {
          expect(Number.isFinite(seconds)).toBe(true)
          expect(seconds).toBeGreaterThan(0)
          expect(seconds).toBeLessThanOrEqual(MAX_RETRY_AFTER)
        }
        const error = toRefreshError(
          errorResponse(provider, 'refresh request', status, 'invalid_request', seconds),
        )
        expect(RefreshError.isInstance(error)).toBe(true)
        const at = error.retryAt?.getTime()
        if (at !== undefined) {
          expect(at).toBeGreaterThanOrEqual(now)
          expect(at).toBeLessThanOrEqual(Date.now() + MAX_RETRY_AFTER * 1000)
        }
        expect(KeywardError.isInstance(error.cause)).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('expires_in', () => {
  it('property: a huge expires_in is capped, so an absolute expiry always fits a Date', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.double({ min: 0, noNaN: true }), fc.stringMatching(/^\d{1,10}$/)),
        async (expiresIn) => {
          const { fetcher } = _recordingFetcher([
            _json({ access_token: 'at', token_type: 'bearer', expires_in: expiresIn }),
          ])
          const tokens = await oauthRefresher(provider, CLIENT, { [customFetch]: fetcher })({
            service: 'acme',
            refreshToken: 'rt',
            scopes: [],
          }).catch((e: unknown) => e)
          if (KeywardError.isInstance(tokens)) return // Infinity: a malformed response
          const seconds = (tokens as { expiresIn?: number }).expiresIn
          if (seconds !== undefined)
            expect(new Date(Date.now() + seconds * 1000).toISOString()).toEqual(expect.any(String))
        },
      ),
      { numRuns: 300 },
    )
  })
})
