import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import type { KeyParams } from '../contracts.js'
import { expectKeywardError } from '../test-kit.js'
import { DEFAULT_SCRYPT_COST, MAX_SCRYPT_COST, passphraseKey } from './passphrase.js'

const PASSPHRASE = 'canary-passphrase-91ac-never-print'
const fast = { insecureLowCostForTests: true } as const

describe('passphraseKey', () => {
  it('defaults to scrypt N=2^17, r=8, p=1 with a random salt', () => {
    expect(DEFAULT_SCRYPT_COST).toEqual({ N: 2 ** 17, r: 8, p: 1 })
    const provider = passphraseKey(PASSPHRASE)
    const a = provider.createParams()
    const b = provider.createParams()
    expect(a).toMatchObject({ kdf: 'scrypt', N: 2 ** 17, r: 8, p: 1 })
    expect(a.salt).not.toBe(b.salt)
    expect(Buffer.from(String(a.salt), 'base64url').length).toBe(16)
  })

  it('derives the same 32-byte key for the same passphrase and salt, another for another', async () => {
    const provider = passphraseKey(PASSPHRASE, fast)
    const params = provider.createParams()
    const one = await provider.deriveKey(params, 'create')
    expect(one.byteLength).toBe(32)
    expect(Buffer.from(await provider.deriveKey(params, 'open')).equals(Buffer.from(one))).toBe(
      true,
    )
    const other = await passphraseKey(`${PASSPHRASE}!`, fast).deriveKey(params, 'open')
    expect(Buffer.from(other).equals(Buffer.from(one))).toBe(false)
    const otherSalt = await provider.deriveKey(provider.createParams(), 'open')
    expect(Buffer.from(otherSalt).equals(Buffer.from(one))).toBe(false)
  })

  it('normalises the passphrase to NFC (é typed two ways opens the same store)', async () => {
    const provider = passphraseKey('caf\u00e9-pass', fast)
    const params = provider.createParams()
    const decomposed = passphraseKey('cafe\u0301-pass', fast)
    expect(Buffer.from(await decomposed.deriveKey(params, 'open'))).toEqual(
      Buffer.from(await provider.deriveKey(params, 'open')),
    )
  })

  it('asks for the stored cost, not its own: a test-cost provider opens a strong store', async () => {
    const params: KeyParams = { ...passphraseKey(PASSPHRASE, fast).createParams(), N: 2 ** 11 }
    const key = await passphraseKey(PASSPHRASE, fast).deriveKey(params, 'open')
    expect(key.byteLength).toBe(32)
  })

  it('wants an upgrade only when the stored parameters are weaker', () => {
    const strong = passphraseKey(PASSPHRASE)
    const weak = passphraseKey(PASSPHRASE, fast)
    const weakParams = weak.createParams()
    const strongParams = strong.createParams()
    expect(strong.shouldUpgrade?.(weakParams)).toBe(true)
    expect(strong.shouldUpgrade?.(strongParams)).toBe(false)
    expect(weak.shouldUpgrade?.(strongParams)).toBe(false) // never downgrades
    expect(strong.shouldUpgrade?.({ ...strongParams, r: 4 })).toBe(true)
    expect(passphraseKey(PASSPHRASE, { cost: { N: 2 ** 18 } }).shouldUpgrade?.(strongParams)).toBe(
      true,
    )
  })

  it('refuses hostile parameters from a header with KEYWARD_STORE_CORRUPT, before any work', async () => {
    const provider = passphraseKey(PASSPHRASE, fast)
    const good = provider.createParams()
    for (const bad of [
      { ...good, N: 2 ** 30 },
      { ...good, N: 1000 },
      { ...good, r: 0 },
      { ...good, p: 1e9 },
      { ...good, salt: 'short' },
      { ...good, kdf: 'argon2' },
      {},
    ]) {
      expect(
        (await expectKeywardError(provider.deriveKey(bad, 'open'), 'KEYWARD_STORE_CORRUPT')).code,
      ).toBe('KEYWARD_STORE_CORRUPT')
    }
  })

  it('refuses a header asking for more scrypt memory or work than keyward writes, before asking for the passphrase (regression: a forged header could ask for 16 GiB)', async () => {
    let asked = 0
    const provider = passphraseKey(() => {
      asked++
      // Unreachable with the bound in place; without it, stop here instead of running scrypt.
      throw new Error('the passphrase was asked for')
    })
    const good = passphraseKey(PASSPHRASE).createParams()
    for (const hostile of [
      { ...good, N: 2 ** 22, r: 32 }, // 16 GiB: what the old bounds allowed
      { ...good, N: 2 ** 21 }, // beyond N ≤ 2^20
      { ...good, r: 64 },
      { ...good, p: 16 },
      { ...good, N: 2 ** 20, r: 16, p: 1 }, // 2 GiB: each bound met, memory not
      { ...good, N: 2 ** 4 }, // below anything keyward writes
    ]) {
      const error = await expectKeywardError(
        provider.deriveKey(hostile, 'open'),
        'KEYWARD_STORE_CORRUPT',
      )
      expect(error.details).toEqual({ reason: 'kdf params' })
    }
    expect(asked).toBe(0)
    // The strongest cost keyward writes is accepted and reaches the passphrase.
    const strongest = { ...good, N: MAX_SCRYPT_COST.N, r: 8, p: MAX_SCRYPT_COST.p }
    await expect(provider.deriveKey(strongest, 'open')).rejects.toThrow(
      'the passphrase was asked for',
    )
    expect(asked).toBe(1)
  })

  it('accepts for new stores only costs it would also open', () => {
    expect(() => passphraseKey(PASSPHRASE, { cost: { N: 2 ** 20, r: 8, p: 4 } })).not.toThrow()
    expect(() => passphraseKey(PASSPHRASE, { cost: { N: 2 ** 20, r: 16 } })).toThrow(/1 GiB/)
    expect(() => passphraseKey(PASSPHRASE, { cost: { N: 2 ** 22 } })).toThrow(/`cost.N`/)
    expect(() => passphraseKey(PASSPHRASE, { cost: { r: 32 } })).toThrow(/`cost.r`/)
    expect(() => passphraseKey(PASSPHRASE, { cost: { p: 16 } })).toThrow(/`cost.p`/)
  })

  it('throws argument errors at construction, naming what is wrong', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => passphraseKey(''), /passphrase/],
      [() => passphraseKey(42 as never), /passphrase/],
      [() => passphraseKey(PASSPHRASE, { cost: { N: 2 ** 16 } }), /`cost.N`/],
      [() => passphraseKey(PASSPHRASE, { cost: { N: 3000 } }), /`cost.N`/],
      [() => passphraseKey(PASSPHRASE, { cost: { r: 4 } }), /`cost.r`/],
      [() => passphraseKey(PASSPHRASE, { cost: { p: 0 } }), /`cost.p`/],
      [() => passphraseKey(PASSPHRASE, { insecureLowCostForTests: 'yes' as never }), /insecure/],
      [() => passphraseKey(PASSPHRASE, { ...fast, cost: { N: 2 ** 17 } }), /cannot be combined/],
    ]
    for (const [make, message] of bad) {
      expect(make).toThrow(message)
      expect(make).toThrow(expect.objectContaining({ code: 'KEYWARD_INVALID_ARGUMENT' }))
    }
  })

  it('calls a passphrase function each time the key is derived, and refuses an empty answer', async () => {
    let calls = 0
    const provider = passphraseKey(() => {
      calls++
      return calls === 1 ? PASSPHRASE : ''
    }, fast)
    expect(calls).toBe(0)
    const params = provider.createParams()
    await provider.deriveKey(params, 'create')
    expect(calls).toBe(1)
    const error = await expectKeywardError(
      provider.deriveKey(params, 'open'),
      'KEYWARD_INVALID_ARGUMENT',
    )
    expect(error.code).toBe('KEYWARD_INVALID_ARGUMENT')
  })

  it('never shows the passphrase through inspect, JSON or String', () => {
    const provider = passphraseKey(PASSPHRASE)
    for (const output of [
      JSON.stringify(provider),
      inspect(provider, { showHidden: true, depth: 10 }),
      String(provider),
    ])
      expect(output).not.toContain(PASSPHRASE)
  })
})
