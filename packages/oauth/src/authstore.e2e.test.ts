// The AuthStore with this package's refresher and revocation hook against a real oidc-provider
// on 127.0.0.1 (refresh token rotation on): logout revokes, transient outages degrade and
// recover, and 8 processes on one file store never spend a refresh token twice.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { AuthStore, type AuthStoreEvents } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError, recordingLogger } from '@keyward/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useRaceChildren } from '../../../test/_race.js'
import { _Browser } from './_browser.js'
import { _CLIENT, type _OidcServer, _startOidc } from './_oidc.js'
import { _linesOf } from './_recording.js'
import { loginWithBrowser } from './browser.js'
import { KEYWARD_OAUTH_ERROR_RESPONSE, KEYWARD_OAUTH_UNSUPPORTED } from './errors.js'
import { oauthRefresher, refreshTokens, revokeOnClear } from './flows.js'
import { defineProvider, type Provider } from './provider.js'

const SCOPES = ['openid', 'offline_access', 'email', 'profile']
let oidc: _OidcServer
let provider: Provider

beforeAll(async () => {
  oidc = await _startOidc()
  provider = defineProvider({ id: 'local', issuer: oidc.issuer, allowLoopbackHttp: true })
})
afterAll(async () => {
  await oidc?.close()
})

/** A real sign-in through the provider's login and consent pages (paste mode, no browser). */
async function signIn() {
  let url = ''
  return loginWithBrowser(provider, _CLIENT, {
    scopes: SCOPES,
    onUrl: (u) => {
      url = u
    },
    openBrowser: async () => {},
    pasteRedirectUrl: async () => new _Browser().authorize(url),
  })
}

/** What the provider says about a token (RFC 7662 introspection). */
async function introspect(token: string): Promise<{ active: boolean }> {
  const response = await fetch(`${oidc.issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${_CLIENT.clientId}:${_CLIENT.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  })
  return (await response.json()) as { active: boolean }
}

describe('logout revokes at the provider (AuthStore onClear + revokeOnClear)', () => {
  it('after clearToken the refresh token no longer works and the access token is inactive', async () => {
    const tokens = await signIn()
    const refreshToken = tokens.refreshToken as string
    expect(await introspect(tokens.accessToken)).toMatchObject({ active: true })
    const logger = recordingLogger()
    const store = new AuthStore({
      driver: memoryDriver(),
      refreshers: { local: oauthRefresher(provider, _CLIENT) },
      onClear: { local: revokeOnClear(provider, _CLIENT) },
      logger,
    })
    await store.setToken('local', tokens)
    expect(await store.clearToken('local')).toBe(true)

    const invalidBefore = oidc.invalidGrants
    const refused = await expectKeywardError(
      refreshTokens(provider, _CLIENT, { refreshToken }),
      KEYWARD_OAUTH_ERROR_RESPONSE,
    )
    // (also shows the server's invalid_grant counter, which the race test relies on, counts)
    expect(oidc.invalidGrants).toBe(invalidBefore + 1)
    expect(refused?.details).toMatchObject({ status: 400, error: 'invalid_grant' })
    expect(await introspect(tokens.accessToken)).toEqual({ active: false })
    expect(await store.getMetadata('local')).toBeNull()
    expect(_linesOf(logger).some((l) => l.startsWith('warn'))).toBe(false)
    for (const secret of [tokens.accessToken, refreshToken, _CLIENT.clientSecret])
      expect(logger.text()).not.toContain(secret)
  })

  it('a provider outage during logout is logged, the token is still deleted locally, and stays valid upstream', async () => {
    const tokens = await signIn()
    const logger = recordingLogger()
    const store = new AuthStore({
      driver: memoryDriver(),
      onClear: revokeOnClear(provider, _CLIENT, { timeoutMs: 2000 }),
      logger,
    })
    await store.setToken('local', tokens)
    oidc.outage = '503'
    try {
      expect(await store.clearToken('local')).toBe(true)
    } finally {
      oidc.outage = undefined
    }
    expect(await store.getMetadata('local')).toBeNull()
    const warning = _linesOf(logger).find((l) => l.includes('clear hook failed'))
    expect(warning).toContain(`"code":"${KEYWARD_OAUTH_ERROR_RESPONSE}"`)
    for (const secret of [tokens.accessToken, tokens.refreshToken as string])
      expect(logger.text()).not.toContain(secret)
    // Best effort really failed: the provider still honours the refresh token.
    const fresh = await refreshTokens(provider, _CLIENT, {
      refreshToken: tokens.refreshToken as string,
    })
    expect(fresh.accessToken).toEqual(expect.any(String))
  })

  it('a provider without a revocation endpoint: the hook reports KEYWARD_OAUTH_UNSUPPORTED, the delete stands', async () => {
    const noRevoke = defineProvider({
      id: 'norevoke',
      tokenUrl: `${oidc.issuer}/token`,
      allowLoopbackHttp: true,
    })
    const logger = recordingLogger()
    const store = new AuthStore({
      driver: memoryDriver(),
      onClear: revokeOnClear(noRevoke, _CLIENT),
      logger,
    })
    await store.setToken('norevoke', { accessToken: 'at-canary-41', refreshToken: 'rt-canary-42' })
    expect(await store.clearToken('norevoke')).toBe(true)
    expect(await store.isAuthenticated('norevoke')).toBe(false)
    expect(_linesOf(logger).find((l) => l.includes('clear hook failed'))).toContain(
      KEYWARD_OAUTH_UNSUPPORTED,
    )
    expect(logger.text()).not.toContain('canary')
    // And the hook itself says which tokens stayed valid, without quoting them.
    const error = await expectKeywardError(
      Promise.resolve(
        revokeOnClear(
          noRevoke,
          _CLIENT,
        )({
          service: 'norevoke',
          account: 'default',
          tokens: {
            accessToken: 'at-canary-41',
            refreshToken: 'rt-canary-42',
            tokenType: 'Bearer',
          },
        }),
      ),
      KEYWARD_OAUTH_UNSUPPORTED,
    )
    expect(error?.details).toMatchObject({ failed: ['refresh_token', 'access_token'] })
    expect(`${error?.message}${JSON.stringify(error)}`).not.toContain('canary')
  })
})

describe('transient provider failures (AuthStore + oauthRefresher)', () => {
  for (const outage of ['503', 'reset'] as const) {
    it(`${outage === '503' ? 'HTTP 503' : 'an unreachable token endpoint (connection reset)'}: degraded, the unexpired token is served, back to valid`, async () => {
      const tokens = await signIn()
      let now = Date.now()
      const store = new AuthStore({
        driver: memoryDriver(),
        refreshers: { local: oauthRefresher(provider, _CLIENT, { timeoutMs: 2000 }) },
        clock: () => now,
      })
      const events: { type: keyof AuthStoreEvents; event: unknown }[] = []
      for (const type of ['refreshed', 'degraded', 'reauthRequired'] as const)
        store.on(type, (event) => events.push({ type, event }))
      await store.setToken('local', tokens)
      const grantsBefore = oidc.refreshGrants
      now += 3450 * 1000 // within the refresh leeway, 150 s before the token expires

      oidc.outage = outage
      try {
        expect(await store.getToken('local', { scope: 'email' })).toBe(tokens.accessToken)
        expect(await store.getMetadata('local')).toMatchObject({
          state: 'degraded',
          failures: 1,
        })
        expect(events.map((e) => e.type)).toEqual(['degraded'])
        // Inside the backoff the store does not call the provider again, and keeps serving.
        expect(await store.getToken('local', { scope: 'email' })).toBe(tokens.accessToken)
        expect(events).toHaveLength(1)
      } finally {
        oidc.outage = undefined
      }
      expect(oidc.refreshGrants).toBe(grantsBefore)

      now += 5000 // past the backoff
      const fresh = await store.getToken('local', { scope: 'email' })
      expect(fresh).not.toBe(tokens.accessToken)
      expect(await introspect(fresh)).toMatchObject({ active: true })
      expect(await store.getMetadata('local')).toMatchObject({ state: 'valid', failures: 0 })
      expect(events.map((e) => e.type)).toEqual(['degraded', 'refreshed'])
      expect(oidc.refreshGrants).toBe(grantsBefore + 1)
    })
  }
})

// ---- 8 processes × 50 concurrent getToken on one file store, against oidc-provider ---------

const PROCESSES = 8
const CALLS = 50
/** What a child answers for a round: the tokens its calls got and the errors they met. */
type Answer = { tokens: string[]; errors: string[] }
const PACKAGES = ['core', 'authstore', 'oauth']

describe('refresh across processes against oidc-provider (rotating refresh tokens)', () => {
  const race = useRaceChildren({
    packages: PACKAGES,
    child: new URL('./_race-child.mjs', import.meta.url),
    prefix: 'keyward-oauth-xproc-',
  })

  it(`${PROCESSES} processes × ${CALLS} concurrent getToken: one refresh per expiry, zero invalid_grant, every caller gets the current token`, async () => {
    const path = join(race.dir, 'tokens.kw')
    const env = {
      KW_OAUTH_TEST_KEY: randomBytes(32).toString('base64'),
      KW_OAUTH_TEST_CLIENT: JSON.stringify(_CLIENT),
    }
    const tokens = await signIn()
    const driver = fileDriver({ path, key: envKey('KW_OAUTH_TEST_KEY', { env }) })
    await new AuthStore({ driver }).setToken('local', tokens)
    await driver.close?.()

    const config = JSON.stringify({ path, issuer: oidc.issuer, scope: 'email' })
    await race.start(PROCESSES, [config], env)
    const grantsBefore = oidc.refreshGrants
    const invalidBefore = oidc.invalidGrants

    // Round 1: an hour later (store clocks) the signed-in token has expired in every process.
    // Round 2: the token round 1's refresh issued (1 h) has expired too.
    let previous = tokens.accessToken
    for (const [round, offsetSeconds] of [
      [1, 3600],
      [2, 3 * 3600],
    ] as const) {
      const results = await race.ask<Answer>({ offsetSeconds, calls: CALLS })
      const served = results.flatMap((r) => r.tokens)
      expect(results.flatMap((r) => r.errors)).toEqual([])
      expect(served).toHaveLength(PROCESSES * CALLS)
      expect(oidc.refreshGrants - grantsBefore).toBe(round)
      expect(oidc.invalidGrants - invalidBefore).toBe(0)
      expect(new Set(served).size).toBe(1)
      expect(served[0]).not.toBe(previous)
      expect(await introspect(served[0] as string)).toMatchObject({ active: true })
      previous = served[0] as string
    }
    race.exit()

    // The parent, reading the file afresh, sees the second refresh persisted.
    const reader = fileDriver({ path, key: envKey('KW_OAUTH_TEST_KEY', { env }) })
    expect(await new AuthStore({ driver: reader }).getMetadata('local')).toMatchObject({
      state: 'valid',
      generation: 3,
    })
    await reader.close?.()
  })
})
