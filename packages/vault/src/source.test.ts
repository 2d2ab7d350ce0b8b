// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} references are the subject of these tests
import type { SecretSource } from '@keyward/core'
import { expectKeywardError, expectNoLeak } from '@keyward/core/testing'
import { beforeEach, describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { _put, CANARY } from './_helpers.js'
import { openVault, type Vault, vaultSource } from './index.js'

let vault: Vault
beforeEach(async () => {
  vault = await openVault({ driver: suiteDriver() })
  await vault.collections.create({ slug: 'app' })
  await vault.environments.create({ collection: 'app', slug: 'prod' })
  await _put(vault, 'app', { API_URL: 'https://api.test', DB_PASSWORD: 'untagged-pw' })
  await _put(vault, 'app/prod', { DB_PASSWORD: CANARY })
  await _put(vault, 'app', { DATABASE_URL: 'postgres://app:${secret.DB_PASSWORD}@db/app' })
})

describe('vaultSource', () => {
  it('resolves names to values from one snapshot; absent names are absent', async () => {
    const source: SecretSource = vaultSource(vault, { collection: 'app', environment: 'prod' })
    const values = await source.resolve(['DATABASE_URL', 'API_URL', 'NOT_THERE', 'API_URL'])
    expect([...values]).toEqual([
      ['DATABASE_URL', `postgres://app:${CANARY}@db/app`],
      ['API_URL', 'https://api.test'],
    ])
    expect(values.has('NOT_THERE')).toBe(false)
    const untagged = await vaultSource(vault, { collection: 'app' }).resolve(['DB_PASSWORD'])
    expect(untagged.get('DB_PASSWORD')).toBe('untagged-pw')
    expect((await source.resolve([])).size).toBe(0)
  })

  it('resolves only the names asked for: a broken secret elsewhere does not fail the call', async () => {
    await vault.secrets.create({ collection: 'app', name: 'BROKEN', value: '${secret.MISSING}' })
    const source = vaultSource(vault, { collection: 'app', environment: 'prod' })
    expect((await source.resolve(['API_URL'])).get('API_URL')).toBe('https://api.test')
    const error = await expectKeywardError(
      source.resolve(['BROKEN', 'DB_PASSWORD']),
      'KEYWARD_REFERENCE_UNRESOLVED',
    )
    expectNoLeak(error, CANARY)
  })

  it('fails with the vault’s codes for an unknown collection or environment, and validates eagerly', async () => {
    await expectKeywardError(
      vaultSource(vault, { collection: 'nope' }).resolve(['A']),
      'KEYWARD_VAULT_UNKNOWN_COLLECTION',
    )
    await expectKeywardError(
      vaultSource(vault, { collection: 'app', environment: 'qa' }).resolve(['A']),
      'KEYWARD_VAULT_UNKNOWN_ENVIRONMENT',
    )
    await expectKeywardError(
      () => vaultSource({} as never, { collection: 'app' }),
      'KEYWARD_INVALID_ARGUMENT',
    )
    await expectKeywardError(
      () => vaultSource(vault, { collection: 'Not A Slug' }),
      'KEYWARD_VAULT_INVALID',
    )
    await expectKeywardError(
      vaultSource(vault, { collection: 'app' }).resolve('API_URL' as never),
      'KEYWARD_INVALID_ARGUMENT',
    )
  })

  it('rejects with the signal’s reason once aborted', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stop now'))
    await expect(
      vaultSource(vault, { collection: 'app' }).resolve(['API_URL'], { signal: controller.signal }),
    ).rejects.toThrow('stop now')
  })

  it('keeps a secret named __proto__ as an own key', async () => {
    await vault.secrets.create({ collection: 'app', name: '__proto__', value: 'proto-value' })
    const values = await vaultSource(vault, { collection: 'app' }).resolve(['__proto__'])
    expect(values.get('__proto__')).toBe('proto-value')
    const env = await vault.resolveEnvironment({ collection: 'app' })
    expect(Object.hasOwn(env, '__proto__')).toBe(true)
    expect(Object.getPrototypeOf(env)).toBe(Object.prototype)
  })
})
