import { PassThrough } from 'node:stream'
import { expectKeywardError, recordingLogger } from '@keyward/core/testing'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { _assertNoLeak, type _TempVault, _tempVault, CANARY } from './_helpers.js'
import { gitCredentialHelper, parseCredentialInput } from './index.js'

describe('parseCredentialInput', () => {
  it('reads key=value lines up to the blank line; first value wins (property)', () => {
    const key = fc.stringMatching(/^[a-z][a-z_[\]]{0,10}$/)
    const value = fc.string({ maxLength: 30 }).filter((v) => !/[\n\r\0]/.test(v))
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value), { maxLength: 10 }), fc.string(), (pairs, rest) => {
        const text = `${pairs.map(([k, v]) => `${k}=${v}`).join('\n')}\n\n${rest}`
        const parsed = parseCredentialInput(text)
        const expected = new Map<string, string>()
        for (const [k, v] of pairs) if (!expected.has(k)) expected.set(k, v)
        expect(parsed).toEqual(expected)
      }),
    )
  })

  it('never throws on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(parseCredentialInput(text)).toBeInstanceOf(Map)
      }),
    )
  })
})

describe('gitCredentialHelper', () => {
  let t: _TempVault
  beforeEach(async () => {
    t = await _tempVault()
    await t.vault.collections.create({ slug: 'git' })
    await t.vault.secrets.create({
      collection: 'git',
      name: 'ACME',
      type: 'login',
      fields: { username: 'ci-bot', password: CANARY, url: 'https://git.acme.test' },
    })
    await t.vault.secrets.create({
      collection: 'git',
      name: 'BAD',
      type: 'login',
      fields: { username: 'x', password: 'line\nbreak-pw', url: 'https://bad.test' },
    })
  })
  afterEach(async () => {
    await t.cleanup()
  })

  async function ask(operation: string, input: string) {
    const out = new PassThrough()
    let text = ''
    out.on('data', (c: Buffer) => {
      text += c.toString()
    })
    await gitCredentialHelper({ vault: t.vault, collection: 'git' })(operation, input, out)
    return text
  }

  it('answers get for a matching host and username, nothing otherwise; ignores store and erase', async () => {
    expect(await ask('get', 'protocol=https\nhost=git.acme.test\n\n')).toBe(
      `protocol=https\nhost=git.acme.test\nusername=ci-bot\npassword=${CANARY}\n`,
    )
    expect(await ask('get', 'protocol=https\nhost=git.acme.test\nusername=someone-else\n\n')).toBe(
      '',
    )
    expect(await ask('get', 'protocol=http\nhost=git.acme.test\n\n')).toBe('')
    expect(
      await ask(
        'store',
        `protocol=https\nhost=git.acme.test\nusername=a\npassword=${CANARY}-new\n\n`,
      ),
    ).toBe('')
    expect(await ask('erase', 'protocol=https\nhost=git.acme.test\n\n')).toBe('')
    expect(await ask('get', 'protocol=https\nhost=git.acme.test\n\n')).toContain(
      `password=${CANARY}\n`,
    )
  })

  it('never answers with a value that would break the protocol (a newline)', async () => {
    expect(await ask('get', 'protocol=https\nhost=bad.test\n\n')).toBe('')
    _assertNoLeak(t.logs)
  })

  it('a stored login with a malformed % in its userinfo is skipped with a KeywardError code, and the others still answer (regression: URIError)', async () => {
    // A vault double: such a login can no longer be created (see below), but one stored by an
    // earlier release can still be there.
    const logins = [
      { id: 'bad', url: 'https://u%zz:x@host.test', password: 'bad-password' },
      { id: 'good', url: 'https://host.test', password: CANARY },
    ]
    const vault = {
      secrets: {
        list: async () =>
          logins.map((l) => ({ id: l.id, type: 'login', fieldNames: ['password', 'url'] })),
        get: async (id: string) => {
          const l = logins.find((x) => x.id === id)!
          return { fields: { password: l.password, url: l.url } }
        },
      },
    } as never
    const logger = recordingLogger()
    const out = new PassThrough()
    let text = ''
    out.on('data', (c: Buffer) => {
      text += c.toString()
    })
    await gitCredentialHelper({ vault, collection: 'git', logger })(
      'get',
      'protocol=https\nhost=host.test\n\n',
      out,
    )
    expect(text).toBe(`protocol=https\nhost=host.test\npassword=${CANARY}\n`)
    expect(
      logger.lines.some(
        (l) => l.text.includes('"secret":"bad"') && l.text.includes('KEYWARD_VAULT_INVALID'),
      ),
    ).toBe(true)
    const refused = await expectKeywardError(
      t.vault.secrets.create({
        collection: 'git',
        name: 'MALFORMED',
        type: 'login',
        fields: { password: 'p', url: 'https://u%zz@host.test/a' },
      }),
      'KEYWARD_VAULT_INVALID',
    )
    expect([refused.code, refused.details.field]).toEqual(['KEYWARD_VAULT_INVALID', 'url'])
  })

  it('validates options eagerly', () => {
    expect(() => gitCredentialHelper({ vault: {} as never, collection: 'git' })).toThrow(/`vault`/)
    expect(() => gitCredentialHelper({ vault: t.vault, collection: 'Not A Slug' })).toThrow(/slug/)
  })
})
