import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { driverWrittenStore } from '../drivers/_file-kit.js'
import { KeywardError } from '../errors.js'
import { envKey } from '../keys/env.js'
import { hmacSha256, RECORD_ID_BYTES } from './envelope.js'
import {
  decodeStore,
  encodeHeader,
  encodeRecord,
  encodeStore,
  MAGIC,
  PREAMBLE_BYTES,
} from './file-format.js'

const KEY_TEXT = Buffer.alloc(32, 7).toString('base64')
const key = envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: KEY_TEXT } })
const bytes = (text: string) => new TextEncoder().encode(text)
const CANARY = 'canary-format-3e1f-never-print'

/** A valid store with three records, built through the same functions the driver uses. */
const { file: VALID, store: STORE } = await driverWrittenStore(key, [
  ['alpha', bytes(CANARY)],
  ['beta', bytes('two')],
  ['beta', bytes('two, again')],
  ['gamma', new Uint8Array([0, 1, 2])],
])

async function outcome(input: Uint8Array): Promise<'ok' | KeywardError> {
  try {
    await decodeStore(input, key, 'test')
    return 'ok'
  } catch (error) {
    if (!KeywardError.isInstance(error)) throw error
    expect(error.message).not.toContain(CANARY)
    expect(JSON.stringify(error)).not.toContain(CANARY)
    return error
  }
}

/** Re-frames a store from its records with a correct header and file MAC. */
function reframe(records: Buffer[]): Buffer {
  return encodeStore(STORE.headerBytes, records, STORE.subkeys.fileMac)
}

describe('decodeStore on hostile input', () => {
  it('never throws anything but a KeywardError on arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (input) => {
        expect(await outcome(input)).not.toBe('ok')
      }),
      { numRuns: 400 },
    )
  })

  it('never throws anything but a KeywardError on arbitrary bytes after the magic', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (tail) => {
        expect(await outcome(Buffer.concat([MAGIC, tail]))).not.toBe('ok')
      }),
      { numRuns: 400 },
    )
  })

  it('rejects every mutation of a valid file (flips, cuts, splices) with a KeywardError', async () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.nat(VALID.length - 1),
        mask: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(VALID.length - 1) }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(VALID.length),
        data: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      }),
      fc.record({
        kind: fc.constant('overwrite' as const),
        at: fc.nat(VALID.length - 1),
        data: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      }),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        let file = Buffer.from(VALID)
        for (const m of mutations) {
          if (m.kind === 'flip') file[m.at % file.length] = file[m.at % file.length]! ^ m.mask
          else if (m.kind === 'cut') file = file.subarray(0, m.at % file.length)
          else if (m.kind === 'insert')
            file = Buffer.concat([file.subarray(0, m.at), m.data, file.subarray(m.at)])
          else Buffer.from(m.data).copy(file, m.at % Math.max(1, file.length))
        }
        fc.pre(!file.equals(VALID))
        expect(await outcome(file)).not.toBe('ok')
      }),
      { numRuns: 500 },
    )
  })

  it('decodes the valid file', async () => {
    expect(await outcome(VALID)).toBe('ok')
    expect([...STORE.records.keys()]).toEqual(['alpha', 'beta', 'gamma'])
    expect(STORE.records.get('beta')?.version).toBe(2)
  })
})

describe('records are bound to their slot', () => {
  const records = () => [...STORE.records.values()].map((r) => Buffer.from(r.encoded))
  const SEALED_AT = RECORD_ID_BYTES + 8 // record id ‖ version ‖ nonce ‖ length ‖ sealed

  it('a re-framed copy with intact records still decodes (the test harness is sound)', async () => {
    expect(await outcome(reframe(records()))).toBe('ok')
  })

  it('ciphertexts swapped between two records are rejected even with a valid file MAC', async () => {
    const [a, b, c] = records()
    // Give record `a` the nonce ‖ sealed bytes of record `c` and vice versa (ids stay put).
    const swappedA = Buffer.concat([a!.subarray(0, SEALED_AT), c!.subarray(SEALED_AT)])
    const swappedC = Buffer.concat([c!.subarray(0, SEALED_AT), a!.subarray(SEALED_AT)])
    const error = await outcome(reframe([swappedA, b!, swappedC]))
    expect(error).toBeInstanceOf(KeywardError)
    expect((error as KeywardError).code).toBe('KEYWARD_STORE_CORRUPT')
    expect((error as KeywardError).details).toMatchObject({ reason: 'record authentication' })
  })

  it('a record moved under another key name is rejected (record id check)', async () => {
    // A forged record: valid encryption under the right keys, but for the id of another name.
    const forged = encodeRecord(STORE.storeId, STORE.subkeys, 'alpha', bytes('x'), 1)
    const otherId = hmacSha256(STORE.subkeys.recordId, bytes('beta'))
    otherId.copy(forged, 0)
    const error = await outcome(reframe([forged]))
    expect((error as KeywardError).code).toBe('KEYWARD_STORE_CORRUPT')
  })

  it('an edited version number is rejected', async () => {
    const [a, b, c] = records()
    const edited = Buffer.from(b!)
    edited.writeBigUInt64BE(1n, RECORD_ID_BYTES)
    const error = await outcome(reframe([a!, edited, c!]))
    expect((error as KeywardError).details).toMatchObject({ reason: 'record authentication' })
  })

  it('a removed, duplicated or rolled-back record without the file MAC key is rejected', async () => {
    const [a, , c] = records()
    // Splice the body as an attacker would (no file-MAC key): the trailer no longer matches.
    const withoutB = reframe([a!, c!])
    const tampered = Buffer.concat([
      withoutB.subarray(0, withoutB.length - 32),
      VALID.subarray(VALID.length - 32),
    ])
    expect(((await outcome(tampered)) as KeywardError).details).toMatchObject({
      reason: 'file MAC',
    })
    const duplicated = await outcome(reframe([a!, a!, c!]))
    expect((duplicated as KeywardError).details).toMatchObject({ reason: 'duplicate record' })
  })

  it('a header from another store (other id) does not open these records', async () => {
    const header = JSON.parse(STORE.headerBytes.toString())
    header.store = Buffer.alloc(16, 1).toString('base64url')
    const file = encodeStore(encodeHeader(header), records(), STORE.subkeys.fileMac)
    expect(((await outcome(file)) as KeywardError).code).toBe('KEYWARD_WRONG_KEY')
  })

  it('keeps the preamble 32 bytes long (the frozen layout)', () => {
    expect(PREAMBLE_BYTES).toBe(32)
    expect(VALID.subarray(0, 8).equals(Buffer.from(MAGIC))).toBe(true)
  })
})
