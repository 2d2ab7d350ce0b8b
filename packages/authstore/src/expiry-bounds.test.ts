// Regressions: `expiresIn: 1e13` (or a provider's `expires_in` that large) was stored, and every
// other process then got KEYWARD_AUTH_RECORD_CORRUPT; `expiresIn <= 0` from a refresher caused
// one refresh per getToken (20 calls → 20 refreshes).
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { _manualClock } from './_helpers.js'
import { AuthStore } from './index.js'

const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000

describe('what is written is readable by every other process', () => {
  it('setToken with expiresIn 1e13 stores a record another store reads (clamped to 10 years)', async () => {
    const clock = _manualClock()
    const driver = memoryDriver()
    const writer = new AuthStore({ driver, clock: clock.now })
    await writer.setToken('svc', { accessToken: 'long-lived', expiresIn: 1e13 })
    const reader = new AuthStore({ driver, clock: clock.now })
    expect(await reader.getToken('svc')).toBe('long-lived')
    const meta = await reader.getMetadata('svc')
    expect(meta?.expiresAt?.getTime()).toBe(clock.now() + TEN_YEARS_MS)
  })

  it('a refresher returning expires_in 1e13 writes a record another store reads, with the rotated refresh token', async () => {
    const clock = _manualClock()
    const driver = memoryDriver()
    const refreshers = {
      svc: async () => ({ accessToken: 'refreshed', refreshToken: 'rt-2', expiresIn: 1e13 }),
    }
    const writer = new AuthStore({ driver, clock: clock.now, refreshers })
    await writer.setToken('svc', { accessToken: 'first', refreshToken: 'rt-1', expiresIn: 60 })
    clock.advance(61)
    expect(await writer.getToken('svc')).toBe('refreshed')
    const reader = new AuthStore({ driver, clock: clock.now, refreshers })
    expect(await reader.getToken('svc')).toBe('refreshed')
    expect((await reader.getMetadata('svc'))?.generation).toBe(2)
  })

  it('setToken with an expiresAt beyond any date, or before 1970, is clamped and stays readable', async () => {
    const clock = _manualClock()
    const driver = memoryDriver()
    const writer = new AuthStore({ driver, clock: clock.now })
    await writer.setToken('far', { accessToken: 'far', expiresAt: 1e300 })
    await writer.setToken('past', { accessToken: 'past', expiresAt: -1e300 })
    const reader = new AuthStore({ driver, clock: clock.now })
    expect(await reader.getToken('far')).toBe('far')
    expect((await reader.getMetadata('past'))?.expiresAt?.getTime()).toBe(0)
  })

  it('property: any expiresIn setToken accepts is readable by another store', async () => {
    await fc.assert(
      fc.asyncProperty(fc.double(), async (expiresIn) => {
        const clock = _manualClock()
        const driver = memoryDriver()
        const writer = new AuthStore({ driver, clock: clock.now })
        try {
          await writer.setToken('svc', { accessToken: 't', expiresIn })
        } catch (error) {
          // Only NaN and ±Infinity are refused, with the stable code.
          expect(Number.isFinite(expiresIn)).toBe(false)
          expect(KeywardError.isInstance(error) && error.code).toBe(KEYWARD_INVALID_ARGUMENT)
          return
        }
        const reader = new AuthStore({ driver, clock: clock.now })
        const meta = await reader.getMetadata('svc')
        expect(Number.isSafeInteger(meta?.expiresAt?.getTime())).toBe(true)
      }),
      { numRuns: 200 },
    )
  })
})

describe('a refresher answering expiresIn <= 0', () => {
  for (const expiresIn of [0, -30]) {
    it(`expiresIn ${expiresIn}: 20 getToken calls cause one refresh, not 20 (treated as no expiry)`, async () => {
      const clock = _manualClock()
      let refreshes = 0
      const store = new AuthStore({
        driver: memoryDriver(),
        clock: clock.now,
        refreshers: {
          svc: async () => ({ accessToken: `at-${++refreshes}`, expiresIn }),
        },
      })
      await store.setToken('svc', { accessToken: 'at-0', refreshToken: 'rt', expiresIn: 60 })
      clock.advance(61)
      for (let i = 0; i < 20; i++) {
        expect(await store.getToken('svc')).toBe('at-1')
        clock.advance(1)
      }
      expect(refreshes).toBe(1)
      expect(await store.getMetadata('svc')).toMatchObject({ expiry: 'inferred' })
    })
  }
})
