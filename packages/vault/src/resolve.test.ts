// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} references are the subject of these tests
import { KeywardError } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError } from '@keyward/core/testing'
import { substitute } from '@keyward/templating'
import { describe, expect, it } from 'vitest'
import { _assertNoLeak, _put, CANARY } from './_helpers.js'
import { openVault, type Vault } from './index.js'

async function memoryVault(): Promise<Vault> {
  const vault = await openVault({ driver: memoryDriver() })
  await vault.collections.create({ slug: 'app' })
  await vault.environments.create({ collection: 'app', slug: 'dev' })
  await vault.environments.create({ collection: 'app', slug: 'prod' })
  return vault
}

/** `n` secrets in `where` (as for `_put`), the i-th named and valued by `secret(i)`, in order. */
function _putEach(
  vault: Vault,
  where: string,
  n: number,
  secret: (i: number) => [name: string, value: string],
): Promise<Record<string, string>> {
  return _put(vault, where, Object.fromEntries(Array.from({ length: n }, (_, i) => secret(i))))
}

describe('resolution on the snapshot', () => {
  it('a user value cannot use the private @<uuid>/<environment> spelling (regression: it read another environment’s secret)', async () => {
    const vault = await memoryVault()
    const { PROD_ONLY: id } = await _put(vault, 'app/prod', { PROD_ONLY: CANARY })
    await _put(vault, 'app', { SNEAKY: `\${secret.@${id}/prod}` })
    const error = await expectKeywardError(
      vault.resolveEnvironment({ collection: 'app', environment: 'dev' }),
      'KEYWARD_REFERENCE_UNRESOLVED',
    )
    expect(error.message).toContain('not found')
    _assertNoLeak([error])
    await expectKeywardError(
      substitute(`\${secret.@${id}/prod}`, vault.resolver()),
      'KEYWARD_REFERENCE_UNRESOLVED',
    )
    // The public spellings still reach it.
    expect(await substitute(`\${secret.app/prod/PROD_ONLY}`, vault.resolver())).toBe(CANARY)
    expect(await substitute(`\${secret.${id}}`, vault.resolver())).toBe(CANARY)
  })

  it('a value with only an escaped reference is unescaped, like one that also holds a reference', async () => {
    const vault = await memoryVault()
    await _put(vault, 'app', {
      ONLY_ESCAPE: 'lit=$${secret.x}',
      PLAIN: 'p',
      BOTH: 'lit=$${secret.x} ${secret.PLAIN}',
    })
    expect(await vault.resolveEnvironment({ collection: 'app' })).toEqual({
      BOTH: 'lit=${secret.x} p',
      ONLY_ESCAPE: 'lit=${secret.x}',
      PLAIN: 'p',
    })
  })

  it('references nest up to 8 levels; the 9th is one depth failure', async () => {
    const vault = await memoryVault()
    await _putEach(vault, 'app/dev', 10, (i) => [
      `L${i}`,
      i === 9 ? 'bottom' : `\${secret.L${i + 1}}`,
    ])
    const error = await expectKeywardError(
      vault.resolveEnvironment({ collection: 'app', environment: 'dev' }),
      'KEYWARD_REFERENCE_UNRESOLVED',
    )
    const failures = error.details.failures as { reason: string; raw: string }[]
    expect(failures.map((f) => [f.reason, f.raw])).toEqual([['depth', '${secret.L1}']])
    expect(
      await substitute('${secret.L1}', vault.resolver({ collection: 'app', environment: 'dev' })),
    ).toBe('bottom')
  })

  it('a reference cycle of 800 secrets is one failure with a bounded chain (regression: ~n³ time, n² error)', async () => {
    const vault = await memoryVault()
    const n = 800
    await _putEach(vault, 'app', n, (i) => [
      `C${String(i).padStart(4, '0')}`,
      `${CANARY}\${secret.C${String((i + 1) % n).padStart(4, '0')}}`,
    ])
    const error = await expectKeywardError(
      vault.resolveEnvironment({ collection: 'app' }),
      'KEYWARD_REFERENCE_UNRESOLVED',
    )
    const failures = error.details.failures as { reason: string; chain: string[] }[]
    expect(failures).toHaveLength(1)
    expect(failures[0]!.reason).toBe('cycle')
    expect(failures[0]!.chain.length).toBeLessThanOrEqual(10)
    expect(failures[0]!.chain).toContain('… 792 more')
    expect(JSON.stringify(error.details).length).toBeLessThan(5_000)
    expect(error.message.length).toBeLessThan(2_000)
    _assertNoLeak([error])
  })

  it('a chain of 6,000 secrets ends in a KeywardError, not a RangeError (regression)', async () => {
    const vault = await memoryVault()
    const n = 6000
    await _putEach(vault, 'app', n, (i) => [`S${i}`, i === n - 1 ? 'end' : `\${secret.S${i + 1}}`])
    const error = await vault.resolveEnvironment({ collection: 'app' }).catch((e: unknown) => e)
    expect(KeywardError.isInstance(error), String(error)).toBe(true)
    const failures = (error as KeywardError).details.failures as { reason: string }[]
    expect(failures.map((f) => f.reason)).toEqual(['depth'])
    const viaResolver = await substitute(
      '${secret.S0}',
      vault.resolver({ collection: 'app' }),
    ).catch((e: unknown) => e)
    expect(KeywardError.isInstance(viaResolver), String(viaResolver)).toBe(true)
  })

  it('reports each broken reference once, however many variables reach it', async () => {
    const vault = await memoryVault()
    await vault.secrets.create({ collection: 'app', name: 'BROKEN', value: 'x${secret.MISSING}' })
    for (const name of ['A', 'B', 'C'])
      await vault.secrets.create({ collection: 'app', name, value: `${name}:\${secret.BROKEN}` })
    const error = await expectKeywardError(
      vault.resolveEnvironment({ collection: 'app' }),
      'KEYWARD_REFERENCE_UNRESOLVED',
    )
    const failures = error.details.failures as { reason: string; raw: string }[]
    expect(failures.map((f) => [f.reason, f.raw])).toEqual([['not_found', '${secret.MISSING}']])
  })
})
