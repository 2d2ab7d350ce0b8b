import { inspect } from 'node:util'
import { KeywardError } from '@keyward/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KEYWARD_AUTH_RECORD_CORRUPT } from './errors.js'
import { decodeRecord, encodeRecord, type TokenRecord } from './record.js'

const CANARY = 'CANARY-9f8e7d6c5b4a'

const valid: TokenRecord = {
  v: 1,
  id: 'id-1',
  service: 'svc',
  account: 'default',
  accessToken: CANARY,
  refreshToken: `${CANARY}-refresh`,
  tokenType: 'Bearer',
  scopes: ['a', 'b'],
  issuedAt: 1,
  expiresAt: 2,
  expiry: 'server',
  generation: 1,
  state: 'valid',
  failures: 0,
  retryAt: null,
  lastError: null,
}

function expectCorrupt(bytes: Uint8Array): void {
  try {
    decodeRecord(bytes, 'authstore/svc/default')
  } catch (error) {
    expect(KeywardError.isInstance(error)).toBe(true)
    expect((error as KeywardError).code).toBe(KEYWARD_AUTH_RECORD_CORRUPT)
    expect((error as KeywardError).cause).toBeUndefined()
    const shown = `${(error as Error).message}${inspect(error)}${JSON.stringify(error)}`
    expect(shown).not.toContain(CANARY)
    return
  }
  throw new Error('expected KEYWARD_AUTH_RECORD_CORRUPT')
}

describe('token records', () => {
  it('round-trips a record', () => {
    expect(decodeRecord(encodeRecord(valid), 'k')).toEqual(valid)
  })

  it('rejects each malformed field with KEYWARD_AUTH_RECORD_CORRUPT naming the field, never the value', () => {
    const mutations: Record<string, unknown>[] = [
      { v: 2 },
      { accessToken: '' },
      { refreshToken: 5 },
      { scopes: [CANARY, 3] },
      { expiry: 'soon' },
      { expiresAt: null },
      { generation: 0 },
      { state: CANARY },
      { failures: -1 },
      { retryAt: 'later' },
      { lastError: 7 },
    ]
    for (const mutation of mutations) {
      expectCorrupt(new TextEncoder().encode(JSON.stringify({ ...valid, ...mutation })))
    }
    expect(() =>
      decodeRecord(new TextEncoder().encode(JSON.stringify({ ...valid, state: 'x' })), 'k'),
    ).toThrow('(field state)')
  })

  it('property: arbitrary bytes either decode to a record or throw KEYWARD_AUTH_RECORD_CORRUPT without quoting them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const withCanary = new Uint8Array([...new TextEncoder().encode(CANARY), ...bytes])
        expectCorrupt(withCanary)
        expectCorrupt(bytes)
      }),
    )
  })

  it('property: arbitrary JSON values and mutated records never throw anything but the stable code', () => {
    const field = fc.constantFrom(...Object.keys(valid))
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.tuple(field, fc.jsonValue())), (input) => {
        const value =
          Array.isArray(input) &&
          input.length === 2 &&
          typeof input[0] === 'string' &&
          input[0] in valid
            ? { ...valid, [input[0]]: input[1] }
            : input
        const bytes = new TextEncoder().encode(JSON.stringify(value) ?? 'null')
        try {
          const record = decodeRecord(bytes, 'k')
          expect(typeof record.accessToken).toBe('string')
          expect(record.generation).toBeGreaterThanOrEqual(1)
        } catch (error) {
          expect((error as KeywardError).code).toBe(KEYWARD_AUTH_RECORD_CORRUPT)
          expect((error as Error).message).not.toContain(CANARY)
        }
      }),
    )
  })
})
