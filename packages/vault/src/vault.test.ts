// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} references are the subject of these tests
import { inspect } from 'node:util'
import { KeywardError } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError } from '@keyward/core/testing'
import { createRedactor, substitute } from '@keyward/templating'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { _assertNoLeak, _put, _saas, type _TempVault, _tempVault, CANARY } from './_helpers.js'
import { openVault, type Vault } from './index.js'

let t: _TempVault
let vault: Vault
beforeEach(async () => {
  t = await _tempVault()
  vault = t.vault
})
afterEach(async () => {
  await t.cleanup()
})

describe('collections, environments and secrets', () => {
  it('keeps one codebase runnable against dev and prod: environment secrets win over untagged ones', async () => {
    await _saas(vault)
    await _put(vault, 'my-saas', { LOG_LEVEL: 'info-level', API_URL: 'https://api.example.test' })
    await _put(vault, 'my-saas/dev', { LOG_LEVEL: 'debug-level' })
    await _put(vault, 'my-saas/prod', { DATABASE_URL: 'postgres://prod-db/app' })
    expect(await vault.resolveEnvironment({ collection: 'my-saas', environment: 'dev' })).toEqual({
      API_URL: 'https://api.example.test',
      LOG_LEVEL: 'debug-level',
    })
    expect(await vault.resolveEnvironment({ collection: 'my-saas', environment: 'prod' })).toEqual({
      API_URL: 'https://api.example.test',
      DATABASE_URL: 'postgres://prod-db/app',
      LOG_LEVEL: 'info-level',
    })
    expect(await vault.resolveEnvironment({ collection: 'my-saas' })).toEqual({
      API_URL: 'https://api.example.test',
      LOG_LEVEL: 'info-level',
    })
  })

  it('injects multi-field secrets as JSON and references their fields', async () => {
    await _saas(vault)
    await vault.secrets.create({
      collection: 'my-saas',
      name: 'ACME_LOGIN',
      type: 'login',
      fields: { username: 'ci-bot', password: CANARY, url: 'https://git.acme.test' },
    })
    await _put(vault, 'my-saas', {
      AUTH_HEADER: 'Basic ${secret.ACME_LOGIN.username}:${secret.ACME_LOGIN.password}',
    })
    const env = await vault.resolveEnvironment({ collection: 'my-saas', environment: 'dev' })
    expect(JSON.parse(env.ACME_LOGIN!)).toEqual({
      username: 'ci-bot',
      password: CANARY,
      url: 'https://git.acme.test',
    })
    expect(env.AUTH_HEADER).toBe(`Basic ci-bot:${CANARY}`)
  })

  it('resolves references in the environment that owns each value', async () => {
    await _saas(vault)
    await vault.collections.create({ slug: 'shared' })
    await vault.environments.create({ collection: 'shared', slug: 'prod' })
    await _put(vault, 'shared', { REGION: 'eu-west-1-untagged' })
    await _put(vault, 'shared/prod', { REGION: 'eu-central-1-prod' })
    await _put(vault, 'shared', { BUCKET: 'files-${secret.REGION}' })
    // Untagged: composed from whatever each environment holds.
    await _put(vault, 'my-saas', {
      DATABASE_URL:
        'postgres://app:${secret.DB_PASSWORD}@db-${secret.shared/REGION}/app $${secret.literal}',
      FILES: '${secret.shared/BUCKET}',
    })
    await _put(vault, 'my-saas/dev', { DB_PASSWORD: 'dev-password-1' })
    await _put(vault, 'my-saas/prod', { DB_PASSWORD: 'prod-password-2' })
    const dev = await vault.resolveEnvironment({ collection: 'my-saas', environment: 'dev' })
    const prod = await vault.resolveEnvironment({ collection: 'my-saas', environment: 'prod' })
    expect(dev.DATABASE_URL).toBe(
      'postgres://app:dev-password-1@db-eu-west-1-untagged/app ${secret.literal}',
    )
    expect(prod.DATABASE_URL).toBe(
      'postgres://app:prod-password-2@db-eu-central-1-prod/app ${secret.literal}',
    )
    expect(dev.FILES).toBe('files-eu-west-1-untagged')
    expect(prod.FILES).toBe('files-eu-central-1-prod')
  })

  it('fails loudly on a broken reference, naming the secret and field, never a value', async () => {
    await _saas(vault)
    const { URL: id } = await _put(vault, 'my-saas', { URL: `x-${CANARY}-\${secret.MISSING}` })
    await vault.secrets.create({
      collection: 'my-saas',
      name: 'LOGIN',
      type: 'login',
      fields: { password: CANARY },
    })
    await _put(vault, 'my-saas', { USES_FIELD: '${secret.LOGIN.nope}' })
    const error = await expectKeywardError(
      vault.resolveEnvironment({ collection: 'my-saas', environment: 'dev' }),
      'KEYWARD_REFERENCE_UNRESOLVED',
    )
    expect(error.message).toContain(`URL (secret ${id})`)
    expect(error.message).toContain('${secret.MISSING}')
    expect(error.message).toContain('not found')
    expect(error.message).toContain('${secret.LOGIN.nope}')
    expect(error.message).toContain('no field')
    _assertNoLeak([error, error.message])
  })

  it('reports a reference cycle with its chain', async () => {
    await _saas(vault)
    await _put(vault, 'my-saas', { A: 'a${secret.B}', B: `${CANARY}\${secret.A}` })
    const error = await expectKeywardError(
      vault.resolveEnvironment({ collection: 'my-saas', environment: 'dev' }),
      'KEYWARD_REFERENCE_UNRESOLVED',
    )
    expect(error.message).toContain('cycle')
    expect(error.message).toMatch(/\$\{secret\.B\} in my-saas\/\(untagged\)\/A/)
    _assertNoLeak([error])
  })

  it('lists metadata only, and get() hides values from inspect and JSON', async () => {
    await _saas(vault)
    const { TOKEN: id } = await _put(vault, 'my-saas/dev', { TOKEN: CANARY })
    await vault.secrets.create({
      collection: 'my-saas',
      name: 'LOGIN',
      type: 'login',
      fields: { username: 'u', password: CANARY },
    })
    const all = await vault.secrets.list({ collection: 'my-saas' })
    expect(all.map((s) => [s.name, s.environment, s.type, s.fieldNames])).toEqual([
      ['LOGIN', null, 'login', ['username', 'password']],
      ['TOKEN', 'dev', 'string', ['value']],
    ])
    expect(await vault.secrets.list({ collection: 'my-saas', environment: 'prod' })).toHaveLength(1)
    _assertNoLeak([all])
    const secret = await vault.secrets.get(id)
    expect(secret.value).toBe(CANARY)
    expect(secret.fields.value).toBe(CANARY)
    _assertNoLeak([inspect(secret), JSON.stringify(secret), secret])
    _assertNoLeak(t.logs)
    expect(t.logs.some((l) => l.includes(id))).toBe(true)
  })
})

describe('updates', () => {
  it('compare-and-set on the version: a stale ifVersion gets the conflict code and changes nothing', async () => {
    await _saas(vault)
    const { TOKEN: id } = await _put(vault, 'my-saas', { TOKEN: 'v1-value' })
    const updated = await vault.secrets.update(id, { value: 'v2-value' }, { ifVersion: 1 })
    expect(updated.version).toBe(2)
    const error = await expectKeywardError(
      vault.secrets.update(id, { value: CANARY }, { ifVersion: 1 }),
      'KEYWARD_VERSION_CONFLICT',
    )
    expect(error.details).toMatchObject({ secret: id, expected: 1, actual: 2 })
    expect((await vault.secrets.get(id)).value).toBe('v2-value')
    await expectKeywardError(vault.secrets.delete(id, { ifVersion: 1 }), 'KEYWARD_VERSION_CONFLICT')
    _assertNoLeak([error])
  })

  it('keeps the last 10 versions', async () => {
    await _saas(vault)
    const { TOKEN: id } = await _put(vault, 'my-saas', { TOKEN: 'value-1' })
    for (let v = 2; v <= 13; v++) await vault.secrets.update(id, { value: `value-${v}` })
    const versions = await vault.secrets.versions(id)
    expect(versions.map((v) => v.version)).toEqual([13, 12, 11, 10, 9, 8, 7, 6, 5, 4])
    expect((await vault.secrets.get(id, { version: 4 })).value).toBe('value-4')
    await expectKeywardError(vault.secrets.get(id, { version: 3 }), 'KEYWARD_VAULT_UNKNOWN_SECRET')
    const other = await t.reopen()
    expect((await other.secrets.get(id)).value).toBe('value-13')
  })

  it('sees writes of another vault instance on the same file (no stale snapshot)', async () => {
    await _saas(vault)
    const other = await t.reopen()
    const { TOKEN: id } = await _put(vault, 'my-saas', { TOKEN: 'first-value' })
    expect((await other.resolveEnvironment({ collection: 'my-saas' })).TOKEN).toBe('first-value')
    await vault.secrets.update(id, { value: 'second-value' })
    expect((await other.resolveEnvironment({ collection: 'my-saas' })).TOKEN).toBe('second-value')
    await vault.secrets.delete(id)
    expect(await other.resolveEnvironment({ collection: 'my-saas' })).toEqual({})
    await expectKeywardError(other.secrets.get(id), 'KEYWARD_VAULT_UNKNOWN_SECRET')
  })
})

describe('resolver()', () => {
  it('resolves ids, collection/NAME, collection/env/NAME and bare names in one batch', async () => {
    await _saas(vault)
    const { id } = await vault.secrets.create({
      collection: 'my-saas',
      name: 'LOGIN',
      type: 'login',
      fields: { username: 'alice', password: 'pw-untagged-1' },
    })
    await _put(vault, 'my-saas/prod', { KEY: 'prod-key-12345' })
    await vault.secrets.create({ collection: 'my-saas', name: 'KEY', value: 'untagged-key-1' })
    const redactor = createRedactor()
    const out = await substitute(
      '${secret.' +
        id +
        '.username} ${secret.my-saas/KEY} ${secret.my-saas/prod/KEY} ${secret.KEY} ${secret.nope}x',
      vault.resolver({ collection: 'my-saas', environment: 'prod' }),
      { redactor },
    ).catch((e: KeywardError) => e)
    expect(KeywardError.isInstance(out) && out.code).toBe('KEYWARD_REFERENCE_UNRESOLVED')
    const ok = await substitute(
      '${secret.' +
        id +
        '.username} ${secret.my-saas/KEY} ${secret.my-saas/prod/KEY} ${secret.KEY}',
      vault.resolver({ collection: 'my-saas', environment: 'prod' }),
      // 'alice' is too short to mask: substitute fails closed unless the host allows it.
      { redactor, allowUnmasked: [`\${secret.${id}.username}`] },
    )
    expect(ok).toBe('alice prod-key-12345 prod-key-12345 prod-key-12345')
    expect(await substitute('${secret.my-saas/KEY}', vault.resolver())).toBe('untagged-key-1')
    expect(redactor.redact('got prod-key-12345')).toBe('got ${secret.my-saas/KEY}')
  })
})

describe('opening', () => {
  it('refuses a vault written by a newer format, writing nothing', async () => {
    const driver = memoryDriver()
    await driver.set('vault/head', new TextEncoder().encode('{"format":2,"kind":"head"}'))
    await expectKeywardError(openVault({ driver }), 'KEYWARD_VAULT_UNSUPPORTED_FORMAT')
    expect((await driver.get('vault/head'))?.version).toBe(1)
    expect(await driver.list()).toEqual(['vault/head'])
  })

  it('reports a record that does not decode without quoting it', async () => {
    const driver = memoryDriver()
    const v = await openVault({ driver })
    await v.collections.create({ slug: 'c' })
    await driver.set(
      'vault/s/00000000-0000-4000-8000-000000000000',
      new TextEncoder().encode(`{"format":1,"kind":"secret","x":"${CANARY}"`),
    )
    await driver.set('vault/head', new TextEncoder().encode('{"format":1,"kind":"head"}'))
    const error = await expectKeywardError(
      v.resolveEnvironment({ collection: 'c' }),
      'KEYWARD_VAULT_RECORD_CORRUPT',
    )
    expect(error.cause).toBeUndefined()
    _assertNoLeak([error])
  })

  it('validates options eagerly, naming them', async () => {
    expect(
      (await expectKeywardError(openVault({ driver: {} as never }), 'KEYWARD_INVALID_ARGUMENT'))
        .message,
    ).toContain('`driver`')
    expect(
      (
        await expectKeywardError(
          openVault({ driver: memoryDriver(), path: '/x' }),
          'KEYWARD_INVALID_ARGUMENT',
        )
      ).message,
    ).toContain('`path`')
    expect(
      (await expectKeywardError(openVault({ path: '' }), 'KEYWARD_INVALID_ARGUMENT')).message,
    ).toContain('`path`')
  })
})
