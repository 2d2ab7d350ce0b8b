// Regression: a refresher that never settled blocked getToken forever, even while the cached
// token was valid for minutes.
import {
  type Driver,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_LOCK_TIMEOUT,
  KeywardError,
} from '@keyward/core'
import { expectKeywardError } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { _manualClock } from './_helpers.js'
import { type AuthenticationRequiredError, AuthStore, RefreshError } from './index.js'

function hangingRefresher() {
  const signals: AbortSignal[] = []
  const refresher = ({ signal }: { signal?: AbortSignal | undefined }) => {
    if (signal !== undefined) signals.push(signal)
    return new Promise<never>(() => {})
  }
  return { refresher, signals }
}

describe('every refresher call is bounded', () => {
  it('a refresher that never settles: getToken serves the unexpired token, the signal aborts, the record goes degraded', {
    timeout: 20_000,
  }, async () => {
    const clock = _manualClock()
    const { refresher, signals } = hangingRefresher()
    const store = new AuthStore({
      driver: suiteDriver(),
      clock: clock.now,
      refreshers: { svc: refresher },
      refreshTimeoutMs: 200,
    })
    const degraded: unknown[] = []
    store.on('degraded', (event) => degraded.push(event))
    await store.setToken('svc', { accessToken: 'still-valid', refreshToken: 'rt', expiresIn: 600 })
    clock.advance(550) // inside the refresh margin, before expiry
    expect(await store.getToken('svc')).toBe('still-valid')
    expect(signals).toHaveLength(1)
    expect(signals[0]?.aborted).toBe(true)
    expect(RefreshError.isInstance(signals[0]?.reason)).toBe(true)
    expect(degraded).toHaveLength(1)
    expect(await store.getMetadata('svc')).toMatchObject({ state: 'degraded', failures: 1 })
    // In backoff the token is served from memory at once, without calling the refresher again.
    expect(await store.getToken('svc')).toBe('still-valid')
    expect(signals).toHaveLength(1)
  })

  it('past expiry, a refresher that never settles ends in `expired` with the timeout as cause', {
    timeout: 20_000,
  }, async () => {
    const clock = _manualClock()
    const { refresher } = hangingRefresher()
    const store = new AuthStore({
      driver: suiteDriver(),
      clock: clock.now,
      refreshers: { svc: refresher },
      refreshTimeoutMs: 100,
    })
    await store.setToken('svc', { accessToken: 'old', refreshToken: 'rt', expiresIn: 60 })
    clock.advance(61)
    const error = (await store.getToken('svc').catch((e) => e)) as AuthenticationRequiredError
    expect(error.reason).toBe('expired')
    expect(RefreshError.isInstance(error.cause)).toBe(true)
    expect((error.cause as RefreshError).transient).toBe(true)
  })

  it('another process holding the record lock past lockTimeoutMs: the unexpired token is served', async () => {
    const clock = _manualClock()
    const inner = suiteDriver()
    const driver: Driver = {
      ...inner,
      name: inner.name,
      durability: inner.durability,
      withLock: async () => {
        throw new KeywardError(KEYWARD_LOCK_TIMEOUT, 'lock busy')
      },
    }
    const store = new AuthStore({
      driver,
      clock: clock.now,
      refreshers: { svc: async () => ({ accessToken: 'never' }) },
    })
    await store.setToken('svc', { accessToken: 'still-valid', refreshToken: 'rt', expiresIn: 600 })
    clock.advance(550)
    expect(await store.getToken('svc')).toBe('still-valid')
    clock.advance(300) // expired: now the lock failure is the caller's error
    await expect(store.getToken('svc')).rejects.toMatchObject({ code: KEYWARD_LOCK_TIMEOUT })
  })

  it('rejects a bad refreshTimeoutMs at construction, naming it', async () => {
    for (const refreshTimeoutMs of [0, -1, Number.NaN, 2 ** 31, '5']) {
      const error = await expectKeywardError(
        () => new AuthStore({ driver: suiteDriver(), refreshTimeoutMs: refreshTimeoutMs as never }),
        KEYWARD_INVALID_ARGUMENT,
      )
      expect(error.message).toContain('`refreshTimeoutMs`')
    }
  })
})
