// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} references are the subject of these tests
// The vault's default store, the encrypted file, at rest: what its bytes hold and that a refused
// call leaves them as they were. Tests of this file's bytes run on the file driver only; the rest
// of the vault's suite runs on every suite driver (test/_driver.ts).
import { readFile, writeFile } from 'node:fs/promises'
import { envKey, type KeywardErrorCode } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { expectKeywardError } from '@keyward/core/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { _assertNoLeak, _put, _saas, type _TempVault, _tempVault, CANARY } from './_helpers.js'
import { openVault } from './index.js'

let t: _TempVault
beforeEach(async () => {
  t = await _tempVault({ driver: 'file' })
})
afterEach(() => t.cleanup())

describe('the vault file at rest', () => {
  it('persists across reopening, and the file holds no plaintext value, name or slug', async () => {
    const { vault } = t
    await _saas(vault)
    const { TOKEN: id } = await _put(vault, 'my-saas/dev', { TOKEN: CANARY })
    const again = await t.reopen()
    expect((await again.secrets.get(id)).value).toBe(CANARY)
    const raw = await readFile(t.path)
    for (const text of [CANARY, 'my-saas', 'TOKEN'])
      expect(raw.includes(Buffer.from(text))).toBe(false)
  })

  it('refuses duplicates, bad names and unknown collections or environments, writing nothing', async () => {
    const { vault } = t
    await _saas(vault)
    await _put(vault, 'my-saas/dev', { TOKEN: CANARY })
    const before = await readFile(t.path)
    const cases: [() => Promise<unknown>, KeywardErrorCode, string][] = [
      [() => vault.collections.create({ slug: 'my-saas' }), 'KEYWARD_VAULT_DUPLICATE', 'my-saas'],
      [
        () => vault.environments.create({ collection: 'my-saas', slug: 'dev' }),
        'KEYWARD_VAULT_DUPLICATE',
        'dev',
      ],
      [
        () =>
          vault.secrets.create({
            collection: 'my-saas',
            environment: 'dev',
            name: 'TOKEN',
            value: CANARY,
          }),
        'KEYWARD_VAULT_DUPLICATE',
        'TOKEN',
      ],
      [
        () => vault.secrets.create({ collection: 'my-saas', name: '1BAD', value: CANARY }),
        'KEYWARD_VAULT_INVALID',
        'name',
      ],
      [
        () => vault.secrets.create({ collection: 'my-saas', name: 'A-B', value: CANARY }),
        'KEYWARD_VAULT_INVALID',
        'name',
      ],
      [() => vault.collections.create({ slug: 'Has Space' }), 'KEYWARD_VAULT_INVALID', 'slug'],
      [
        () => vault.secrets.create({ collection: 'nope', name: 'X', value: CANARY }),
        'KEYWARD_VAULT_UNKNOWN_COLLECTION',
        'nope',
      ],
      [
        () =>
          vault.secrets.create({
            collection: 'my-saas',
            environment: 'staging',
            name: 'X',
            value: CANARY,
          }),
        'KEYWARD_VAULT_UNKNOWN_ENVIRONMENT',
        'staging',
      ],
      [
        () =>
          vault.secrets.create({ collection: 'my-saas', name: 'X', value: `${CANARY}\${secret.}` }),
        'KEYWARD_VAULT_INVALID',
        'offset',
      ],
      [
        () =>
          vault.secrets.create({
            collection: 'my-saas',
            name: 'X',
            type: 'login',
            fields: { username: CANARY },
          }),
        'KEYWARD_VAULT_INVALID',
        'password',
      ],
      [
        () =>
          vault.secrets.create({
            collection: 'my-saas',
            name: 'X',
            type: 'login',
            fields: { password: 'p', url: CANARY },
          }),
        'KEYWARD_VAULT_INVALID',
        'url',
      ],
      [
        () =>
          vault.secrets.create({ collection: 'my-saas', name: 'X', type: 'totp', value: CANARY }),
        'KEYWARD_VAULT_TOTP',
        'base32',
      ],
      [
        () => vault.resolveEnvironment({ collection: 'my-saas', environment: 'qa' }),
        'KEYWARD_VAULT_UNKNOWN_ENVIRONMENT',
        'qa',
      ],
    ]
    for (const [start, code, named] of cases) {
      const error = await expectKeywardError(start(), code)
      expect(error.code, error.message).toBe(code)
      expect(error.message).toContain(named)
      _assertNoLeak([error])
    }
    expect((await readFile(t.path)).equals(before)).toBe(true)
  })

  it('passes a store from a newer core format through with its code', async () => {
    const bytes = await readFile(t.path)
    const forged = Buffer.from(bytes)
    await writeFile(t.path, forged.subarray(0, 10))
    const error = await expectKeywardError(
      openVault({ path: t.path, key: envKey('K', { env: { K: t.keyText } }) }),
      'KEYWARD_STORE_TRUNCATED',
    )
    expect(error.code).toMatch(/^KEYWARD_STORE_/)
    expect(fileDriver).toBeTypeOf('function')
  })
})
