// Regression: a refresh in flight, then clearToken + setToken (a new sign-in), then the refresh
// finished and wrote the old grant over the new login (compare-and-set on the driver version
// only, and versions restart after a delete).
import { type Driver, KEYWARD_LOCK_TIMEOUT, KeywardError } from '@keyward/core'
import { describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { _manualClock } from './_helpers.js'
import { AuthStore, type Refresher } from './index.js'

/** A refresher that waits until the test lets it answer, and says when it was entered. */
function gatedRefresher() {
  let enter!: () => void
  let release!: () => void
  const entered = new Promise<void>((resolve) => {
    enter = resolve
  })
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  const refresher: Refresher = async () => {
    enter()
    await released
    return { accessToken: 'old-grant-refreshed', refreshToken: 'old-grant-rt-2', expiresIn: 3600 }
  }
  return { refresher, entered, release }
}

/** Lets `chain` run, then releases the refresher once it ended or after a short while. */
async function releaseAfter(chain: Promise<unknown>, release: () => void) {
  await Promise.race([chain.catch(() => {}), new Promise((r) => setTimeout(r, 100))])
  release()
}

async function signIn(store: AuthStore, accessToken: string) {
  await store.setToken('svc', { accessToken, refreshToken: `${accessToken}-rt`, expiresIn: 600 })
}

/** Two stores on `driver`; the first signs in and starts a refresh that waits on the gate. */
async function refreshInFlight(driver: Driver, clock: ReturnType<typeof _manualClock>) {
  const gate = gatedRefresher()
  const refreshing = new AuthStore({
    driver,
    clock: clock.now,
    refreshers: { svc: gate.refresher },
  })
  const other = new AuthStore({ driver, clock: clock.now })
  await signIn(refreshing, 'old-grant')
  clock.advance(590)
  const inFlight = refreshing.getToken('svc')
  await gate.entered
  return { gate, refreshing, other, inFlight }
}

describe('a stale refresh never overwrites a newer login', () => {
  it('refresh in flight, then clearToken + setToken from another store: the new login survives', async () => {
    const clock = _manualClock()
    const driver = suiteDriver()
    const { gate, refreshing, other, inFlight } = await refreshInFlight(driver, clock)
    const signOutAndIn = (async () => {
      await other.clearToken('svc')
      await signIn(other, 'new-login')
    })()
    await releaseAfter(signOutAndIn, gate.release)
    await Promise.allSettled([inFlight, signOutAndIn])
    await signOutAndIn

    const reader = new AuthStore({ driver, clock: clock.now })
    expect(await reader.getToken('svc')).toBe('new-login')
    expect(await other.getToken('svc')).toBe('new-login')
    refreshing.reload()
    expect(await refreshing.getToken('svc')).toBe('new-login')
  })

  it('even when clearToken cannot take the record lock, the refresh re-checks the grant before it writes', async () => {
    const clock = _manualClock()
    const inner = suiteDriver()
    let lockBusy = false
    const driver: Driver = {
      ...inner,
      name: inner.name,
      durability: inner.durability,
      withLock: (key, fn, options) => {
        if (lockBusy) return Promise.reject(new KeywardError(KEYWARD_LOCK_TIMEOUT, 'lock busy'))
        return inner.withLock(key, fn, options)
      },
    }
    const { gate, other, inFlight } = await refreshInFlight(driver, clock)
    lockBusy = true
    await other.clearToken('svc')
    await signIn(other, 'new-login')
    gate.release()
    await inFlight.catch(() => {})
    lockBusy = false
    expect(await new AuthStore({ driver, clock: clock.now }).getToken('svc')).toBe('new-login')
  })
})
