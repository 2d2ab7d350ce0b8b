// Tokens callers can use safely: getTokenInfo, invalidate after a 401, authorizedFetch, an
// AbortSignal on every wait, an active account per service, and a refresher added to an existing
// store — against the real test token server and its protected resource.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { KEYWARD_INVALID_ARGUMENT } from '@keyward/core'
import { expectKeywardError, expectNoLeak } from '@keyward/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { _manualClock } from './_helpers.js'
import { _httpRefresher, _startTokenServer, type TokenServer } from './_token-server.js'
import {
  type AuthenticationRequiredError,
  AuthStore,
  KEYWARD_AUTH_FETCH_FAILED,
  KEYWARD_AUTH_REQUIRED,
  type Refresher,
} from './index.js'

let server: TokenServer | undefined
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await server?.close()
  server = undefined
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

async function setup() {
  server = await _startTokenServer()
  const clock = _manualClock()
  const driver = suiteDriver()
  const refreshers = { api: _httpRefresher(server.url, clock.now) }
  const store = new AuthStore({ driver, refreshers, clock: clock.now })
  const grant = server.issue('read write')
  await store.setToken('api', { ...grant, expiresIn: 3600, scopes: 'read write', account: 'me' })
  return { server, clock, driver, refreshers, store, grant }
}

/** Another origin (another port) that records the authorization headers it receives. */
async function otherOrigin() {
  const seen: (string | null)[] = []
  const other = createServer((request, response) => {
    seen.push(request.headers.authorization ?? null)
    response.writeHead(200).end('elsewhere')
  })
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise<void>((resolve) => other.close(() => resolve())))
  return { url: `http://127.0.0.1:${(other.address() as AddressInfo).port}/`, seen }
}

describe('getTokenInfo', () => {
  it('returns the token with its type, the provider expiry, scopes and account', async () => {
    const { store, grant, clock } = await setup()
    expect(await store.getTokenInfo('api', { scope: 'write' })).toEqual({
      accessToken: grant.accessToken,
      tokenType: 'Bearer',
      expiresAt: new Date(clock.now() + 3600_000),
      scopes: ['read', 'write'],
      account: 'me',
    })
    await store.setToken('other', { accessToken: 't', refreshToken: 'r' })
    // An inferred expiry is not the provider's: reported as unknown.
    expect((await store.getTokenInfo('other')).expiresAt).toBeNull()
  })

  it('accepts scope as an array (core TokenRequest) and refuses what is missing', async () => {
    const { store } = await setup()
    expect((await store.getTokenInfo('api', { scope: ['read', 'write'] })).account).toBe('me')
    const error = (await expectKeywardError(
      store.getToken('api', { scope: ['read', 'admin'] }),
      KEYWARD_AUTH_REQUIRED,
    )) as unknown as AuthenticationRequiredError
    expect(error.missingScopes).toEqual(['admin'])
  })
})

describe('invalidate after a 401', () => {
  it('50 concurrent callers reporting one rejected token cause one refresh, and all get the new token', async () => {
    const { server, store, grant } = await setup()
    server.revokeAccessToken(grant.accessToken)
    const infos = await Promise.all(
      Array.from({ length: 50 }, () => store.invalidate('api', grant.accessToken)),
    )
    expect(server.refreshes).toBe(1)
    expect(new Set(infos.map((i) => i.accessToken)).size).toBe(1)
    expect(server.isCurrent(infos[0]!.accessToken)).toBe(true)
    // The same rejection reported again later: the token was already replaced, no refresh.
    expect((await store.invalidate('api', grant.accessToken)).accessToken).toBe(
      infos[0]!.accessToken,
    )
    expect(server.refreshes).toBe(1)
  })

  it('two stores on one driver (two processes) reporting the same rejection refresh once', async () => {
    const { server, store, driver, refreshers, clock, grant } = await setup()
    const sibling = new AuthStore({ driver, refreshers, clock: clock.now })
    expect(await sibling.getToken('api')).toBe(grant.accessToken)
    server.revokeAccessToken(grant.accessToken)
    const [a, b] = await Promise.all([
      store.invalidate('api', grant.accessToken),
      sibling.invalidate('api', grant.accessToken),
    ])
    expect(server.refreshes).toBe(1)
    expect(server.invalidGrants).toBe(0)
    expect(a.accessToken).toBe(b.accessToken)
  })

  it('a rejected token that cannot be refreshed moves the record to reauth_required', async () => {
    const store = new AuthStore({ driver: suiteDriver() })
    await store.setToken('pat', { accessToken: 'revoked-pat' })
    const error = (await expectKeywardError(
      store.invalidate('pat', 'revoked-pat'),
      KEYWARD_AUTH_REQUIRED,
    )) as unknown as AuthenticationRequiredError
    expect(error.reason).toBe('reauth_required')
    expect(await store.getMetadata('pat')).toMatchObject({
      state: 'reauth_required',
      lastError: 'invalid_token',
    })
  })
})

describe('authorizedFetch', () => {
  it('attaches the token; on a 401 refreshes once through invalidate and retries', async () => {
    const { server, store, grant } = await setup()
    const first = await store.authorizedFetch('api', server.resourceUrl, undefined, {
      scope: 'read',
    })
    expect(first.status).toBe(200)
    server.revokeAccessToken(grant.accessToken)
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => store.authorizedFetch('api', server!.resourceUrl)),
    )
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200))
    expect(server.refreshes).toBe(1)
  })

  it('follows a same-origin redirect with the token; never sends it to another origin', async () => {
    const { server, store, grant } = await setup()
    const same = `${server.resourceUrl}?redirect=${encodeURIComponent(server.resourceUrl)}`
    expect((await store.authorizedFetch('api', same)).status).toBe(200)
    const other = await otherOrigin()
    const cross = `${server.resourceUrl}?redirect=${encodeURIComponent(other.url)}`
    const response = await store.authorizedFetch('api', cross)
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe(other.url)
    expect(other.seen).toEqual([])
    expect(server.resourceRequests.map((r) => r.authorization)).toEqual(
      Array(3).fill(`Bearer ${grant.accessToken}`),
    )
  })

  it('an error that would quote the token is KEYWARD_AUTH_FETCH_FAILED without it', async () => {
    const { server } = await setup()
    const store = new AuthStore({ driver: suiteDriver() })
    const token = 'CANARY-token-with\nline-break'
    await store.setToken('odd', { accessToken: token })
    const error = await expectKeywardError(
      store.authorizedFetch('odd', server.resourceUrl),
      KEYWARD_AUTH_FETCH_FAILED,
    )
    expectNoLeak(error, ['CANARY-token'])
  })
})

describe('AbortSignal', () => {
  it('a caller that aborts stops waiting; the shared refresh goes on for the others; the refresher gets { account, signal }', async () => {
    const clock = _manualClock()
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const contexts: Parameters<Refresher>[0][] = []
    const store = new AuthStore({
      driver: suiteDriver(),
      clock: clock.now,
      refreshers: {
        api: async (context) => {
          contexts.push(context)
          await released
          return { accessToken: 'fresh', expiresIn: 3600 }
        },
      },
    })
    await store.setToken('api', {
      accessToken: 'old',
      refreshToken: 'r',
      expiresIn: 60,
      account: 'me',
    })
    clock.advance(61)
    const controller = new AbortController()
    const patient = store.getToken('api')
    const impatient = store.getTokenInfo('api', { signal: controller.signal })
    controller.abort(new Error('caller gave up'))
    await expect(impatient).rejects.toThrow('caller gave up')
    release()
    expect(await patient).toBe('fresh')
    expect(contexts).toHaveLength(1)
    expect((contexts[0] as { account?: string }).account).toBe('me')
    expect(contexts[0]?.signal).toBeInstanceOf(AbortSignal)
    await expect(store.getToken('api', { signal: AbortSignal.abort() })).rejects.toThrow()
    await expectKeywardError(
      store.getToken('api', { signal: 'soon' as never }),
      KEYWARD_INVALID_ARGUMENT,
    )
  })
})

describe('an active account per service', () => {
  it('setDefaultAccount makes getToken(service) work with several accounts, for other stores too', async () => {
    const driver = suiteDriver()
    const store = new AuthStore({ driver })
    await store.setToken('gh', { accessToken: 'work-token', account: 'work' })
    await store.setToken('gh', { accessToken: 'home-token', account: 'home' })
    await expectKeywardError(new AuthStore({ driver }).getToken('gh'), KEYWARD_INVALID_ARGUMENT)
    await store.setDefaultAccount('gh', 'home')
    expect(await store.getToken('gh')).toBe('home-token')
    expect(await new AuthStore({ driver }).getToken('gh')).toBe('home-token')
    expect((await store.list()).map((m) => m.account)).toEqual(['home', 'work'])
    await expectKeywardError(store.setDefaultAccount('gh', 'nobody'), KEYWARD_AUTH_REQUIRED)
  })
})

describe('a refresher added to an existing store', () => {
  it('setRefresher adds, replaces and removes the refresher of a service', async () => {
    const clock = _manualClock()
    const store = new AuthStore({ driver: suiteDriver(), clock: clock.now })
    await store.setToken('mcp', { accessToken: 'a0', refreshToken: 'r', expiresIn: 60 })
    expect((await store.getMetadata('mcp'))?.refreshable).toBe(false)
    let n = 0
    store.setRefresher('mcp', async () => ({ accessToken: `a${++n}`, expiresIn: 60 }))
    clock.advance(61)
    expect(await store.getToken('mcp')).toBe('a1')
    store.setRefresher('mcp', undefined)
    clock.advance(61)
    await expectKeywardError(store.getToken('mcp'), KEYWARD_AUTH_REQUIRED)
    expect(() => store.setRefresher('mcp', 'nope' as never)).toThrow(/refresher/)
  })
})
