import { describe, expect, it } from 'vitest'
import type { Driver, KeyWrite, SetOptions } from './contracts.js'
import {
  bytes,
  CANARY_VALUE,
  expectCode,
  testEnvKey,
  testPassphraseKey,
  text,
} from './drivers/_file-kit.js'
import { memoryDriver } from './drivers/memory.js'
import { encryptedDriver } from './encrypted.js'
import { testDriver } from './testing.js'

const sharedKey = testEnvKey()
const innerOf = new WeakMap<Driver, Driver>()
testDriver({
  name: 'encryptedDriver(memoryDriver())',
  create: () => {
    const inner = memoryDriver()
    const driver = encryptedDriver(inner, { key: sharedKey })
    innerOf.set(driver, inner)
    return driver
  },
  reopen: (driver) => encryptedDriver(innerOf.get(driver)!, { key: sharedKey }),
  setMany: true,
})

/** A memory driver that records every byte and key it is handed. */
function recordingInner(): Driver & { received: Uint8Array[] } {
  const inner = memoryDriver()
  const received: Uint8Array[] = []
  return {
    ...inner,
    received,
    set(key: string, value: Uint8Array, options?: SetOptions) {
      received.push(bytes(key), value.slice())
      return inner.set(key, value, options)
    },
    setMany(writes: readonly KeyWrite[]) {
      for (const w of writes) received.push(bytes(w.key), ...(w.value ? [w.value.slice()] : []))
      return inner.setMany!(writes)
    },
  }
}

function containsCanary(chunks: Uint8Array[]): boolean {
  const forms = [
    Buffer.from(CANARY_VALUE),
    Buffer.from(CANARY_VALUE, 'utf16le'),
    Buffer.from(Buffer.from(CANARY_VALUE).toString('base64')),
    Buffer.from(Buffer.from(CANARY_VALUE).toString('hex')),
  ]
  return chunks.some((chunk) => forms.some((form) => Buffer.from(chunk).includes(form)))
}

describe('encryptedDriver', () => {
  it('no byte the inner driver receives contains the canary (set, setMany, rotations)', async () => {
    const inner = recordingInner()
    const driver = encryptedDriver(inner, { key: testEnvKey() })
    await driver.set('token', bytes(CANARY_VALUE))
    await driver.set('token', bytes(`${CANARY_VALUE}-2`), { ifVersion: 1 })
    await driver.setMany([
      { key: 'a', value: bytes(CANARY_VALUE) },
      { key: 'b', value: bytes(CANARY_VALUE.repeat(3)) },
    ])
    await driver.rotateDataKey()
    await driver.reencrypt()
    await driver.rotateKey(testEnvKey())
    expect(inner.received.length).toBeGreaterThan(8)
    expect(containsCanary(inner.received)).toBe(false)
    expect(text((await driver.get('token'))!.value)).toBe(`${CANARY_VALUE}-2`)
    expect(await driver.list()).toEqual(['a', 'b', 'token'])
  })

  it('a record copied to another key, another version or another store fails to decrypt', async () => {
    const key = testEnvKey()
    const inner = memoryDriver()
    const driver = encryptedDriver(inner, { key })
    await driver.set('alice/token', bytes(CANARY_VALUE))
    await driver.set('bob/token', bytes('bob'))
    const alice = (await inner.get('alice/token'))!
    // Another key (row): the ciphertext is bound to its key name.
    await inner.set('bob/token', alice.value)
    const moved = await expectCode(driver.get('bob/token'), 'KEYWARD_STORE_CORRUPT')
    expect(moved.details).toMatchObject({ key: 'bob/token', reason: 'record authentication' })
    // Another version of the same key: bound to its version.
    await inner.set('alice/token', alice.value)
    await expectCode(driver.get('alice/token'), 'KEYWARD_STORE_CORRUPT')
    // Another store under the same key provider: bound to its store id.
    const otherInner = memoryDriver()
    await encryptedDriver(otherInner, { key }).set('alice/token', bytes('other'))
    await inner.delete('alice/token')
    await inner.set('alice/token', (await otherInner.get('alice/token'))!.value)
    await expectCode(driver.get('alice/token'), 'KEYWARD_STORE_CORRUPT')
    // Plaintext put there behind its back.
    await inner.set('plain', bytes('not encrypted'))
    const plain = await expectCode(driver.get('plain'), 'KEYWARD_STORE_CORRUPT')
    expect(plain.details).toMatchObject({ reason: 'not an encrypted record' })
  })

  it('documented limit: after a delete, the old ciphertext of the same key and version is accepted', async () => {
    const inner = memoryDriver()
    const driver = encryptedDriver(inner, { key: testEnvKey() })
    await driver.set('a', bytes('before delete'))
    const old = (await inner.get('a'))!
    await driver.delete('a')
    await driver.set('a', bytes('after delete'))
    await inner.delete('a')
    await inner.set('a', old.value)
    expect(text((await driver.get('a'))!.value)).toBe('before delete')
  })

  it('the wrong key, another provider kind, or a forged header are refused with their codes', async () => {
    const inner = memoryDriver()
    await encryptedDriver(inner, { key: testEnvKey() }).set('a', bytes(CANARY_VALUE))
    await expectCode(encryptedDriver(inner, { key: testEnvKey() }).get('a'), 'KEYWARD_WRONG_KEY')
    await expectCode(
      encryptedDriver(inner, { key: testPassphraseKey() }).get('a'),
      'KEYWARD_KEY_TYPE_MISMATCH',
    )
    const header = JSON.parse(text((await inner.get('.keyward/envelope'))!.value))
    header.deks[0].id = 7
    await inner.set('.keyward/envelope', bytes(JSON.stringify(header)))
    await expectCode(
      encryptedDriver(inner, { key: testEnvKey() }).get('a'),
      'KEYWARD_STORE_CORRUPT',
    )
    await inner.set('.keyward/envelope', bytes('{"v":1'))
    await expectCode(
      encryptedDriver(inner, { key: testEnvKey() }).get('a'),
      'KEYWARD_STORE_CORRUPT',
    )
  })

  it('hides and reserves its header key', async () => {
    const inner = memoryDriver()
    const driver = encryptedDriver(inner, { key: testEnvKey() })
    await driver.set('x', bytes('1'))
    expect(await inner.list()).toEqual(['.keyward/envelope', 'x'])
    expect(await driver.list()).toEqual(['x'])
    await expectCode(driver.set('.keyward/envelope', bytes('x')), 'KEYWARD_INVALID_KEY')
    await expectCode(driver.get('.keyward/envelope'), 'KEYWARD_INVALID_KEY')
    await expectCode(driver.delete('.keyward/envelope'), 'KEYWARD_INVALID_KEY')
  })

  it('rotateKey re-wraps the data key under a new provider without re-encrypting records', async () => {
    const inner = memoryDriver()
    const oldKey = testEnvKey()
    const newKey = testEnvKey()
    const driver = encryptedDriver(inner, { key: oldKey })
    await driver.set('a', bytes('first'))
    await driver.set('b', bytes('second'))
    const before = await Promise.all(['a', 'b'].map((k) => inner.get(k)))
    await driver.rotateKey(newKey)
    const after = await Promise.all(['a', 'b'].map((k) => inner.get(k)))
    for (const [i, record] of after.entries()) {
      expect(record!.version).toBe(before[i]!.version)
      expect(Buffer.from(record!.value).equals(Buffer.from(before[i]!.value))).toBe(true)
    }
    expect(text((await driver.get('a'))!.value)).toBe('first')
    await driver.set('c', bytes('third'))
    const reopened = encryptedDriver(inner, { key: newKey })
    expect(text((await reopened.get('b'))!.value)).toBe('second')
    expect(text((await reopened.get('c'))!.value)).toBe('third')
    await expectCode(encryptedDriver(inner, { key: oldKey }).get('a'), 'KEYWARD_WRONG_KEY')
  })

  it('rotateDataKey: new writes use the new data key, old records stay readable, reencrypt moves them', async () => {
    const inner = memoryDriver()
    const key = testEnvKey()
    const driver = encryptedDriver(inner, { key })
    for (const k of ['a', 'b', 'c']) await driver.set(k, bytes(`value ${k}`))
    const dekOf = async (k: string) => Buffer.from((await inner.get(k))!.value).readUInt32BE(4)
    expect(await dekOf('a')).toBe(1)
    await driver.rotateDataKey()
    await driver.set('c', bytes('value c2'))
    expect(await dekOf('c')).toBe(2)
    // Another instance that read the header before the rotation still reads everything.
    const other = encryptedDriver(inner, { key })
    expect(text((await other.get('a'))!.value)).toBe('value a')
    expect(text((await other.get('c'))!.value)).toBe('value c2')
    expect(await driver.reencrypt()).toEqual({ rewritten: 2 })
    expect([await dekOf('a'), await dekOf('b'), await dekOf('c')]).toEqual([2, 2, 2])
    expect(text((await other.get('a'))!.value)).toBe('value a')
    expect(await driver.reencrypt()).toEqual({ rewritten: 0 })
  })

  it('setMany over a driver without it is KEYWARD_ATOMIC_WRITE_UNSUPPORTED, nothing written', async () => {
    const inner = memoryDriver()
    const { setMany: _dropped, ...withoutSetMany } = inner
    const driver = encryptedDriver(withoutSetMany, { key: testEnvKey() })
    await expectCode(
      driver.setMany([{ key: 'a', value: bytes(CANARY_VALUE) }]),
      'KEYWARD_ATOMIC_WRITE_UNSUPPORTED',
    )
    expect(await driver.list()).toEqual([])
  })

  it('refuses a missing inner driver or key provider at construction, naming the field', () => {
    for (const [inner, options, field] of [
      [undefined, { key: testEnvKey() }, 'inner'],
      [memoryDriver(), {}, 'key'],
    ] as const) {
      let error: unknown
      try {
        encryptedDriver(inner as never, options as never)
      } catch (e) {
        error = e
      }
      expect(error).toMatchObject({ code: 'KEYWARD_INVALID_ARGUMENT', details: { field } })
    }
    let error: unknown
    try {
      encryptedDriver(memoryDriver(), undefined as never)
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({
      code: 'KEYWARD_INVALID_ARGUMENT',
      details: { caller: 'encryptedDriver' },
    })
  })
})
