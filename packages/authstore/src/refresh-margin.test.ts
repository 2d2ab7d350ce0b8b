// The refresh-ahead margin scales with the token's lifetime: half of it at most (the design's
// min(leeway, lifetime/2)), so each short-lived token is replaced once, well before it expires;
// and a refreshed token's expiry counts from the refresh request, not its answer.
import { describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { _manualClock, _refreshingStore } from './_helpers.js'
import { AuthStore } from './index.js'

describe('refresh-ahead margin', () => {
  it('a short-lived token is refreshed once, when about half its lifetime is left', async () => {
    let refreshes = 0
    const { clock, store } = _refreshingStore(async () => {
      refreshes += 1
      return { accessToken: `at_${refreshes}`, refreshToken: `rt_${refreshes}`, expiresIn: 3 }
    })
    await store.setToken('svc', { accessToken: 'at_0', refreshToken: 'rt_0', expiresIn: 3 })
    // 1.1 s in, 1.9 s are left: more than half the lifetime (1.5 s, +20 % jitter), served as it is.
    clock.advance(1.1)
    expect(await store.getToken('svc')).toBe('at_0')
    expect(refreshes).toBe(0)
    clock.advance(0.5) // 1.6 s: inside the margin
    expect(await store.getToken('svc')).toBe('at_1')
    expect(await store.getToken('svc')).toBe('at_1')
    // Each token is replaced once: over ten more tokens, one refresh each.
    for (let i = 0; i < 10; i++) {
      clock.advance(3 * 0.55)
      await store.getToken('svc')
      await store.getToken('svc')
    }
    expect(refreshes).toBe(11)
  })

  it('a long-lived token keeps the configured leeway as its margin', async () => {
    const clock = _manualClock()
    let refreshes = 0
    const store = new AuthStore({
      driver: suiteDriver(),
      clock: clock.now,
      leewaySeconds: 120,
      refreshers: {
        svc: async () => {
          refreshes += 1
          return { accessToken: 'next', refreshToken: 'rt', expiresIn: 86_400 }
        },
      },
    })
    await store.setToken('svc', { accessToken: 'day', refreshToken: 'rt', expiresIn: 86_400 })
    clock.advance(86_400 - 120 - 25) // the margin is 120 s (+ up to 24 s jitter), not 43 200 s
    expect(await store.getToken('svc')).toBe('day')
    clock.advance(26)
    expect(await store.getToken('svc')).toBe('next')
    expect(refreshes).toBe(1)
  })

  it("a slow refresh answer does not push the stored expiry past the server's (counted from the request)", async () => {
    let answered = 0
    const { clock, store } = _refreshingStore(async () => {
      clock.advance(2) // the token endpoint took 2 s to answer, under load
      answered += 1
      return { accessToken: `at_${answered}`, refreshToken: 'rt', expiresIn: 10 }
    })
    await store.setToken('svc', { accessToken: 'at_0', refreshToken: 'rt', expiresIn: 10 })
    clock.advance(10)
    const requestedAt = clock.now()
    expect(await store.getToken('svc')).toBe('at_1')
    // The server issued at_1 when it got the request: it expires 10 s after that, not after the answer.
    expect((await store.getMetadata('svc'))?.expiresAt).toEqual(new Date(requestedAt + 10_000))
  })
})
