// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} references are the subject of these tests

import { expectKeywardError } from '@keyward/core/testing'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { _assertNoLeak, type _TempVault, _tempVault } from './_helpers.js'
import { decodeBase32, encodeBase32, generateTotp, parseTotp, type TotpAlgorithm } from './index.js'

const ascii = (text: string) => new TextEncoder().encode(text)
const SEEDS: Record<TotpAlgorithm, Uint8Array> = {
  SHA1: ascii('12345678901234567890'),
  SHA256: ascii('12345678901234567890123456789012'),
  SHA512: ascii('1234567890123456789012345678901234567890123456789012345678901234'),
}
// RFC 6238, Appendix B.
const VECTORS: [number, Record<TotpAlgorithm, string>][] = [
  [59, { SHA1: '94287082', SHA256: '46119246', SHA512: '90693936' }],
  [1111111109, { SHA1: '07081804', SHA256: '68084774', SHA512: '25091201' }],
  [1111111111, { SHA1: '14050471', SHA256: '67062674', SHA512: '99943326' }],
  [1234567890, { SHA1: '89005924', SHA256: '91819424', SHA512: '93441116' }],
  [2000000000, { SHA1: '69279037', SHA256: '90698825', SHA512: '38618901' }],
  [20000000000, { SHA1: '65353130', SHA256: '77737706', SHA512: '47863826' }],
]

describe('TOTP', () => {
  it('passes the RFC 6238 test vectors (8 digits, SHA1/SHA256/SHA512, 20/32/64-byte seeds)', () => {
    for (const [seconds, codes] of VECTORS)
      for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const)
        expect(
          generateTotp(
            { seed: SEEDS[algorithm], algorithm, digits: 8, period: 30 },
            { at: new Date(seconds * 1000) },
          ),
          `${algorithm} at ${seconds}`,
        ).toBe(codes[algorithm])
  })

  it('parses the same vectors from otpauth URIs', () => {
    for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const) {
      const uri = `otpauth://totp/ACME%20Co:alice%40example.com?secret=${encodeBase32(SEEDS[algorithm])}&issuer=ACME%20Co&algorithm=${algorithm.toLowerCase()}&digits=8&period=30`
      const params = parseTotp(uri)
      expect(params).toMatchObject({
        algorithm,
        digits: 8,
        period: 30,
        issuer: 'ACME Co',
        account: 'alice@example.com',
      })
      expect(generateTotp(params, { at: new Date(59_000) })).toBe(VECTORS[0]![1][algorithm])
    }
  })

  it('accepts seeds of any length from 1 byte, with any period and 6–8 digits', () => {
    const params = parseTotp('otpauth://totp/x?secret=ME&period=1&digits=7') // 1 byte: 'a'
    expect(params.seed).toEqual(ascii('a'))
    expect(generateTotp(params, { at: new Date(5000) })).toMatch(/^\d{7}$/)
    expect(parseTotp('jbsw y3dp ehpk 3pxp')).toMatchObject({
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
    })
  })

  it('rejects malformed URIs naming the parameter, never quoting the seed', () => {
    const seed = 'JBSWY3DPEHPK3PXPJBSWY3DP'
    const bad: [string, string][] = [
      [`otpauth://hotp/x?secret=${seed}`, 'type'],
      ['otpauth://totp/x?issuer=a', 'secret'],
      [`otpauth://totp/x?secret=${seed}1`, 'secret'],
      [`otpauth://totp/x?secret=${seed}&digits=9`, 'digits'],
      [`otpauth://totp/x?secret=${seed}&digits=5`, 'digits'],
      [`otpauth://totp/x?secret=${seed}&period=0`, 'period'],
      [`otpauth://totp/x?secret=${seed}&algorithm=MD5`, 'algorithm'],
      [`otpauth://totp/x?secret=${seed}&secret=${seed}`, 'secret'],
      [`${seed}!`, 'secret'],
    ]
    for (const [uri, parameter] of bad) {
      let error: unknown
      try {
        parseTotp(uri)
      } catch (e) {
        error = e
      }
      expect((error as { code?: string })?.code, uri).toBe('KEYWARD_VAULT_TOTP')
      expect((error as { details: { parameter: string } }).details.parameter).toBe(parameter)
      _assertNoLeak([error], seed)
    }
  })

  it('base32: encode/decode round-trips any bytes; padding must be exact when present (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), (bytes) => {
        const text = encodeBase32(bytes)
        expect(decodeBase32(text)).toEqual(bytes)
        expect(decodeBase32(text.toLowerCase())).toEqual(bytes)
        const padded = text + '='.repeat((8 - (text.length % 8)) % 8)
        expect(decodeBase32(padded)).toEqual(bytes)
        if (padded.length % 8 === 0 && padded !== text)
          expect(decodeBase32(`${padded}========`)).toBeNull()
      }),
    )
  })

  it('base32 and otpauth parsers never throw anything but a KeywardError on any input (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: fc.constantFrom(...'ABCZ27=a ') }),
          fc.webUrl().map((u) => u.replace(/^https?/, 'otpauth')),
        ),
        (text) => {
          const decoded = decodeBase32(text)
          if (decoded !== null) expect(decoded.byteLength).toBeGreaterThan(0)
          try {
            const params = parseTotp(text)
            expect(params.seed.byteLength).toBeGreaterThan(0)
            expect(generateTotp(params, { at: new Date(0) })).toMatch(/^\d{6,8}$/)
          } catch (error) {
            expect((error as { code?: string }).code).toBe('KEYWARD_VAULT_TOTP')
          }
        },
      ),
      { numRuns: 500 },
    )
  })

  it('otpauth URIs built from any valid parameters parse back to them (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.constantFrom('SHA1', 'SHA256', 'SHA512'),
        fc.integer({ min: 6, max: 8 }),
        fc.integer({ min: 1, max: 86_400 }),
        fc
          .string({ minLength: 1, maxLength: 20 })
          .filter((s) => s.trim() === s && !s.includes(':')),
        (seed, algorithm, digits, period, account) => {
          const uri = `otpauth://totp/Issuer:${encodeURIComponent(account)}?secret=${encodeBase32(seed)}&algorithm=${algorithm}&digits=${digits}&period=${period}`
          expect(parseTotp(uri)).toEqual({
            seed,
            algorithm,
            digits,
            period,
            issuer: 'Issuer',
            account,
          })
        },
      ),
    )
  })
})

describe('vault.totp', () => {
  let t: _TempVault
  beforeEach(async () => {
    t = await _tempVault()
  })
  afterEach(async () => {
    await t.cleanup()
  })

  it('stores an otpauth URI or a bare seed and returns the code at a time', async () => {
    const { vault } = t
    await vault.collections.create({ slug: 'accounts' })
    const uri = `otpauth://totp/GitHub:alice?secret=${encodeBase32(SEEDS.SHA256)}&algorithm=SHA256&digits=8`
    const { id, fieldNames } = await vault.secrets.create({
      collection: 'accounts',
      name: 'GITHUB_2FA',
      type: 'totp',
      value: uri,
    })
    expect(fieldNames).toEqual(['seed', 'algorithm', 'digits', 'period', 'issuer', 'account'])
    expect(await vault.totp(id, { at: new Date(1111111109_000) })).toBe('68084774')
    const bare = await vault.secrets.create({
      collection: 'accounts',
      name: 'BARE',
      type: 'totp',
      value: encodeBase32(SEEDS.SHA1),
    })
    expect(await vault.totp(bare.id, { at: new Date(59_000) })).toBe('287082')
    const plain = await vault.secrets.create({
      collection: 'accounts',
      name: 'PLAIN',
      value: 'not-a-totp-x',
    })
    expect((await expectKeywardError(vault.totp(plain.id), 'KEYWARD_VAULT_TOTP')).code).toBe(
      'KEYWARD_VAULT_TOTP',
    )
    _assertNoLeak(t.logs, encodeBase32(SEEDS.SHA256))
  })
})
