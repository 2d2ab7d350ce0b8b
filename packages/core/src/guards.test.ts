import { describe, expect, it } from 'vitest'
import type { Driver } from './contracts.js'
import { memoryDriver } from './drivers/memory.js'
import { KEYWARD_INVALID_ARGUMENT } from './errors.js'
import { assertOptions, isDriver } from './guards.js'
import { expectKeywardError } from './test-kit.js'

const CANARY = 'canary-guards-0b7c-do-not-leak'

describe('isDriver', () => {
  it('accepts a driver, and a plain object that has the shape', () => {
    const inner = memoryDriver()
    expect(isDriver(inner)).toBe(true)
    const wrapped: Driver = {
      name: 'wrapped',
      durability: 'memory',
      get: (k) => inner.get(k),
      set: (k, v, o) => inner.set(k, v, o),
      delete: (k, o) => inner.delete(k, o),
      list: (p) => inner.list(p),
      withLock: (k, f, o) => inner.withLock(k, f, o),
    }
    expect(isDriver(wrapped)).toBe(true)
  })

  it.each([
    ['null', null],
    ['a function', () => undefined],
    ['half a driver', { name: 'x', durability: 'memory', get() {}, withLock() {} }],
    ['no name', { ...memoryDriver(), name: undefined }],
    ['an unknown durability', { ...memoryDriver(), durability: 'forever' }],
    ['a method that is not a function', { ...memoryDriver(), delete: true }],
  ])('refuses %s', (_what, value) => {
    expect(isDriver(value)).toBe(false)
  })
})

interface ThingOptions {
  readonly driver?: Driver | undefined
  readonly name?: string | undefined
  readonly timeoutMs?: number | undefined
  readonly onEvent?: (() => void) | undefined
}

describe('assertOptions', () => {
  it('passes an object whose checked fields are of their kind or undefined', () => {
    const options: ThingOptions = { driver: memoryDriver(), name: 'n', timeoutMs: undefined }
    assertOptions(options, 'openThing', {
      driver: 'driver',
      name: 'non-empty string',
      timeoutMs: 'positive integer',
    })
    assertOptions({}, 'openThing', { name: 'string' })
  })

  it.each([null, undefined, 'string', 3, ['array']])(
    'refuses %j as the options object, naming the function',
    async (value) => {
      const error = await expectKeywardError(
        () => assertOptions(value, 'openThing'),
        KEYWARD_INVALID_ARGUMENT,
      )
      expect(error.message).toBe('openThing needs an options object')
      expect(error.details).toEqual({ caller: 'openThing' })
    },
  )

  it.each([
    ['driver', { driver: { get() {} } }, 'a @keyward/core Driver'],
    ['name', { name: '' }, 'a non-empty string'],
    ['timeoutMs', { timeoutMs: 1.5 }, 'a positive integer'],
    ['timeoutMs', { timeoutMs: 0 }, 'a positive integer'],
    ['onEvent', { onEvent: CANARY }, 'a function'],
  ] as const)('names the option `%s` at fault, never its value', async (option, options, kind) => {
    const error = await expectKeywardError(
      () =>
        assertOptions(options as ThingOptions, 'openThing', {
          driver: 'driver',
          name: 'non-empty string',
          timeoutMs: 'positive integer',
          onEvent: 'function',
        }),
      KEYWARD_INVALID_ARGUMENT,
    )
    expect(error.message).toBe(`openThing: option \`${option}\` must be ${kind}`)
    expect(error.details).toEqual({ caller: 'openThing', option })
    expect(JSON.stringify(error)).not.toContain(CANARY)
  })

  it('refuses a required option that is missing', async () => {
    const error = await expectKeywardError(
      () =>
        assertOptions({} as ThingOptions, 'openThing', {
          driver: { kind: 'driver', required: true },
        }),
      KEYWARD_INVALID_ARGUMENT,
    )
    expect(error.message).toBe(
      'openThing: option `driver` is required and must be a @keyward/core Driver',
    )
  })

  it('checks the remaining kinds', async () => {
    const kinds = {
      s: 'string',
      b: 'boolean',
      o: 'object',
      n: 'non-negative integer',
      l: 'logger',
      a: 'abort signal',
    } as const
    assertOptions(
      { s: '', b: false, o: {}, n: 0, l: console, a: new AbortController().signal },
      'f',
      kinds,
    )
    for (const bad of [
      { s: 1 },
      { b: 'yes' },
      { o: [] },
      { n: -1 },
      { l: { debug() {} } },
      { a: {} },
    ])
      await expectKeywardError(() => assertOptions(bad, 'f', kinds), KEYWARD_INVALID_ARGUMENT)
  })
})
