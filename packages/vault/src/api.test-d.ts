import type { SecretSource } from '@keyward/core'
import type { Resolver } from '@keyward/templating'
import { describe, expectTypeOf, it } from 'vitest'
import {
  type ExportFormat,
  type ExportOptions,
  type OpenVaultOptions,
  openVault,
  type RunOptions,
  type RunResult,
  type Secret,
  type SecretInfo,
  type Vault,
  vaultSource,
} from './index.js'

describe('public API types', () => {
  it('infers what the vault methods return', async () => {
    const vault = await openVault()
    expectTypeOf(vault).toEqualTypeOf<Vault>()
    expectTypeOf(vault.secrets.get('id')).toEqualTypeOf<Promise<Secret>>()
    expectTypeOf(vault.secrets.list({ collection: 'c' })).toEqualTypeOf<Promise<SecretInfo[]>>()
    expectTypeOf(vault.resolveEnvironment({ collection: 'c' })).toEqualTypeOf<
      Promise<Record<string, string>>
    >()
    expectTypeOf(vault.resolver()).toEqualTypeOf<Resolver>()
    expectTypeOf(vault.run({ collection: 'c', command: 'x' })).toEqualTypeOf<Promise<RunResult>>()
    expectTypeOf(vault.export({ collection: 'c', format: 'shell' })).toEqualTypeOf<
      Promise<string>
    >()
    expectTypeOf<SecretInfo>().not.toHaveProperty('value')
    expectTypeOf(
      vaultSource(vault, { collection: 'c', environment: undefined }),
    ).toEqualTypeOf<SecretSource>()
  })

  it('names the export formats and accepts undefined for every optional option', () => {
    expectTypeOf<ExportFormat>().toEqualTypeOf<'dotenv' | 'shell' | 'compose' | 'json' | 'env'>()
    expectTypeOf<{
      path: undefined
      driver: undefined
      key: undefined
      namespace: undefined
      logger: undefined
    }>().toExtend<OpenVaultOptions>()
    expectTypeOf<{
      collection: string
      environment: undefined
      format: 'json'
      publicPrefix: undefined
      file: undefined
    }>().toExtend<ExportOptions>()
    expectTypeOf<{
      collection: string
      command: string
      environment: undefined
      args: undefined
      mask: undefined
      cwd: undefined
      env: undefined
      stdout: undefined
      stderr: undefined
      allowUnsafeNames: undefined
    }>().toExtend<RunOptions>()
    // @ts-expect-error a format must be one of the named readers
    expectTypeOf<{ collection: string; format: 'yaml' }>().toExtend<ExportOptions>()
  })
})
