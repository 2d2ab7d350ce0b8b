import { KEYWARD_INVALID_ARGUMENT } from '@keyward/core'
import { expectKeywardError, testDriver } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { AuthStore, componentDriver } from './index.js'

const bytes = (text: string) => new TextEncoder().encode(text)

describe('componentDriver', () => {
  // The view is a driver like any other: it passes the conformance suite.
  testDriver({
    name: 'componentDriver(memory)',
    create: () => componentDriver(new AuthStore({ driver: suiteDriver() }), 'conformance'),
    setMany: true,
  })

  it('never shows token records, and records never see component data', async () => {
    const driver = suiteDriver()
    const store = new AuthStore({ driver })
    await store.setToken('svc', { accessToken: 'tok_component_test', account: 'a' })
    const mine = componentDriver(store, 'mcp')
    await mine.set('svc/a', bytes('{"x":1}'))
    expect(await mine.list()).toEqual(['svc/a'])
    expect((await store.list()).map((m) => m.service)).toEqual(['svc'])
    expect(await store.getToken('svc')).toBe('tok_component_test')
    // The raw keys: the record under `authstore/`, the component's under another prefix.
    const keys = await driver.list()
    expect(keys.filter((k) => k.startsWith('authstore/'))).toEqual(['authstore/svc/a'])
    expect(keys.filter((k) => !k.startsWith('authstore/'))).toHaveLength(1)
  })

  it('keeps components, and namespaces that look alike, apart', async () => {
    const driver = suiteDriver()
    const a = componentDriver(new AuthStore({ driver, namespace: 'ns' }), 'c')
    const b = componentDriver(new AuthStore({ driver, namespace: 'ns%!c' }), 'c')
    const c = componentDriver(new AuthStore({ driver, namespace: 'ns' }), 'c/d')
    const d = componentDriver(new AuthStore({ driver, namespace: 'ns/x' }), 'c')
    await a.set('k', bytes('a'))
    await b.set('k', bytes('b'))
    await c.set('k', bytes('c'))
    await d.set('k', bytes('d'))
    for (const [view, value] of [
      [a, 'a'],
      [b, 'b'],
      [c, 'c'],
      [d, 'd'],
    ] as const) {
      expect(await view.list()).toEqual(['k'])
      expect(new TextDecoder().decode((await view.get('k'))?.value)).toBe(value)
    }
  })

  it('refuses what is not an AuthStore and a bad component name', async () => {
    const store = new AuthStore({ driver: suiteDriver() })
    await expectKeywardError(
      (async () => componentDriver({} as AuthStore, 'x'))(),
      KEYWARD_INVALID_ARGUMENT,
    )
    await expectKeywardError((async () => componentDriver(store, ''))(), KEYWARD_INVALID_ARGUMENT)
  })
})

describe('setToken keepRefreshToken', () => {
  it('keeps the stored refresh token when the new token set has none', async () => {
    const store = new AuthStore({
      driver: suiteDriver(),
      refreshers: { svc: async () => ({ accessToken: 'tok_after_refresh' }) },
    })
    await store.setToken('svc', { accessToken: 'tok_one', refreshToken: 'rt_one', expiresIn: 3600 })
    await store.setToken('svc', { accessToken: 'tok_two', expiresIn: 3600, keepRefreshToken: true })
    expect((await store.getMetadata('svc'))?.hasRefreshToken).toBe(true)
    await store.setToken('svc', { accessToken: 'tok_three', expiresIn: 3600 })
    expect((await store.getMetadata('svc'))?.hasRefreshToken).toBe(false)
  })

  it('refuses a keepRefreshToken that is not a boolean', async () => {
    const store = new AuthStore({ driver: suiteDriver() })
    await expectKeywardError(
      store.setToken('svc', { accessToken: 't', keepRefreshToken: 'yes' as never }),
      KEYWARD_INVALID_ARGUMENT,
    )
  })
})
