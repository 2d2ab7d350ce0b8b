import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { expectKeywardError } from '../test-kit.js'
import { envKey } from './env.js'

describe('envKey', () => {
  const raw = randomBytes(32)

  it('accepts standard and URL-safe base64 of 32 bytes, padded or not, with surrounding whitespace', async () => {
    for (const spelling of [
      raw.toString('base64'),
      raw.toString('base64url'),
      raw.toString('base64').replace(/=+$/, ''),
      `  ${raw.toString('base64')}\n`,
    ]) {
      const key = await envKey('K', { env: { K: spelling } }).deriveKey({}, 'open')
      expect(Buffer.from(key).equals(raw)).toBe(true)
    }
  })

  it('reads the variable when the key is needed, not at construction', async () => {
    const env: Record<string, string | undefined> = {}
    const provider = envKey('LATE_KEY', { env })
    env.LATE_KEY = raw.toString('base64')
    expect(Buffer.from(await provider.deriveKey({}, 'create')).equals(raw)).toBe(true)
  })

  it('defaults to KEYWARD_KEY from process.env', async () => {
    const before = process.env.KEYWARD_KEY
    process.env.KEYWARD_KEY = raw.toString('base64')
    try {
      expect(Buffer.from(await envKey().deriveKey({}, 'open')).equals(raw)).toBe(true)
    } finally {
      if (before === undefined) delete process.env.KEYWARD_KEY
      else process.env.KEYWARD_KEY = before
    }
  })

  it('unset or empty → KEYWARD_KEY_MISSING naming the variable and the fix', async () => {
    for (const env of [{}, { MY_KEY: '' }, { MY_KEY: '  ' }]) {
      const error = await expectKeywardError(
        envKey('MY_KEY', { env }).deriveKey({}, 'open'),
        'KEYWARD_KEY_MISSING',
      )
      expect(error.code).toBe('KEYWARD_KEY_MISSING')
      expect(error.message).toContain('MY_KEY')
      expect(error.message).toContain('openssl rand -base64 32')
      expect(error.details).toEqual({ variable: 'MY_KEY' })
    }
  })

  it('malformed → KEYWARD_KEY_INVALID, never echoing the value', async () => {
    const values = [
      'canary-not-base64-!!!-5d1e',
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      randomBytes(64).toString('hex'),
      `${raw.toString('base64').slice(0, -2)}Z=`, // non-canonical trailing bits
      `${raw.toString('base64')}===`,
    ]
    for (const value of values) {
      const error = await expectKeywardError(
        envKey('MY_KEY', { env: { MY_KEY: value } }).deriveKey({}, 'open'),
        'KEYWARD_KEY_INVALID',
      )
      expect(error.code).toBe('KEYWARD_KEY_INVALID')
      for (const output of [error.message, JSON.stringify(error), inspect(error)])
        expect(output).not.toContain(value)
    }
  })

  it('rejects a bad variable name or options at construction', () => {
    for (const name of ['', '1ABC', 'A B', 'A=B'])
      expect(() => envKey(name)).toThrow(
        expect.objectContaining({ code: 'KEYWARD_INVALID_ARGUMENT' }),
      )
    expect(() => envKey('K', { env: 'x' as never })).toThrow(/`env`/)
  })

  it('shows no key through inspect or JSON', () => {
    const text = raw.toString('base64')
    const provider = envKey('K', { env: { K: text } })
    expect(JSON.stringify(provider)).not.toContain(text)
    expect(inspect(provider, { showHidden: true, depth: 5 })).not.toContain(text)
    expect(provider.kind).toBe('env')
    expect(provider.createParams()).toEqual({})
  })
})
