import { afterEach, describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { _authRequired, _countingDriver, _manualClock, _refreshingStore } from './_helpers.js'
import { _httpRefresher, _startTokenServer, type TokenServer } from './_token-server.js'
import { AuthStore, type AuthStoreEvents, KEYWARD_REFRESH_FAILED, RefreshError } from './index.js'

let server: TokenServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function setup(options: Parameters<typeof _startTokenServer>[0] = {}) {
  server = await _startTokenServer(options)
  const clock = _manualClock()
  const { driver, calls } = _countingDriver(suiteDriver())
  const refreshers = { registry: _httpRefresher(server.url, clock.now) }
  const store = new AuthStore({ driver, refreshers, clock: clock.now })
  const grant = server.issue('registry:read registry:write')
  await store.setToken('registry', {
    ...grant,
    expiresIn: 600,
    scopes: 'registry:read registry:write',
  })
  const events: { type: keyof AuthStoreEvents; event: unknown }[] = []
  for (const type of ['refreshed', 'degraded', 'reauthRequired', 'cleared'] as const)
    store.on(type, (event) => events.push({ type, event }))
  return { server, clock, driver, calls, refreshers, store, grant, events }
}

const rejection = _authRequired

describe('refresh without racing', () => {
  it('1,000 concurrent getToken after expiry cause exactly one refresh, and all get the new token', async () => {
    const { server, clock, store, grant, calls } = await setup()
    for (const round of [1, 2]) {
      clock.advance(3600 * round)
      const tokens = await Promise.all(
        Array.from({ length: 1000 }, () => store.getToken('registry', { scope: 'registry:write' })),
      )
      expect(server.refreshes).toBe(round)
      // Single-flight: one cross-process lock per expiry, not one per caller.
      expect(calls.withLock).toBe(round)
      expect(new Set(tokens).size).toBe(1)
      expect(tokens[0]).not.toBe(grant.accessToken)
      expect(server.isCurrent(tokens[0]!)).toBe(true)
    }
    expect(server.invalidGrants).toBe(0)
    const meta = await store.getMetadata('registry')
    expect(meta).toMatchObject({ state: 'valid', generation: 3, hasRefreshToken: true })
  })

  it('two stores on one driver (two "processes") refresh once per expiry through withLock + re-read', async () => {
    const { server, clock, driver, refreshers } = await setup()
    const a = new AuthStore({ driver, refreshers, clock: clock.now })
    const b = new AuthStore({ driver, refreshers, clock: clock.now })
    await a.getToken('registry')
    await b.getToken('registry')
    clock.advance(3600)
    const tokens = await Promise.all(
      Array.from({ length: 500 }, (_, i) => (i % 2 ? a : b).getToken('registry')),
    )
    expect(server.refreshes).toBe(1)
    expect(server.invalidGrants).toBe(0)
    expect(new Set(tokens).size).toBe(1)
    expect(server.isCurrent(tokens[0]!)).toBe(true)
  })

  it('refreshes within the leeway (min(5 min, half the lifetime)), not before', async () => {
    const { server, clock, store } = await setup()
    // 600 s token: leeway 300 s (+ up to 20 % jitter).
    clock.advance(600 - 300 - 61)
    await store.getToken('registry')
    expect(server.refreshes).toBe(0)
    clock.advance(62)
    const token = await store.getToken('registry')
    expect(server.refreshes).toBe(1)
    expect(server.isCurrent(token)).toBe(true)
    // The new token lives 3600 s: leeway is 300 s again, so nothing happens at +3000 s.
    clock.advance(3000)
    await store.getToken('registry')
    expect(server.refreshes).toBe(1)
    // A 60 s token: leeway is 30 s (half the lifetime).
    await store.setToken('registry', { ...server.issue('x'), expiresIn: 60 })
    clock.advance(23)
    await store.getToken('registry')
    expect(server.refreshes).toBe(1)
    clock.advance(8)
    await store.getToken('registry')
    expect(server.refreshes).toBe(2)
  })

  it('persists the new pair before returning, and emits `refreshed` without tokens', async () => {
    const { clock, driver, refreshers, store, events } = await setup()
    clock.advance(3600)
    const token = await store.getToken('registry')
    const other = new AuthStore({ driver, refreshers, clock: clock.now })
    expect(await other.getToken('registry')).toBe(token)
    expect(events).toEqual([
      {
        type: 'refreshed',
        event: {
          service: 'registry',
          account: 'default',
          generation: 2,
          expiresAt: new Date(clock.now() + 3_600_000),
          scopes: ['registry:read', 'registry:write'],
        },
      },
    ])
  })

  it('keeps the old refresh token when the provider returns none', async () => {
    const { server, clock, store } = await setup({ rotate: false })
    clock.advance(3600)
    await store.getToken('registry')
    clock.advance(3600)
    await store.getToken('registry')
    expect(server.refreshes).toBe(2)
    expect(server.invalidGrants).toBe(0)
    expect((await store.getMetadata('registry'))?.hasRefreshToken).toBe(true)
  })

  it('refreshes a token with an inferred expiry, and takes the expiry the provider sends', async () => {
    const { server, clock, store } = await setup()
    const meta = await store.setToken('registry', { ...server.issue('registry:read') })
    expect(meta.expiry).toBe('inferred')
    clock.advance(3600)
    await store.getToken('registry')
    expect(server.refreshes).toBe(1)
    expect(await store.getMetadata('registry')).toMatchObject({
      expiry: 'server',
      expiresAt: new Date(clock.now() + 3_600_000),
    })
  })
})

describe('refresh failures', () => {
  it('transient 503: callers keep the unexpired token, state goes degraded and back to valid', async () => {
    const { server, clock, store, grant, events } = await setup()
    server.fail(503)
    clock.advance(550) // inside the margin, 50 s before expiry
    const tokens = await Promise.all(
      Array.from({ length: 100 }, () => store.getToken('registry', { scope: 'registry:read' })),
    )
    expect(new Set(tokens)).toEqual(new Set([grant.accessToken]))
    expect(server.failures).toBe(1)
    let meta = await store.getMetadata('registry')
    expect(meta).toMatchObject({
      state: 'degraded',
      failures: 1,
      lastError: 'temporarily_unavailable',
    })
    expect(meta?.retryAt).toEqual(new Date(clock.now() + 1000))
    // During the backoff nothing calls the endpoint.
    expect(await store.getToken('registry')).toBe(grant.accessToken)
    expect(server.failures).toBe(1)
    // After it, one more attempt, a longer backoff.
    clock.advance(1)
    expect(await store.getToken('registry')).toBe(grant.accessToken)
    expect(server.failures).toBe(2)
    expect((await store.getMetadata('registry'))?.retryAt).toEqual(new Date(clock.now() + 2000))
    server.fail(null)
    clock.advance(2)
    const token = await store.getToken('registry')
    expect(token).not.toBe(grant.accessToken)
    expect(server.isCurrent(token)).toBe(true)
    meta = await store.getMetadata('registry')
    expect(meta).toMatchObject({ state: 'valid', failures: 0, retryAt: null, lastError: null })
    expect(events.map((e) => e.type)).toEqual(['degraded', 'degraded', 'refreshed'])
    expect(events[0]?.event).toMatchObject({
      service: 'registry',
      failures: 1,
      oauthError: 'temporarily_unavailable',
    })
    expect(server.invalidGrants).toBe(0)
  })

  it('honours Retry-After from a 429', async () => {
    const { server, clock, store } = await setup()
    server.fail(429, 120)
    clock.advance(550)
    await store.getToken('registry')
    expect((await store.getMetadata('registry'))?.retryAt).toEqual(new Date(clock.now() + 120_000))
  })

  it('a transient failure past expiry throws `expired` with the RefreshError as cause, and deletes nothing', async () => {
    const { server, clock, store, driver } = await setup()
    server.fail(503)
    clock.advance(700)
    const error = await rejection(store.getToken('registry'))
    expect(error.reason).toBe('expired')
    expect(error.message).toMatch(
      /^token for registry expired and refreshing failed \(temporarily_unavailable\); next attempt after /,
    )
    expect(RefreshError.isInstance(error.cause)).toBe(true)
    expect((error.cause as RefreshError).code).toBe(KEYWARD_REFRESH_FAILED)
    expect(await driver.list()).toEqual(['authstore/registry/default'])
    // Still refreshable: isAuthenticated is true, and recovery works.
    expect(await store.isAuthenticated('registry')).toBe(true)
    server.fail(null)
    clock.advance(2)
    expect(server.isCurrent(await store.getToken('registry'))).toBe(true)
  })

  it('an error that is not a RefreshError counts as transient', async () => {
    const { clock, store } = _refreshingStore(async () => {
      throw new TypeError('fetch failed')
    })
    await store.setToken('svc', { accessToken: 'old', refreshToken: 'r', expiresIn: 600 })
    clock.advance(550)
    expect(await store.getToken('svc')).toBe('old')
    expect((await store.getMetadata('svc'))?.state).toBe('degraded')
  })

  it('invalid_grant: reauth_required (event, error), nothing deleted, no further calls', async () => {
    const { server, clock, store, driver, events } = await setup()
    await store.setToken('registry', {
      accessToken: 'a',
      refreshToken: 'unknown-refresh',
      expiresIn: 600,
      scopes: 'registry:read',
    })
    clock.advance(700)
    const errors = await Promise.all(
      Array.from({ length: 50 }, () => rejection(store.getToken('registry'))),
    )
    expect(new Set(errors.map((e) => e.reason))).toEqual(new Set(['reauth_required']))
    expect(errors[0]?.message).toBe(
      'token for registry was refused by the provider (invalid_grant); sign in again',
    )
    expect(server.invalidGrants).toBe(1)
    expect(events.filter((e) => e.type === 'reauthRequired')).toEqual([
      {
        type: 'reauthRequired',
        event: { service: 'registry', account: 'default', oauthError: 'invalid_grant' },
      },
    ])
    expect((await store.getMetadata('registry'))?.state).toBe('reauth_required')
    expect(await store.isAuthenticated('registry')).toBe(false)
    expect(await driver.list()).toEqual(['authstore/registry/default'])
    // Another process sees the state too, and does not call the endpoint again.
    const other = new AuthStore({
      driver,
      refreshers: { registry: _httpRefresher(server.url) },
      clock: clock.now,
    })
    expect((await rejection(other.getToken('registry'))).reason).toBe('reauth_required')
    expect(server.invalidGrants).toBe(1)
    // Signing in again recovers.
    await store.setToken('registry', { ...server.issue('registry:read'), expiresIn: 600 })
    expect(await store.getToken('registry')).toBeTruthy()
  })

  it('invalid_grant after a sibling stored new tokens: re-read and use them instead of reauth', async () => {
    const { server, clock, driver } = await setup()
    const sibling = new AuthStore({ driver, clock: clock.now })
    const fresh = server.issue('registry:read')
    const refresh = _httpRefresher(server.url, clock.now)
    const store = new AuthStore({
      driver,
      clock: clock.now,
      refreshers: {
        // A sign-in elsewhere lands while our (already doomed) refresh is in flight.
        registry: async (current) => {
          await sibling.setToken('registry', { ...fresh, expiresIn: 3600 })
          return refresh({ ...current, refreshToken: 'burnt' })
        },
      },
    })
    clock.advance(700)
    expect(await store.getToken('registry')).toBe(fresh.accessToken)
    expect(server.invalidGrants).toBe(1)
    expect((await store.getMetadata('registry'))?.state).toBe('valid')
  })

  it('a record cleared during a refresh is reported as no_token, not resurrected', async () => {
    const { driver } = _countingDriver(suiteDriver())
    const { clock, store } = _refreshingStore(async () => {
      await driver.delete('authstore/svc/default')
      return { accessToken: 'new', expiresIn: 60 }
    }, driver)
    await store.setToken('svc', { accessToken: 'old', refreshToken: 'r', expiresIn: 60 })
    clock.advance(61)
    expect((await rejection(store.getToken('svc'))).reason).toBe('no_token')
    expect(await driver.list()).toEqual([])
  })
})
