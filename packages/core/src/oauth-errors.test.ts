import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { knownOAuthError } from './oauth-errors.js'

describe('knownOAuthError', () => {
  it('keeps known OAuth error codes and reduces any other text to unrecognized_error', () => {
    expect(knownOAuthError('invalid_grant')).toBe('invalid_grant')
    expect(knownOAuthError('slow_down')).toBe('slow_down')
    expect(knownOAuthError('gho_16C7e42F292c6912E7710c838347Ae178B4a')).toBe('unrecognized_error')
    expect(knownOAuthError('')).toBe('unrecognized_error')
    expect(knownOAuthError(undefined)).toBeUndefined()
    expect(knownOAuthError(42)).toBeUndefined()
  })

  it('never returns text it was given unless it is a known code (property)', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const out = knownOAuthError(value)
        expect(out === 'unrecognized_error' || /^[a-z_]+$/.test(out ?? '')).toBe(true)
        if (out !== 'unrecognized_error') expect(out).toBe(value)
      }),
    )
  })
})
