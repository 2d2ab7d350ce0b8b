import { describe, expectTypeOf, it } from 'vitest'
import * as templating from './index.js'
import {
  createRedactor,
  type LocatedReference,
  lintTemplate,
  parseReferences,
  type Redactor,
  type RedactorOptions,
  type Reference,
  type ReferenceOptions,
  type Resolution,
  type Resolver,
  type SubstituteOptions,
  substitute,
  type TemplatingErrorCode,
} from './index.js'

declare const resolver: Resolver

describe('public API types', () => {
  it('substitute returns the shape it was given', () => {
    expectTypeOf(substitute('x', resolver)).toEqualTypeOf<Promise<string>>()
    const request = { url: 'https://x.test', headers: { authorization: 'Bearer ${secret.t}' } }
    expectTypeOf(substitute(request, resolver)).toEqualTypeOf<Promise<typeof request>>()
    expectTypeOf(substitute(['a'] as const, resolver)).toEqualTypeOf<Promise<readonly ['a']>>()
  })

  it('resolvers answer values, template values or errors, keyed by raw text', () => {
    expectTypeOf<Resolver>().parameter(0).toEqualTypeOf<readonly Reference[]>()
    expectTypeOf<Resolver>().returns.toEqualTypeOf<Promise<ReadonlyMap<string, Resolution>>>()
    expectTypeOf<'v'>().toExtend<Resolution>()
    expectTypeOf<{ value: 'v'; template: true }>().toExtend<Resolution>()
    expectTypeOf<{ error: 'denied' }>().toExtend<Resolution>()
    expectTypeOf<{ error: 'cycle' }>().not.toExtend<Resolution>()
  })

  it('parses and lints', () => {
    expectTypeOf(parseReferences('x')).toEqualTypeOf<Reference[]>()
    expectTypeOf(lintTemplate({}).references).toEqualTypeOf<readonly LocatedReference[]>()
    expectTypeOf<Reference['field']>().toEqualTypeOf<string | undefined>()
  })

  it('options name every optional field (see options.test.ts for exactOptionalPropertyTypes)', () => {
    const maybe = <T>(value: T): T | undefined => value
    const options: SubstituteOptions = {
      namespaces: maybe(['secret']),
      encoding: maybe('json'),
      maxDepth: maybe(4),
      redactor: maybe(createRedactor()),
      allowUnmasked: maybe(['${secret.pin}']),
    }
    expectTypeOf(options).toExtend<ReferenceOptions>()
    const redactorOptions: RedactorOptions = {
      minLength: maybe(8),
      encoders: maybe(['json']),
      denylist: maybe([]),
      logger: maybe(console),
    }
    expectTypeOf(createRedactor([], redactorOptions)).toEqualTypeOf<Redactor>()
    expectTypeOf(substitute('x', resolver, undefined)).toEqualTypeOf<Promise<string>>()
  })

  it('a redactor tells what it would not mask; substitute takes any object with add', () => {
    expectTypeOf<Redactor['check']>().returns.toEqualTypeOf<'too_short' | 'common' | undefined>()
    expectTypeOf<{ add(entry: { value: string; label: string }): void }>().toExtend<
      NonNullable<SubstituteOptions['redactor']>
    >()
  })

  it('error codes are string literals', () => {
    expectTypeOf<
      typeof templating.KEYWARD_VALUE_UNMASKABLE
    >().toEqualTypeOf<'KEYWARD_VALUE_UNMASKABLE'>()
    expectTypeOf<'KEYWARD_TEMPLATE_TOO_DEEP'>().toExtend<TemplatingErrorCode>()
  })

  it('exports nothing internal', () => {
    expectTypeOf(templating).not.toHaveProperty('Registry')
    expectTypeOf(templating).not.toHaveProperty('scan')
    expectTypeOf(templating).not.toHaveProperty('_Registry')
    expectTypeOf(templating).not.toHaveProperty('_scan')
    expectTypeOf(templating).not.toHaveProperty('_walkStrings')
  })
})
