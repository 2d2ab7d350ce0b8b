import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeEntry,
  decodeVersionRecord,
  ENTRY_HEADER_MAX_BYTES,
  encodeEntry,
  encodeValue,
  encodeVersionRecord,
  entryDigest,
  resolveEntry,
  textToEntry,
} from './keyring-entry.js'
import { WINDOWS_BLOB_LIMIT } from './native-keyring.js'
import { parseBusAddress } from './session-bus.js'

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

describe('plain keyring entries and their version records', () => {
  const platforms = fc.constantFrom<NodeJS.Platform>('linux', 'darwin', 'win32')
  const state = fc.record({
    version,
    format: fc.constantFrom<'t' | 'b' | 'l' | 'e'>('t', 'b', 'l', 'e'),
    digest: fc.stringMatching(/^[A-Za-z0-9_-]{22}$/),
  })

  it('round-trips every byte string through the entry and its record, on every platform', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), version, platforms, (value, v, platform) => {
        const { entry, text, format } = encodeValue(value, platform)
        expect(Array.from(textToEntry(text, platform))).toEqual(Array.from(entry))
        const record = decodeVersionRecord(
          encodeVersionRecord({ current: { version: v, format, digest: entryDigest(entry) } }),
        )
        const resolved = resolveEntry(entry, record, platform)
        expect(resolved.kind).toBe('value')
        if (resolved.kind !== 'value') return
        expect(resolved.stored.version).toBe(v)
        expect(Array.from(resolved.stored.value)).toEqual(Array.from(value))
      }),
    )
  })

  it('stores UTF-8 text as it is and other bytes as base64 text', () => {
    expect(encodeValue(new TextEncoder().encode('tok ✓'), 'linux')).toMatchObject({
      text: 'tok ✓',
      format: 't',
    })
    expect(encodeValue(Uint8Array.from([0xff, 0]), 'linux')).toMatchObject({
      text: '/wA=',
      format: 'b',
    })
    // A leading BOM is part of the value.
    expect(encodeValue(Uint8Array.from([0xef, 0xbb, 0xbf, 0x41]), 'linux').text).toBe('\uFEFFA')
  })

  it('reads the previous state when a crash left the record one write ahead of the value', () => {
    const old = encodeValue(new TextEncoder().encode('old'), 'linux')
    const next = encodeValue(Uint8Array.from([0xff]), 'linux')
    const record = {
      current: { version: 5, format: next.format, digest: entryDigest(next.entry) },
      previous: { version: 4, format: old.format, digest: entryDigest(old.entry) },
    }
    const resolved = resolveEntry(old.entry, record, 'linux')
    expect(resolved).toMatchObject({ kind: 'value', stored: { version: 4 } })
    expect(resolveEntry(next.entry, record, 'linux')).toMatchObject({ stored: { version: 5 } })
    // Another program's text over the entry: that text, at the next version.
    const edited = new TextEncoder().encode('edited')
    const foreign = resolveEntry(edited, record, 'linux')
    expect(foreign).toMatchObject({ kind: 'value', stored: { version: 6 } })
    // No record: a kw1 entry is legacy, anything else foreign.
    expect(resolveEntry(encodeEntry(3, edited), null, 'linux')).toMatchObject({
      kind: 'value',
      format: 'l',
      stored: { version: 3 },
    })
    expect(resolveEntry(edited, null, 'linux')).toEqual({ kind: 'foreign' })
  })

  it('decodes only canonical version records and never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(state, fc.option(state, { nil: undefined }), (current, previous) => {
        const record = { current, previous }
        const decoded = decodeVersionRecord(encodeVersionRecord(record))
        if (current.format === 'l') expect(decoded).toBeNull()
        else expect(decoded).toEqual(previous ? record : { current })
      }),
    )
    const prefixed = fc
      .tuple(fc.constantFrom('', 'kwv2;', 'kwv2;1 t ', 'kwv2;0 t x'), fc.uint8Array())
      .map(([head, tail]) => Uint8Array.from([...new TextEncoder().encode(head), ...tail]))
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), prefixed), (bytes) => {
        const decoded = decodeVersionRecord(bytes)
        if (decoded !== null)
          expect(Array.from(encodeVersionRecord(decoded))).toEqual(Array.from(bytes))
      }),
    )
  })

  it('resolveEntry never throws, whatever the entry and record hold', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.option(fc.record({ current: state, previous: fc.option(state, { nil: undefined }) }), {
          nil: null,
        }),
        platforms,
        (entry, record, platform) => {
          const resolved = resolveEntry(entry, record, platform)
          expect(['value', 'foreign', 'corrupt']).toContain(resolved.kind)
        },
      ),
    )
  })
})

describe('session bus addresses', () => {
  it('reads the first unix address (path or abstract, percent-escaped) and nothing else', () => {
    expect(parseBusAddress('unix:path=/run/user/0/bus')).toEqual({ path: '/run/user/0/bus' })
    expect(parseBusAddress('unix:abstract=/tmp/dbus-x,guid=12')).toEqual({ path: '\0/tmp/dbus-x' })
    expect(parseBusAddress('tcp:host=x,port=1;unix:path=/a%20b')).toEqual({ path: '/a b' })
    for (const other of [undefined, '', 'tcp:host=x,port=1', 'unix:path=%zz', 'launchd:env=X'])
      expect(parseBusAddress(other), String(other)).toBeUndefined()
  })

  it('never throws and stays linear on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (address) => {
        const parsed = parseBusAddress(address)
        if (parsed !== undefined) expect(parsed.path.length).toBeGreaterThan(0)
      }),
    )
    expect(parseBusAddress(`unix:${'a=b,'.repeat(2000)}`)).toBeUndefined()
  })
})
