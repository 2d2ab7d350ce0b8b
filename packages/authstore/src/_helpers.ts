// Test helpers. Not part of the package.
import type { Driver, Refresher } from '@keyward/core'
import { KEYWARD_AUTH_REQUIRED } from '@keyward/core'
import { expectKeywardError } from '@keyward/core/testing'
import { suiteDriver } from '../../../test/_driver.js'
import { type AuthenticationRequiredError, AuthStore } from './index.js'

/** A clock tests move by hand. */
export function _manualClock(start = Date.UTC(2030, 0, 1)) {
  let now = start
  return {
    now: () => now,
    advance(seconds: number) {
      now += seconds * 1000
    },
  }
}

/** Wraps a driver and counts calls per method. */
export function _countingDriver(inner: Driver) {
  const calls = { get: 0, set: 0, delete: 0, list: 0, withLock: 0 }
  const counted = <M extends keyof typeof calls>(method: M) =>
    ((...args: unknown[]) => {
      calls[method]++
      return Reflect.apply(inner[method], inner, args)
    }) as Driver[M]
  const driver: Driver = {
    name: inner.name,
    durability: inner.durability,
    get: counted('get'),
    set: counted('set'),
    delete: counted('delete'),
    list: counted('list'),
    withLock: counted('withLock'),
  }
  return { driver, calls }
}

/** The AuthenticationRequiredError a call rejects with (the test kit checks the code). */
export const _authRequired = (promise: Promise<unknown>) =>
  expectKeywardError(
    promise,
    KEYWARD_AUTH_REQUIRED,
  ) as unknown as Promise<AuthenticationRequiredError>

/** An AuthStore on the suite's driver (test/_driver.ts) unless given, whose service `svc` refreshes with `refresher`, on a hand-moved clock. */
export function _refreshingStore(refresher: Refresher, driver: Driver = suiteDriver()) {
  const clock = _manualClock()
  const store = new AuthStore({ driver, clock: clock.now, refreshers: { svc: refresher } })
  return { clock, store }
}
