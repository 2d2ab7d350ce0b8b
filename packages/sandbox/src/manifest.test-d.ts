import { expectTypeOf, it } from 'vitest'
import { defineManifest, type EnvOf } from './manifest.js'

it('EnvOf makes required variables strings and optional ones absent-able', () => {
  const manifest = defineManifest({
    env: {
      API_KEY: 'CLOCKIFY_API_KEY',
      WORKSPACE: { key: 'CLOCKIFY_WORKSPACE', optional: true },
      TOKEN: { key: 'T', mode: 'reference' },
    },
  })
  type Env = EnvOf<typeof manifest>
  expectTypeOf<Env['API_KEY']>().toEqualTypeOf<string>()
  expectTypeOf<Env['TOKEN']>().toEqualTypeOf<string>()
  expectTypeOf<Env>().toHaveProperty('WORKSPACE')
  expectTypeOf<Env['WORKSPACE']>().toEqualTypeOf<string | undefined>()
  expectTypeOf<Env>().not.toHaveProperty('OTHER')
})

it('EnvOf of a manifest without env is empty', () => {
  const manifest = defineManifest({ network: ['https://api.example.com'] })
  expectTypeOf<keyof EnvOf<typeof manifest>>().toEqualTypeOf<never>()
})
