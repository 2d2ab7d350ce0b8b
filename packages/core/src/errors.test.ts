import { describe, expect, it } from 'vitest'
import {
  isKeywardError,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_REFRESH_FAILED,
  KeywardError,
  RefreshError,
} from './errors.js'
import { expectKeywardError } from './test-kit.js'

class SiblingError extends KeywardError {
  static override readonly marker: symbol = Symbol.for('keyward.error.test.SiblingError')
}
class ChildOfRefresh extends RefreshError {
  static override readonly marker: symbol = Symbol.for('keyward.error.test.ChildOfRefresh')
}
class Unmarked extends KeywardError {}

describe('KeywardError markers and isInstance', () => {
  const base = new KeywardError(KEYWARD_INVALID_ARGUMENT, 'x')
  const refresh = new RefreshError('refused', { transient: false, oauthError: 'invalid_grant' })
  const sibling = new SiblingError(KEYWARD_INVALID_ARGUMENT, 'sibling')

  it('KeywardError.isInstance accepts every keyward error and nothing else', () => {
    for (const error of [base, refresh, sibling, new ChildOfRefresh('c', { transient: true })])
      expect(KeywardError.isInstance(error)).toBe(true)
    for (const value of [new Error('x'), { code: KEYWARD_INVALID_ARGUMENT }, null, 'x', undefined])
      expect(KeywardError.isInstance(value)).toBe(false)
  })

  it('a subclass never accepts the base class or a sibling (regression: isInstance inherited the base check)', () => {
    expect(RefreshError.isInstance(base)).toBe(false)
    expect(RefreshError.isInstance(sibling)).toBe(false)
    expect(SiblingError.isInstance(refresh)).toBe(false)
    expect(SiblingError.isInstance(base)).toBe(false)
    expect(RefreshError.isInstance(refresh)).toBe(true)
    expect(SiblingError.isInstance(sibling)).toBe(true)
  })

  it('a subclass of a subclass is recognised by both, not the other way round', () => {
    const child = new ChildOfRefresh('c', { transient: true })
    expect(RefreshError.isInstance(child)).toBe(true)
    expect(ChildOfRefresh.isInstance(child)).toBe(true)
    expect(ChildOfRefresh.isInstance(refresh)).toBe(false)
  })

  it('recognises an instance from another copy of the package by its Symbol.for marker', () => {
    // What a second copy of @keyward/core makes: another class object, the same registered symbols.
    const foreign = Object.create(Error.prototype) as Record<symbol, unknown>
    Object.defineProperty(foreign, Symbol.for('keyward.error'), { value: true })
    Object.defineProperty(foreign, Symbol.for('keyward.error.RefreshError'), { value: true })
    expect(KeywardError.isInstance(foreign)).toBe(true)
    expect(RefreshError.isInstance(foreign)).toBe(true)
    expect(SiblingError.isInstance(foreign)).toBe(false)
  })

  it('a class that declares no marker of its own recognises nothing', () => {
    expect(Unmarked.isInstance(new Unmarked(KEYWARD_INVALID_ARGUMENT, 'u'))).toBe(false)
    expect(KeywardError.isInstance(new Unmarked(KEYWARD_INVALID_ARGUMENT, 'u'))).toBe(true)
  })

  it('works unbound, as a callback', () => {
    expect([new Error('x'), base].filter(KeywardError.isInstance)).toEqual([base])
  })

  it('keeps markers out of JSON, inspect keys and enumeration', () => {
    expect(Object.keys(refresh)).not.toContain(Symbol.for('keyward.error.RefreshError'))
    expect(
      Object.getOwnPropertySymbols(refresh).every(
        (s) => !Object.getOwnPropertyDescriptor(refresh, s)?.enumerable,
      ),
    ).toBe(true)
    expect(JSON.stringify(refresh)).toBe(
      JSON.stringify({
        name: 'RefreshError',
        code: KEYWARD_REFRESH_FAILED,
        message: 'refused',
        details: { transient: false, oauthError: 'invalid_grant' },
      }),
    )
  })

  it('isKeywardError checks the code too', () => {
    expect(isKeywardError(refresh, KEYWARD_REFRESH_FAILED)).toBe(true)
    expect(isKeywardError(refresh, KEYWARD_INVALID_ARGUMENT)).toBe(false)
  })
})

describe('RefreshError', () => {
  it('carries transient, oauthError and retryAt, in details too', () => {
    const retryAt = new Date('2030-01-01T00:00:00Z')
    const error = new RefreshError('busy', { transient: true, retryAt, cause: new Error('503') })
    expect(error).toMatchObject({
      code: KEYWARD_REFRESH_FAILED,
      transient: true,
      retryAt,
      name: 'RefreshError',
    })
    expect(error.oauthError).toBeUndefined()
    expect(error.details).toEqual({ transient: true, retryAt: '2030-01-01T00:00:00.000Z' })
  })

  it('refuses a missing transient flag', async () => {
    await expectKeywardError(() => new RefreshError('x', {} as never), KEYWARD_INVALID_ARGUMENT)
  })

  it('keeps the deprecated isRefreshError, which also knows pre-marker copies', () => {
    expect(RefreshError.isRefreshError(new RefreshError('x', { transient: true }))).toBe(true)
    const old = new KeywardError(KEYWARD_REFRESH_FAILED, 'old copy')
    Object.assign(old, { transient: false })
    expect(RefreshError.isRefreshError(old)).toBe(true)
    expect(RefreshError.isRefreshError(new KeywardError(KEYWARD_INVALID_ARGUMENT, 'x'))).toBe(false)
  })
})
