import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeEntry, ENTRY_HEADER_MAX_BYTES, encodeEntry } from './keyring-entry.js'
import { WINDOWS_BLOB_LIMIT } from './native-keyring.js'

const version = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })

describe('keyring entry format (kw1:<version>:<bytes>)', () => {
  it('round-trips every version and every byte string', () => {
    fc.assert(
      fc.property(version, fc.uint8Array({ maxLength: 512 }), (v, value) => {
        const decoded = decodeEntry(encodeEntry(v, value))
        expect(decoded?.version).toBe(v)
        expect(Array.from(decoded!.value)).toEqual(Array.from(value))
      }),
    )
  })

  it('never throws on arbitrary entries, and accepts only canonical ones', () => {
    const prefixed = fc
      .tuple(fc.constantFrom('', 'kw1:', 'kw1:0', 'kw1:1', 'kw1:12:', 'kw2:1:'), fc.uint8Array())
      .map(([head, tail]) => Uint8Array.from([...new TextEncoder().encode(head), ...tail]))
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array(), prefixed), (entry) => {
        const decoded = decodeEntry(entry)
        if (decoded !== null) {
          expect(Number.isSafeInteger(decoded.version) && decoded.version >= 1).toBe(true)
          expect(Array.from(encodeEntry(decoded.version, decoded.value))).toEqual(Array.from(entry))
        }
      }),
    )
  })

  it('rejects malformed headers', () => {
    const enc = (text: string) => new TextEncoder().encode(text)
    for (const bad of [
      '',
      'kw1:',
      'kw1::x',
      'kw1:0:x',
      'kw1:01:x',
      'kw1:1',
      'kw1:-1:x',
      'kw1:1a:x',
      `kw1:${'9'.repeat(17)}:x`,
      'KW1:1:x',
    ])
      expect(decodeEntry(enc(bad)), bad).toBeNull()
    expect(decodeEntry(enc('kw1:7:'))).toMatchObject({ version: 7 })
  })

  it('fits the largest Windows value with the largest header in the 2560-byte blob', () => {
    const max = WINDOWS_BLOB_LIMIT - ENTRY_HEADER_MAX_BYTES
    expect(
      encodeEntry(Number.MAX_SAFE_INTEGER, new Uint8Array(max)).byteLength,
    ).toBeLessThanOrEqual(WINDOWS_BLOB_LIMIT)
  })
})
