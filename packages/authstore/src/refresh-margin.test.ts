// The refresh-ahead margin scales with the token's lifetime: a quarter of it (at most the
// leeway). Half of it used to be the margin, so a short-lived token was replaced when half its
// life was left and the MCP bench race (3 s tokens) refreshed about twice per expiry.
import { describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { _manualClock, _refreshingStore } from './_helpers.js'
import { AuthStore } from './index.js'

describe('refresh-ahead margin', () => {
  it('a short-lived token is not refreshed at half its lifetime (about two refreshes per expiry)', async () => {
    let refreshes = 0
    const { clock, store } = _refreshingStore(async () => {
      refreshes += 1
      return { accessToken: `at_${refreshes}`, refreshToken: `rt_${refreshes}`, expiresIn: 3 }
    })
    await store.setToken('svc', { accessToken: 'at_0', refreshToken: 'rt_0', expiresIn: 3 })
    // Half its lifetime (and a bit) later, 1.4 s are left: the token is served as it is.
    clock.advance(1.6)
    expect(await store.getToken('svc')).toBe('at_0')
    clock.advance(0.4) // 2 s: still more than a quarter (0.75 s, +20 % jitter) left
    expect(await store.getToken('svc')).toBe('at_0')
    expect(refreshes).toBe(0)
    clock.advance(0.3) // 2.3 s: inside the margin
    expect(await store.getToken('svc')).toBe('at_1')
    // Over ten lifetimes, one refresh per token.
    for (let i = 0; i < 10; i++) {
      clock.advance(3 * 0.95)
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
    clock.advance(86_400 - 120 - 25) // the margin is 120 s (+ up to 24 s jitter), not 21 600 s
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
