// Test helpers. Not part of the package.
import type { Driver } from '@keyward/core'

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
  const driver: Driver = {
    name: inner.name,
    durability: inner.durability,
    get: (key) => {
      calls.get++
      return inner.get(key)
    },
    set: (key, value, options) => {
      calls.set++
      return inner.set(key, value, options)
    },
    delete: (key, options) => {
      calls.delete++
      return inner.delete(key, options)
    },
    list: (prefix) => {
      calls.list++
      return inner.list(prefix)
    },
    withLock: (key, fn, options) => {
      calls.withLock++
      return inner.withLock(key, fn, options)
    },
  }
  return { driver, calls }
}
