// Regression: AuthStore stored a refresher's `oauthError` unfiltered. A provider that echoes a
// token in its `error` field (and a refresher passing the field through, as docs/authstore.md
// once showed) put the token in metadata, events, log lines and error messages.
import { inspect } from 'node:util'
import { expectNoLeak, recordingLogger } from '@keyward/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { _manualClock, _refreshingStore } from './_helpers.js'
import { _httpRefresher, _startTokenServer, type TokenServer } from './_token-server.js'
import { AuthStore, RefreshError } from './index.js'

let server: TokenServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('only known OAuth error codes reach records, events, logs and messages', () => {
  for (const [status, state] of [
    [400, 'reauth_required'],
    [503, 'degraded'],
  ] as const) {
    it(`a provider echoing the refresh token in \`error\` (${status}): stored as unrecognized_error, the canary appears nowhere`, async () => {
      server = await _startTokenServer()
      const clock = _manualClock()
      const logger = recordingLogger()
      const store = new AuthStore({
        driver: suiteDriver(),
        clock: clock.now,
        logger,
        refreshers: { svc: _httpRefresher(server.url, clock.now) },
      })
      const grant = server.issue('read')
      const canary = grant.refreshToken
      const seen: unknown[] = []
      for (const event of ['refreshed', 'degraded', 'reauthRequired', 'cleared'] as const)
        store.on(event, (payload) => seen.push(payload))
      await store.setToken('svc', { ...grant, expiresIn: 600, scopes: 'read' })
      server.echoRefreshToken(status)
      clock.advance(700)
      seen.push(await store.getToken('svc').catch((error: unknown) => error))
      seen.push(await store.getToken('svc').catch((error: unknown) => error))
      const meta = await store.getMetadata('svc')
      seen.push(meta, await store.list())
      expect(server.failures).toBeGreaterThan(0)
      expect(meta).toMatchObject({ state, lastError: 'unrecognized_error' })
      expect(`${inspect(seen, { depth: 10 })}${logger.text()}`).toContain('unrecognized_error')
      for (const value of [...seen, logger.text()]) expectNoLeak(value, [canary])
    })
  }

  it('a known code passes through unchanged', async () => {
    const { clock, store } = _refreshingStore(async () => {
      throw new RefreshError('refused', { transient: false, oauthError: 'invalid_grant' })
    })
    await store.setToken('svc', { accessToken: 'a', refreshToken: 'r', expiresIn: 60 })
    clock.advance(61)
    await store.getToken('svc').catch(() => {})
    expect(await store.getMetadata('svc')).toMatchObject({
      state: 'reauth_required',
      lastError: 'invalid_grant',
    })
  })
})
