import { inspect } from 'node:util'
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { _authRequired, _countingDriver, _manualClock } from './_helpers.js'
import {
  AuthenticationRequiredError,
  AuthStore,
  KEYWARD_AUTH_RECORD_CORRUPT,
  KEYWARD_AUTH_REQUIRED,
  scopeMatcher,
} from './index.js'

const rejection = _authRequired

describe('AuthStore: store a token and get it back with a scope', () => {
  it('returns the token for a granted scope and refuses one it lacks, naming the missing scope', async () => {
    const store = new AuthStore({ driver: suiteDriver() })
    await store.setToken('registry', { accessToken: 'tok-1', scopes: 'registry:read' })
    expect(await store.getToken('registry', { scope: 'registry:read' })).toBe('tok-1')
    expect(await store.getToken('registry')).toBe('tok-1')
    const error = await rejection(store.getToken('registry', { scope: 'registry:write' }))
    expect(error).toBeInstanceOf(AuthenticationRequiredError)
    expect(error.code).toBe(KEYWARD_AUTH_REQUIRED)
    expect(error.reason).toBe('insufficient_scope')
    expect(error.missingScopes).toEqual(['registry:write'])
    expect(error.message).toBe('token for registry lacks scope registry:write')
    expect(KeywardError.isInstance(error)).toBe(true)
  })

  it('checks every scope of `scopes`, given as an array or a space/comma string', async () => {
    const store = new AuthStore({ driver: suiteDriver() })
    await store.setToken('gh', { accessToken: 'tok', scopes: ['repo', 'read:org'] })
    expect(await store.getToken('gh', { scopes: ['repo', 'read:org'] })).toBe('tok')
    expect(await store.getToken('gh', { scopes: 'repo,read:org' })).toBe('tok')
    const error = await rejection(store.getToken('gh', { scopes: 'repo admin:org gist' }))
    expect(error.missingScopes).toEqual(['admin:org', 'gist'])
    expect(error.message).toBe('token for gh lacks scopes admin:org, gist')
  })

  it('parses granted scopes separated by spaces and commas', async () => {
    const store = new AuthStore({ driver: suiteDriver() })
    const meta = await store.setToken('gh', { accessToken: 't', scopes: 'repo, read:org  gist' })
    expect(meta.scopes).toEqual(['gist', 'read:org', 'repo'])
  })

  it('uses a host scope matcher: write implies read, repo:* covers repo:admin', async () => {
    const store = new AuthStore({
      driver: suiteDriver(),
      scopeMatcher: scopeMatcher({ implies: { write: ['read'] }, wildcards: true }),
    })
    await store.setToken('svc', { accessToken: 't', scopes: 'write repo:*' })
    expect(await store.getToken('svc', { scope: 'read' })).toBe('t')
    expect(await store.getToken('svc', { scope: 'repo:admin' })).toBe('t')
    expect((await rejection(store.getToken('svc', { scope: 'admin' }))).reason).toBe(
      'insufficient_scope',
    )
  })

  it('throws no_token for an unknown service', async () => {
    const store = new AuthStore({ driver: suiteDriver() })
    const error = await rejection(store.getToken('nope'))
    expect(error.reason).toBe('no_token')
    expect(error.message).toContain('nope')
  })

  it('serves a cached token without touching the driver (hot path)', async () => {
    const { driver, calls } = _countingDriver(suiteDriver())
    const store = new AuthStore({ driver })
    await store.setToken('svc', { accessToken: 't', scopes: 's', expiresIn: 3600 })
    await store.getToken('svc', { scope: 's' })
    const before = { ...calls }
    for (let i = 0; i < 1000; i++) await store.getToken('svc', { scope: 's' })
    expect(calls).toEqual(before)
  })

  it('serves a named account from memory too, and keeps accounts apart', async () => {
    const { driver, calls } = _countingDriver(suiteDriver())
    const store = new AuthStore({ driver })
    await store.setToken('gh', { accessToken: 'a-tok', account: 'alice', scopes: 'repo' })
    await store.setToken('gh', { accessToken: 'b-tok', account: 'bob', scopes: 'gist' })
    const before = { ...calls }
    expect(await store.getToken('gh', { account: 'alice', scope: 'repo' })).toBe('a-tok')
    expect(await store.getToken('gh', { account: 'bob', scope: 'gist' })).toBe('b-tok')
    expect(calls).toEqual(before)
    const error = await rejection(store.getToken('gh', { account: 'bob', scope: 'repo' }))
    expect(error.message).toBe('token for gh (account bob) lacks scope repo')
  })

  it('reads a token another instance stored, and sees later changes after reload()', async () => {
    // A driver without a change feed (with one, PostgreSQL's, b sees the change at once:
    // postgres.test.ts).
    const driver = memoryDriver()
    const a = new AuthStore({ driver })
    const b = new AuthStore({ driver })
    await a.setToken('svc', { accessToken: 'one' })
    expect(await b.getToken('svc')).toBe('one')
    await a.setToken('svc', { accessToken: 'two' })
    expect(await b.getToken('svc')).toBe('one')
    b.reload('svc')
    expect(await b.getToken('svc')).toBe('two')
  })

  it('keeps separate namespaces apart on one driver', async () => {
    const driver = suiteDriver()
    const a = new AuthStore({ driver, namespace: 'app-a' })
    const b = new AuthStore({ driver, namespace: 'app-b' })
    await a.setToken('svc', { accessToken: 'a' })
    expect((await rejection(b.getToken('svc'))).reason).toBe('no_token')
    expect(await driver.list()).toEqual(['app-a/svc/default'])
  })
})

describe('AuthStore: accounts', () => {
  it("uses the service's only account when none is named, and asks for one when there are several", async () => {
    const driver = suiteDriver()
    const store = new AuthStore({ driver })
    await store.setToken('gh', { accessToken: 'alice-tok', account: 'alice' })
    expect(await store.getToken('gh')).toBe('alice-tok')
    expect((await store.getMetadata('gh'))?.account).toBe('alice')
    // setToken without an account replaces the only one.
    await store.setToken('gh', { accessToken: 'alice-tok-2' })
    expect(await store.getToken('gh', { account: 'alice' })).toBe('alice-tok-2')
    await store.setToken('gh', { accessToken: 'bob-tok', account: 'bob' })
    expect(await store.getToken('gh', { account: 'bob' })).toBe('bob-tok')
    expect(await store.getToken('gh', { account: 'alice' })).toBe('alice-tok-2')
    const error = await expectKeywardError(
      new AuthStore({ driver }).getToken('gh'),
      KEYWARD_INVALID_ARGUMENT,
    )
    expect(error.code).toBe(KEYWARD_INVALID_ARGUMENT)
    expect(error.message).toBe(
      'service gh has 2 stored accounts (alice, bob); pass { account } to choose one',
    )
    expect((await store.list()).map((m) => m.account)).toEqual(['alice', 'bob'])
  })

  it('stores service and account names with slashes and unicode under escaped keys', async () => {
    const driver = suiteDriver()
    const store = new AuthStore({ driver })
    await store.setToken('git/hub', { accessToken: 't', account: 'ünï/cødé' })
    expect(await new AuthStore({ driver }).getToken('git/hub')).toBe('t')
    expect((await store.list())[0]).toMatchObject({ service: 'git/hub', account: 'ünï/cødé' })
  })
})

describe('AuthStore: expiry', () => {
  it('serves a token inside the leeway when it cannot refresh, and refuses it once expired', async () => {
    const clock = _manualClock()
    const store = new AuthStore({ driver: suiteDriver(), clock: clock.now })
    await store.setToken('svc', { accessToken: 't', expiresIn: 600 })
    clock.advance(590)
    expect(await store.getToken('svc')).toBe('t')
    clock.advance(10)
    const error = await rejection(store.getToken('svc'))
    expect(error.reason).toBe('expired')
    expect(error.message).toBe('token for svc expired and no refresh token is stored')
    expect(await store.isAuthenticated('svc')).toBe(false)
    expect(await store.getMetadata('svc')).not.toBeNull()
  })

  it('accepts an absolute expiresAt (Date or epoch ms)', async () => {
    const clock = _manualClock()
    const store = new AuthStore({ driver: suiteDriver(), clock: clock.now })
    const at = new Date(clock.now() + 60_000)
    expect((await store.setToken('a', { accessToken: 't', expiresAt: at })).expiresAt).toEqual(at)
    await store.setToken('b', { accessToken: 't', expiresAt: at.getTime() })
    clock.advance(61)
    expect((await rejection(store.getToken('b'))).reason).toBe('expired')
  })

  it('never expires a token stored with neither expiry nor refresh token', async () => {
    const clock = _manualClock()
    const store = new AuthStore({ driver: suiteDriver(), clock: clock.now })
    const meta = await store.setToken('svc', { accessToken: 't' })
    expect(meta).toMatchObject({ expiry: 'none', expiresAt: null })
    clock.advance(10 * 365 * 86_400)
    expect(await store.getToken('svc')).toBe('t')
  })

  it('infers a lifetime for a token with a refresh token but no expiry, and never refuses it for that', async () => {
    const clock = _manualClock()
    const store = new AuthStore({ driver: suiteDriver(), clock: clock.now })
    const meta = await store.setToken('svc', { accessToken: 't', refreshToken: 'r' })
    expect(meta.expiry).toBe('inferred')
    expect(meta.expiresAt?.getTime()).toBe(clock.now() + 3_600_000)
    clock.advance(10 * 3600)
    // No refresher is configured: the inferred expiry must not make the token unusable.
    expect(await store.getToken('svc')).toBe('t')
  })
})

describe('AuthStore: metadata, list, clear, events', () => {
  it('reports scopes, expiry, state, account and backend, never a token', async () => {
    const clock = _manualClock()
    const store = new AuthStore({ driver: memoryDriver(), clock: clock.now })
    await store.setToken('svc', {
      accessToken: 'access-value',
      refreshToken: 'refresh-value',
      expiresIn: 60,
      scopes: 'b a',
      account: 'me',
    })
    const meta = await store.getMetadata('svc')
    expect(meta).toEqual({
      service: 'svc',
      account: 'me',
      scopes: ['a', 'b'],
      tokenType: 'Bearer',
      expiresAt: new Date(clock.now() + 60_000),
      expiry: 'server',
      state: 'valid',
      generation: 1,
      hasRefreshToken: true,
      refreshable: false,
      failures: 0,
      retryAt: null,
      lastError: null,
      backend: { name: 'memory', durability: 'memory' },
    })
    expect(JSON.stringify(meta)).not.toContain('value')
    expect(await store.getMetadata('other')).toBeNull()
  })

  it('clears a token, fires `cleared`, and reports no_token afterwards', async () => {
    const driver = suiteDriver()
    const store = new AuthStore({ driver })
    const events: unknown[] = []
    const off = store.on('cleared', (e) => events.push(e))
    await store.setToken('svc', { accessToken: 't' })
    await store.getToken('svc')
    expect(await store.clearToken('svc')).toBe(true)
    expect(await store.clearToken('svc')).toBe(false)
    expect(events).toEqual([{ service: 'svc', account: 'default' }])
    expect((await rejection(store.getToken('svc'))).reason).toBe('no_token')
    expect(await driver.list()).toEqual([])
    off()
    await store.setToken('svc', { accessToken: 't' })
    await store.clearToken('svc')
    expect(events).toHaveLength(1)
  })

  it('logs and survives a throwing event handler', async () => {
    const store = new AuthStore({ driver: suiteDriver() })
    store.on('cleared', () => {
      throw new Error('handler bug')
    })
    await store.setToken('svc', { accessToken: 't' })
    await expect(store.clearToken('svc')).resolves.toBe(true)
  })

  it('shows only namespace and backend through inspect and JSON', async () => {
    const store = new AuthStore({ driver: memoryDriver() })
    await store.setToken('svc', { accessToken: 'secret-value' })
    expect(inspect(store, { showHidden: true, depth: 10 })).toBe(
      "AuthStore { namespace: 'authstore', backend: 'memory' }",
    )
    expect(JSON.stringify(store)).toBe('{"namespace":"authstore","backend":"memory"}')
  })
})

describe('AuthStore: bad input', () => {
  it('rejects bad options at construction, naming the option', () => {
    const driver = suiteDriver()
    const bad: [unknown, string][] = [
      [{}, '`driver`'],
      [{ driver, namespace: '' }, '`namespace`'],
      [{ driver, refreshers: { svc: 'x' } }, '`refreshers.svc`'],
      [{ driver, leewaySeconds: -1 }, '`leewaySeconds`'],
      [{ driver, inferredLifetimeSeconds: 0 }, '`inferredLifetimeSeconds`'],
      [{ driver, clock: 5 }, '`clock`'],
      [{ driver, scopeMatcher: 'x' }, '`scopeMatcher`'],
      [{ driver, lockTimeoutMs: -5 }, '`lockTimeoutMs`'],
    ]
    for (const [options, name] of bad) {
      expect(() => new AuthStore(options as never)).toThrow(name)
      try {
        new AuthStore(options as never)
      } catch (error) {
        expect((error as KeywardError).code).toBe(KEYWARD_INVALID_ARGUMENT)
      }
    }
  })

  it('rejects bad tokens in setToken with KEYWARD_INVALID_ARGUMENT and stores nothing', async () => {
    const driver = suiteDriver()
    const store = new AuthStore({ driver })
    const bad: unknown[] = [
      null,
      { accessToken: '' },
      { accessToken: 't', refreshToken: 5 },
      { accessToken: 't', expiresIn: Number.NaN },
      { accessToken: 't', expiresIn: 5, expiresAt: 5 },
      { accessToken: 't', expiresAt: new Date('nope') },
      { accessToken: 't', scopes: [1] },
      { accessToken: 't', account: '' },
      { accessToken: 't', tokenType: 7 },
    ]
    for (const input of bad) {
      await expect(store.setToken('svc', input as never)).rejects.toMatchObject({
        code: KEYWARD_INVALID_ARGUMENT,
      })
    }
    await expect(store.setToken('', { accessToken: 't' })).rejects.toMatchObject({
      code: KEYWARD_INVALID_ARGUMENT,
    })
    expect(await driver.list()).toEqual([])
    await expect(store.getToken(42 as never)).rejects.toMatchObject({
      code: KEYWARD_INVALID_ARGUMENT,
    })
    expect(() => store.on('nope' as never, () => {})).toThrow(/unknown event/)
  })

  it('reports a corrupt record with a stable code, without quoting it, and keeps it', async () => {
    const canary = 'CANARY-corrupt-record-0001'
    const driver = suiteDriver()
    const bytes = new TextEncoder().encode(`{"v":1,"accessToken":"${canary}"`)
    await driver.set('authstore/svc/default', bytes)
    const store = new AuthStore({ driver })
    const error = await expectKeywardError(store.getToken('svc'), KEYWARD_AUTH_RECORD_CORRUPT)
    expect(error.code).toBe(KEYWARD_AUTH_RECORD_CORRUPT)
    expect(error.cause).toBeUndefined()
    expect(`${error.message}${inspect(error)}${JSON.stringify(error)}`).not.toContain(canary)
    expect((await driver.get('authstore/svc/default'))?.value).toEqual(bytes)
    expect(await store.list()).toEqual([])
    // An explicit setToken replaces it.
    await store.setToken('svc', { accessToken: 'fresh' })
    expect(await store.getToken('svc')).toBe('fresh')
  })
})
