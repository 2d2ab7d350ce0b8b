// parseTotp and generateTotp against other implementations: the `otpauth` npm package (URI
// parsing and codes) and oath-toolkit's `oathtool` (codes; a real process, batched per run).
import { spawnSync } from 'node:child_process'
import fc from 'fast-check'
import * as OTPAuth from 'otpauth'
import { describe, expect, it } from 'vitest'
import { encodeBase32, generateTotp, parseTotp, type TotpAlgorithm } from './index.js'

function hasOathtool(): boolean {
  if (spawnSync('oathtool', ['--version']).status === 0) return true
  const reason = 'oathtool is not available (install: apt-get install oathtool)'
  if (process.env.CI) throw new Error(`${reason}; CI must provide it (.ci/run installs it)`)
  process.stderr.write(`skipping: ${reason}\n`)
  return false
}

// Label and issuer text: a literal `+`, characters that must be percent-encoded, Unicode.
const text = fc
  .array(fc.constantFrom('a', 'B', '+', ' ', '%', '&', '=', '?', '#', '/', '@', 'é', '😀', '-'), {
    minLength: 1,
    maxLength: 12,
  })
  .map((a) => a.join(''))
  .filter((s) => s.trim() === s && s.length > 0)
// RFC 3986 encoding that leaves `+` literal (as authenticator exports do).
const encode = (s: string) => [...s].map((c) => (c === '+' ? '+' : encodeURIComponent(c))).join('')

describe('otpauth URIs', () => {
  it('reads + in the label prefix and in the issuer parameter the same way, as a plus sign (regression)', () => {
    const seed = 'JBSWY3DPEHPK3PXP'
    expect(parseTotp(`otpauth://totp/Big+Corp:alice?secret=${seed}&issuer=Big+Corp`).issuer).toBe(
      'Big+Corp',
    )
    expect(parseTotp(`otpauth://totp/Big+Corp:alice?secret=${seed}`).issuer).toBe('Big+Corp')
    expect(parseTotp(`otpauth://totp/alice?secret=${seed}&issuer=Big+Corp`).issuer).toBe('Big+Corp')
    expect(parseTotp(`otpauth://totp/alice?secret=${seed}&issuer=Big%20Corp`).issuer).toBe(
      'Big Corp',
    )
  })

  it('parses issuer, account and parameters as the otpauth package does (property)', () => {
    fc.assert(
      fc.property(
        text,
        text,
        fc.boolean(),
        fc.constantFrom<TotpAlgorithm>('SHA1', 'SHA256', 'SHA512'),
        fc.constantFrom(6, 7, 8),
        fc.integer({ min: 1, max: 300 }),
        fc.uint8Array({ minLength: 10, maxLength: 40 }),
        (issuer, account, inLabel, algorithm, digits, period, seed) => {
          const label = inLabel ? `${encode(issuer)}:${encode(account)}` : encode(account)
          const uri = `otpauth://totp/${label}?secret=${encodeBase32(seed)}&issuer=${encode(issuer)}&algorithm=${algorithm}&digits=${digits}&period=${period}`
          const ours = parseTotp(uri)
          const theirs = OTPAuth.URI.parse(uri) as OTPAuth.TOTP
          expect(ours.issuer).toBe(theirs.issuer)
          expect(ours.account).toBe(theirs.label)
          expect([ours.algorithm, ours.digits, ours.period]).toEqual([
            theirs.algorithm,
            theirs.digits,
            theirs.period,
          ])
          const at = new Date(1_700_000_000_000)
          expect(generateTotp(ours, { at })).toBe(theirs.generate({ timestamp: at.getTime() }))
        },
      ),
      { numRuns: 300 },
    )
  })

  it.skipIf(!hasOathtool())(
    'generates the codes oathtool generates (property, real oathtool)',
    () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 10, maxLength: 64 }),
          fc.constantFrom<TotpAlgorithm>('SHA1', 'SHA256', 'SHA512'),
          fc.constantFrom(6, 7, 8),
          fc.constantFrom(15, 30, 60),
          fc.integer({ min: 0, max: 4_000_000_000 }),
          (seed, algorithm, digits, period, seconds) => {
            const out = spawnSync(
              'oathtool',
              [
                `--totp=${algorithm.toLowerCase()}`,
                '-d',
                String(digits),
                '-s',
                `${period}s`,
                '-b',
                encodeBase32(seed),
                '--now',
                `@${seconds}`,
              ],
              { encoding: 'utf8', timeout: 30_000 },
            )
            expect(out.status, out.stderr).toBe(0)
            expect(
              generateTotp({ seed, algorithm, digits, period }, { at: new Date(seconds * 1000) }),
            ).toBe(out.stdout.trim())
          },
        ),
        { numRuns: 25 },
      )
    },
  )
})
