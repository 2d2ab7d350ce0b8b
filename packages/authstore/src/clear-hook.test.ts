import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import {
  type Driver,
  envKey,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_LOCK_REENTRANT,
  KEYWARD_LOCK_TIMEOUT,
  KeywardError,
} from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { expectKeywardError, recordingLogger } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { _manualClock } from './_helpers.js'
import { AuthStore, type ClearContext } from './index.js'

const CANARY_ACCESS = 'at-canary-5d1e0c7a'
const CANARY_REFRESH = 'rt-canary-9b3f2e61'

function recordingHook() {
  const calls: { context: ClearContext; storedAtCall: boolean }[] = []
  let driver: Driver | undefined
  return {
    calls,
    attach(d: Driver) {
      driver = d
    },
    hook: async (context: ClearContext) => {
      const keys = await driver?.list()
      calls.push({ context, storedAtCall: (keys ?? []).length > 0 })
    },
  }
}

describe('AuthStore onClear hook', () => {
  it('runs after the local delete with the tokens the record held; the `cleared` event carries none', async () => {
    const driver = suiteDriver()
    const recorder = recordingHook()
    recorder.attach(driver)
    const logger = recordingLogger()
    const store = new AuthStore({ driver, onClear: recorder.hook, logger })
    await store.setToken('github', {
      accessToken: CANARY_ACCESS,
      refreshToken: CANARY_REFRESH,
      expiresIn: 3600,
      scopes: 'repo',
      account: 'octocat',
    })
    const events: unknown[] = []
    store.on('cleared', (event) => events.push(event))

    expect(await store.clearToken('github')).toBe(true)
    expect(recorder.calls).toEqual([
      {
        context: {
          service: 'github',
          account: 'octocat',
          tokens: { accessToken: CANARY_ACCESS, refreshToken: CANARY_REFRESH, tokenType: 'Bearer' },
        },
        storedAtCall: false,
      },
    ])
    expect(events).toEqual([{ service: 'github', account: 'octocat' }])
    const observable = `${JSON.stringify(events)}${inspect(events)}${logger.text()}`
    for (const secret of [CANARY_ACCESS, CANARY_REFRESH]) expect(observable).not.toContain(secret)

    // Nothing stored: no hook call, no event.
    expect(await store.clearToken('github')).toBe(false)
    expect(recorder.calls).toHaveLength(1)
    expect(events).toHaveLength(1)
  })

  it('a token without a refresh token reaches the hook without one', async () => {
    const contexts: ClearContext[] = []
    const store = new AuthStore({
      driver: suiteDriver(),
      onClear: (context) => {
        contexts.push(context)
      },
    })
    await store.setToken('slack', { accessToken: CANARY_ACCESS, tokenType: 'user' })
    await store.clearToken('slack')
    expect(contexts).toEqual([
      {
        service: 'slack',
        account: 'default',
        tokens: { accessToken: CANARY_ACCESS, tokenType: 'user' },
      },
    ])
    expect('refreshToken' in (contexts[0]?.tokens ?? {})).toBe(false)
  })

  it('a per-service hook runs only for its service', async () => {
    const seen: string[] = []
    const store = new AuthStore({
      driver: suiteDriver(),
      onClear: { github: ({ service }) => void seen.push(service) },
    })
    await store.setToken('github', { accessToken: 'a' })
    await store.setToken('gitlab', { accessToken: 'b' })
    expect(await store.clearToken('gitlab')).toBe(true)
    expect(await store.clearToken('github')).toBe(true)
    expect(seen).toEqual(['github'])
  })

  for (const [name, hook] of [
    [
      'throws',
      () => {
        throw new Error(`revocation of ${CANARY_REFRESH} failed`)
      },
    ],
    ['rejects', async () => Promise.reject(new TypeError(`bad token ${CANARY_ACCESS}`))],
    ['rejects with a non-error', async () => Promise.reject(CANARY_REFRESH)],
  ] as const) {
    it(`a hook that ${name} is logged without its message and the token stays deleted`, async () => {
      const driver = suiteDriver()
      const logger = recordingLogger()
      const store = new AuthStore({ driver, onClear: hook, logger })
      await store.setToken('svc', {
        accessToken: CANARY_ACCESS,
        refreshToken: CANARY_REFRESH,
        expiresIn: 60,
      })
      await expect(store.clearToken('svc')).resolves.toBe(true)
      expect(await driver.list()).toEqual([])
      expect(await store.getMetadata('svc')).toBeNull()
      const warning = logger.lines.find((line) => line.text.includes('clear hook failed'))?.text
      expect(warning).toBeDefined()
      expect(warning).toContain('"service":"svc"')
      for (const secret of [CANARY_ACCESS, CANARY_REFRESH])
        expect(logger.text()).not.toContain(secret)
    })
  }

  it('hands the hook the pair another store instance refreshed last, not this instance’s stale copy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyward-authstore-clear-'))
    const env = { KW_CLEAR_TEST_KEY: randomBytes(32).toString('base64') }
    const open = () =>
      fileDriver({ path: join(dir, 'tokens.kw'), key: envKey('KW_CLEAR_TEST_KEY', { env }) })
    const driverA = open()
    const driverB = open()
    try {
      const clock = _manualClock()
      const contexts: ClearContext[] = []
      const a = new AuthStore({
        driver: driverA,
        clock: clock.now,
        onClear: (context) => void contexts.push(context),
      })
      const b = new AuthStore({
        driver: driverB,
        clock: clock.now,
        refreshers: {
          api: async () => ({ accessToken: 'at-2', refreshToken: 'rt-2', expiresIn: 3600 }),
        },
      })
      await a.setToken('api', { accessToken: 'at-1', refreshToken: 'rt-1', expiresIn: 3600 })
      expect(await a.getToken('api')).toBe('at-1') // cached in a
      clock.advance(3600)
      expect(await b.getToken('api')).toBe('at-2') // b rotated the pair through the file
      expect(await a.clearToken('api')).toBe(true)
      expect(contexts.map((c) => c.tokens)).toEqual([
        { accessToken: 'at-2', refreshToken: 'rt-2', tokenType: 'Bearer' },
      ])
      b.reload()
      expect(await b.isAuthenticated('api')).toBe(false)
    } finally {
      await driverA.close?.()
      await driverB.close?.()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('when the record lock cannot be had, clearToken still deletes and runs the hook', async () => {
    const inner = suiteDriver()
    const driver: Driver = {
      ...inner,
      name: inner.name,
      durability: inner.durability,
      get: (key) => inner.get(key),
      set: (key, value, options) => inner.set(key, value, options),
      delete: (key, options) => inner.delete(key, options),
      list: (prefix) => inner.list(prefix),
      withLock: async () => {
        throw new KeywardError(KEYWARD_LOCK_TIMEOUT, 'lock busy')
      },
    }
    const logger = recordingLogger()
    const seen: string[] = []
    const store = new AuthStore({
      driver,
      logger,
      onClear: ({ tokens }) => void seen.push(tokens.accessToken),
    })
    await store.setToken('svc', { accessToken: 'at-x' })
    expect(await store.clearToken('svc')).toBe(true)
    expect(await inner.list()).toEqual([])
    expect(seen).toEqual(['at-x'])
    expect(logger.lines.some((l) => l.text.includes('clearing without the record lock'))).toBe(true)
  })

  it('refuses a malformed onClear option, naming it', async () => {
    for (const onClear of [42, 'revoke', null, { github: 'nope' }]) {
      const error = await expectKeywardError(
        () => new AuthStore({ driver: suiteDriver(), onClear: onClear as never }),
        KEYWARD_INVALID_ARGUMENT,
      )
      expect(error.message).toMatch(/onClear/)
    }
  })
})

describe('AuthStore clearToken beforeDelete', () => {
  it('runs before the delete, under the record lock, with the tokens; its failure never prevents the delete', async () => {
    const driver = suiteDriver()
    const logger = recordingLogger()
    const store = new AuthStore({ driver, logger })
    await store.setToken('acme', {
      accessToken: CANARY_ACCESS,
      refreshToken: CANARY_REFRESH,
      account: 'user-1',
    })
    const seen: { stored: boolean; refreshToken: string | undefined; locked: boolean }[] = []
    const cleared = await store.clearToken('acme', {
      account: 'user-1',
      beforeDelete: async ({ tokens }) => {
        // The lock is held: taking it again from here would be re-entrant.
        const locked = await driver
          .withLock('authstore/acme/user-1', async () => false, { timeoutMs: 50 })
          .catch((error: KeywardError) =>
            [KEYWARD_LOCK_REENTRANT, KEYWARD_LOCK_TIMEOUT].includes(error.code),
          )
        seen.push({
          stored: (await driver.list('authstore/acme/')).length > 0,
          refreshToken: tokens.refreshToken,
          locked,
        })
        throw new Error('revocation endpoint down')
      },
    })
    expect(cleared).toBe(true)
    expect(seen).toEqual([{ stored: true, refreshToken: CANARY_REFRESH, locked: true }])
    expect(await driver.list('authstore/acme/')).toEqual([])
    expect(logger.lines.some((line) => line.message.includes('clear hook failed'))).toBe(true)
    await expect(store.clearToken('acme', { beforeDelete: 'no' as never })).rejects.toMatchObject({
      code: KEYWARD_INVALID_ARGUMENT,
    })
  })
})
