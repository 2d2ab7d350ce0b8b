// One code per condition in the vault (issue: one error catalogue).
import { isKeywardError, KEYWARD_VERSION_CONFLICT } from '@keyward/core'
import { expectKeywardError, expectNoLeak } from '@keyward/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { _tempVault, CANARY } from './_helpers.js'
import { KEYWARD_VAULT_INVALID, KEYWARD_VAULT_VERSION_CONFLICT } from './index.js'

const temps: { cleanup(): Promise<void> }[] = []
afterEach(async () => {
  for (const t of temps.splice(0)) await t.cleanup()
})

describe('vault error codes', () => {
  it('secrets.create answers a bad name and a bad type with the same code (was KEYWARD_INVALID_ARGUMENT for the type)', async () => {
    const t = await _tempVault()
    temps.push(t)
    await t.vault.collections.create({ slug: 'app' })
    const badName = await expectKeywardError(
      t.vault.secrets.create({ collection: 'app', name: '1BAD', value: CANARY }),
      KEYWARD_VAULT_INVALID,
    )
    const badType = await expectKeywardError(
      t.vault.secrets.create({
        collection: 'app',
        name: 'OK',
        type: 'bogus' as never,
        value: CANARY,
      }),
      KEYWARD_VAULT_INVALID,
    )
    expect(badType.details).toEqual({ field: 'type' })
    expectNoLeak(badName, CANARY)
    expectNoLeak(badType, CANARY)
  })

  it("a secret's version conflict is core's KEYWARD_VERSION_CONFLICT, with typed details", async () => {
    const t = await _tempVault()
    temps.push(t)
    await t.vault.collections.create({ slug: 'app' })
    const { id } = await t.vault.secrets.create({ collection: 'app', name: 'TOKEN', value: 'one' })
    await t.vault.secrets.update(id, { value: 'two' }, { ifVersion: 1 })
    const error = await expectKeywardError(
      t.vault.secrets.update(id, { value: CANARY }, { ifVersion: 1 }),
      KEYWARD_VERSION_CONFLICT,
    )
    expect(isKeywardError(error, KEYWARD_VERSION_CONFLICT) && error.details.actual).toBe(2)
    // The deprecated vault constant holds the same value, so old comparisons keep working.
    expect(error.code === KEYWARD_VAULT_VERSION_CONFLICT).toBe(true)
    expectNoLeak(error, CANARY)
  })
})
