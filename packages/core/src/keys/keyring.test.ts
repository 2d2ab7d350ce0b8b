import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { keyringTestEnv } from '../../../../test/_keyring.js'
import {
  deleteRawEntry,
  expectOptionErrors,
  keyringSuite,
  readRawEntry,
  writeRawPassword,
} from '../drivers/_keyring-helpers.js'
import { expectKeywardError } from '../test-kit.js'
import { keyringKey } from './keyring.js'

const env = await keyringTestEnv({ what: 'keyringKey' })
const CANARY = 'canary-keyringkey-41aa-do-not-leak'

describe.skipIf(!env.available)('keyringKey on the real Secret Service', () => {
  const suite = keyringSuite()
  const provider = (account = 'store-key') =>
    keyringKey({ service: suite.service('key'), account, lockDir: suite.dir })

  it('creates a random 32-byte key in the keyring and reads the same key back on open', async () => {
    const key = provider()
    const params = key.createParams()
    expect(params).toEqual({ service: key.service, account: 'store-key' })
    expect(key.kind).toBe('keyring')
    const created = await key.deriveKey(params, 'create')
    expect(created).toBeInstanceOf(Uint8Array)
    expect(created.byteLength).toBe(32)
    const stored = new TextDecoder().decode((await readRawEntry(key.service, 'store-key'))!)
    expect(Buffer.from(stored, 'base64')).toEqual(Buffer.from(created))
    const reopened = keyringKey({ service: key.service, lockDir: suite.dir })
    expect(Array.from(await reopened.deriveKey(params, 'open'))).toEqual(Array.from(created))
    // Creating again (a second store on the same entry) reuses the key.
    expect(Array.from(await reopened.deriveKey(params, 'create'))).toEqual(Array.from(created))
  })

  it('gives two providers racing to create the same key one key', async () => {
    const first = provider()
    const second = keyringKey({ service: first.service, lockDir: suite.dir })
    const params = first.createParams()
    const [a, b] = await Promise.all([
      first.deriveKey(params, 'create'),
      second.deriveKey(params, 'create'),
    ])
    expect(Array.from(a)).toEqual(Array.from(b))
  })

  it('never creates a key on open: a missing entry is KEYWARD_KEY_MISSING naming where to look', async () => {
    const key = provider('missing-key')
    const error = await expectKeywardError(
      key.deriveKey(key.createParams(), 'open'),
      'KEYWARD_KEY_MISSING',
    )
    expect(error.code).toBe('KEYWARD_KEY_MISSING')
    expect(error.message).toContain(`"missing-key" of service "${key.service}"`)
    expect(error.message).toContain('not in the OS keyring')
    expect(error.details).toMatchObject({ service: key.service, account: 'missing-key' })
    expect(await readRawEntry(key.service, 'missing-key')).toBeNull()
  })

  it('reports a malformed entry as KEYWARD_KEY_INVALID without quoting it, and keeps it', async () => {
    for (const bad of [CANARY, Buffer.alloc(16, 7).toString('base64'), `${'A'.repeat(43)}=x`]) {
      const key = provider()
      await writeRawPassword(key.service, 'store-key', bad)
      for (const mode of ['open', 'create'] as const) {
        const error = await expectKeywardError(
          key.deriveKey(key.createParams(), mode),
          'KEYWARD_KEY_INVALID',
        )
        expect(error.code).toBe('KEYWARD_KEY_INVALID')
        expect(error.message).not.toContain(bad)
        expect(JSON.stringify(error)).not.toContain(bad)
      }
      expect(new TextDecoder().decode((await readRawEntry(key.service, 'store-key'))!)).toBe(bad)
      await deleteRawEntry(key.service, 'store-key')
    }
  })

  it('refuses a store header that names another entry (KEYWARD_WRONG_KEY)', async () => {
    const key = provider()
    const error = await expectKeywardError(
      key.deriveKey({ service: 'someone-else', account: 'their-key' }, 'open'),
      'KEYWARD_WRONG_KEY',
    )
    expect(error.code).toBe('KEYWARD_WRONG_KEY')
    expect(error.message).toContain('"their-key" of service "someone-else"')
    expect(await readRawEntry('someone-else', 'their-key')).toBeNull()
  })

  it('shows no key material through inspect or JSON', async () => {
    const key = provider()
    const material = Buffer.from(await key.deriveKey(key.createParams(), 'create')).toString(
      'base64',
    )
    expect(inspect(key, { depth: 5 })).not.toContain(material)
    expect(JSON.stringify(key)).not.toContain(material)
    expect(JSON.parse(JSON.stringify(key))).toEqual({
      kind: 'keyring',
      service: key.service,
      account: 'store-key',
    })
  })
})

describe('keyringKey options', () => {
  it('defaults to service keyward, account store-key', () => {
    const key = keyringKey()
    expect(key.createParams()).toEqual({ service: 'keyward', account: 'store-key' })
  })

  it('validates options eagerly, naming them', async () => {
    const bad: [unknown, string][] = [
      [null, 'options object'],
      [{ service: '' }, '`service`'],
      [{ account: 'a\0b' }, '`account`'],
      [{ store: 'file' }, '`store`'],
      [{ lockDir: 3 }, '`lockDir`'],
    ]
    await expectOptionErrors(keyringKey, bad)
  })
})
