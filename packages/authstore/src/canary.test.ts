import { inspect } from 'node:util'
import { expectNoLeak, recordingLogger } from '@keyward/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { _manualClock } from './_helpers.js'
import { _httpRefresher, _startTokenServer, type TokenServer } from './_token-server.js'
import { AuthStore, RefreshError } from './index.js'

const ACCESS = 'CANARY-access-5d41402abc4b2a76'
const REFRESH = 'CANARY-refresh-7d793037a0760186'

/** The text forms the positive checks search (what leaks is checked by expectNoLeak). */
function shown(value: unknown): string {
  return inspect(value, { depth: 10, showHidden: true })
}

let server: TokenServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('canary tokens never leak', () => {
  it('not into errors, events, log lines, metadata, list, inspect or JSON, across every failure path', async () => {
    server = await _startTokenServer()
    const clock = _manualClock()
    const logger = recordingLogger()
    const driver = suiteDriver()
    const http = _httpRefresher(server.url, clock.now)
    let mode: 'ok' | 'transient' | 'plain' | 'http' = 'transient'
    const store = new AuthStore({
      driver,
      clock: clock.now,
      logger,
      refreshers: {
        svc: async (current) => {
          if (mode === 'transient')
            throw new RefreshError('token endpoint answered 503', {
              transient: true,
              oauthError: 'temporarily_unavailable',
            })
          if (mode === 'plain') throw new TypeError('fetch failed')
          if (mode === 'http') return http(current)
          return { accessToken: `${ACCESS}-2`, expiresIn: 600 }
        },
      },
    })
    const seen: unknown[] = []
    for (const event of ['refreshed', 'degraded', 'reauthRequired', 'cleared'] as const)
      store.on(event, (payload) => seen.push(payload))
    const capture = async (promise: Promise<unknown>) => {
      try {
        seen.push(await promise)
      } catch (error) {
        seen.push(error)
      }
    }

    await store.setToken('svc', {
      accessToken: ACCESS,
      refreshToken: REFRESH,
      expiresIn: 600,
      scopes: 'read',
    })
    await capture(store.getToken('svc', { scope: 'write' })) // insufficient_scope
    clock.advance(550)
    await capture(store.getToken('svc')) // degraded (transient), token served: not captured as output
    seen.pop()
    clock.advance(300)
    await capture(store.getToken('svc')) // expired while degraded
    mode = 'plain'
    clock.advance(60)
    await capture(store.getToken('svc')) // non-RefreshError failure
    mode = 'ok'
    clock.advance(120)
    await store.getToken('svc') // refreshed
    await capture(store.getMetadata('svc'))
    await capture(store.list())
    seen.push(store)
    mode = 'http'
    clock.advance(3600)
    await capture(store.getToken('svc')) // invalid_grant: the canary refresh token is unknown to the server
    await capture(store.getToken('svc')) // reauth_required from the stored state
    await capture(store.isAuthenticated('svc'))
    await capture(store.clearToken('svc'))
    await capture(store.getToken('svc')) // no_token

    const everything = [...seen.map(shown), logger.text()].join('\n')
    expect(everything).toContain('insufficient_scope')
    expect(everything).toContain('reauth_required')
    expect(everything).toContain('temporarily_unavailable')
    expect(logger.lines.length).toBeGreaterThan(3)
    for (const value of [...seen, logger.text()]) expectNoLeak(value, ['CANARY'])
  })
})
