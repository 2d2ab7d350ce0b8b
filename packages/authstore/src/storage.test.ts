import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { afterAll, describe, expect, it } from 'vitest'
import { keyringTestEnv } from '../../../test/_keyring.js'
import { _manualClock } from './_helpers.js'
import { _httpRefresher, _startTokenServer } from './_token-server.js'
import { AuthStore, type StorageFallback, selectDriver } from './index.js'

const keyring = (await keyringTestEnv({ what: 'authstore keyring' })).available
const service = `keyward-authstore-test-${randomUUID()}`
const stores: AuthStore[] = []
const dir = await mkdtemp(join(tmpdir(), 'keyward-authstore-storage-'))

afterAll(async () => {
  for (const store of stores)
    for (const meta of await store.list())
      await store.clearToken(meta.service, { account: meta.account })
  // Leave nothing behind in the keyring: the token files' key entry.
  if (keyring) {
    const { findCredentials, AsyncEntry } = await import('@napi-rs/keyring')
    for (const { account } of findCredentials(service))
      await new AsyncEntry(service, account).deletePassword()
  }
  await rm(dir, { recursive: true, force: true })
})

describe('selectDriver: options', () => {
  it("uses the configured fallback with keyring: 'off', without probing", async () => {
    const fallback = memoryDriver()
    expect(await selectDriver({ keyring: 'off', fallback })).toBe(fallback)
    expect(await selectDriver({ keyring: 'off', fallback: () => fallback })).toBe(fallback)
  })

  it('rejects bad options eagerly, naming them', async () => {
    await expect(selectDriver({ keyring: 'maybe' as never })).rejects.toMatchObject({
      code: KEYWARD_INVALID_ARGUMENT,
      message: expect.stringContaining('`keyring`'),
    })
    await expect(selectDriver({ keyring: 'off' })).rejects.toThrow('`fallback`')
    await expect(selectDriver({ fallback: 5 as never })).rejects.toThrow('`fallback`')
  })
})

describe.skipIf(!keyring)('storage on the real OS keyring (Secret Service)', () => {
  // The default composition changed deliberately (issue 10): records live in the encrypted
  // token file and only its key in the keyring, so these two tests now expect the file driver.
  it('prefers the keyring where its probe succeeds (for the key), and reports the backend in metadata', async () => {
    const fallback = memoryDriver()
    const heard: StorageFallback[] = []
    const path = join(dir, 'prefer', 'tokens.kw')
    const driver = await selectDriver({
      service,
      path,
      fallback,
      env: {},
      onFallback: (i) => heard.push(i),
    })
    expect(driver.name).toBe('file')
    expect(heard).toEqual([])
    const store = new AuthStore({ driver })
    stores.push(store)
    const meta = await store.setToken('registry', {
      accessToken: 'kr-token',
      scopes: 'registry:read',
    })
    expect(meta.backend).toEqual({ name: 'file', durability: 'durable' })
    // A second instance (a new process would do the same) reads it back with the keyring's key.
    const again = new AuthStore({
      driver: await selectDriver({ service, path, keyring: 'require' }),
    })
    expect(await again.getToken('registry', { scope: 'registry:read' })).toBe('kr-token')
  })

  it('refreshes once through the token file lock, with a rotating refresh token', async () => {
    const server = await _startTokenServer()
    try {
      const clock = _manualClock()
      const path = join(dir, 'refresh', 'tokens.kw')
      const refreshers = { api: _httpRefresher(server.url, clock.now) }
      const driver = await selectDriver({ service, path, keyring: 'require' })
      const a = new AuthStore({ driver, refreshers, clock: clock.now, namespace: 'kr-refresh' })
      const b = new AuthStore({
        driver: await selectDriver({ service, path, keyring: 'require' }),
        refreshers,
        clock: clock.now,
        namespace: 'kr-refresh',
      })
      stores.push(a)
      await a.setToken('api', { ...server.issue('x'), expiresIn: 600, scopes: 'x' })
      await b.getToken('api')
      clock.advance(3600)
      const tokens = await Promise.all(
        Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).getToken('api', { scope: 'x' })),
      )
      expect(server.refreshes).toBe(1)
      expect(server.invalidGrants).toBe(0)
      expect(new Set(tokens).size).toBe(1)
      expect(server.isCurrent(tokens[0]!)).toBe(true)
    } finally {
      await server.close()
    }
  })

  it('regression: a 3.7 KB Microsoft-sized token set signs in through the default composition; the keychain holds only the key', async () => {
    const path = join(dir, 'large', 'tokens.kw')
    const store = new AuthStore({ driver: await selectDriver({ service, path, env: {} }) })
    stores.push(store)
    await store.ready()
    const large = {
      accessToken: `eyJ0eXAiOiJKV1Qi.${'A'.repeat(2400)}.sig`,
      refreshToken: `0.AXEA${'B'.repeat(1200)}`,
      expiresIn: 3600,
      scopes: 'openid profile offline_access https://graph.microsoft.com/User.Read',
    }
    expect(JSON.stringify(large).length).toBeGreaterThan(3700)
    await store.setToken('microsoft', large)
    const reader = new AuthStore({ driver: await selectDriver({ service, path, env: {} }) })
    expect(
      await reader.getToken('microsoft', {
        scope: 'https://graph.microsoft.com/User.Read',
      }),
    ).toBe(large.accessToken)
    const { findCredentials } = await import('@napi-rs/keyring')
    const entries = findCredentials(service).filter((e) => !e.account.startsWith('probe-'))
    expect(entries.map((e) => e.account)).toEqual(['tokens-key'])
    expect(entries[0]!.password.length).toBeLessThan(100)
  })
})

describe('storage without a keyring', () => {
  const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))
  const script = `
    import { selectDriver } from '@keyward/authstore'
    import { memoryDriver } from '@keyward/core/drivers/memory'
    const out = {}
    try { await selectDriver({ keyring: 'require' }) } catch (e) { out.require = e.code }
    try { await selectDriver({}) } catch (e) { out.noFallback = e.code }
    const heard = []
    const d = await selectDriver({ fallback: memoryDriver(), onFallback: (i) => heard.push(i) })
    out.fallback = d.name
    out.heard = heard
    console.log(JSON.stringify(out))
  `

  it('is an error when required, an error without a fallback, and a reported fallback when preferred', () => {
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npx turbo run build\` first`)
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' }
    // No session bus: the Secret Service cannot be reached.
    env.DBUS_SESSION_BUS_ADDRESS = 'unix:path=/nonexistent/keyward-test-bus'
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env,
      encoding: 'utf8',
      timeout: 30_000,
    })
    expect(run.stderr).toBe('')
    const out = JSON.parse(run.stdout)
    expect(out.require).toMatch(/^KEYWARD_KEYRING_/)
    expect(out.noFallback).toMatch(/^KEYWARD_KEYRING_/)
    expect(out.fallback).toBe('memory')
    expect(out.heard).toHaveLength(1)
    expect(out.heard[0]).toMatchObject({ fallback: { name: 'memory', durability: 'memory' } })
    expect(KeywardError.isInstance(new KeywardError(out.require, 'x'))).toBe(true)
  })
})
