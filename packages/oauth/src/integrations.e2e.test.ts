// Per-user Integrations against a real oidc-provider on 127.0.0.1 (refresh token rotation on),
// its login and consent pages driven over HTTP (_browser.ts), everything through the
// web-standard handler, on the memory driver with a real AuthStore as the token custodian.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuthStore } from '@keyward/authstore'
import {
  createAuditLog,
  KEYWARD_INVALID_ARGUMENT,
  KeywardError,
  type SecretSource,
  verifyAuditLog,
} from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError, expectNoLeak } from '@keyward/core/testing'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { _Browser } from './_browser.js'
import { _CLIENT, _useOidc } from './_oidc.js'
import * as codes from './errors.js'
import { fetchAccount, refreshTokens } from './flows.js'
import { createIntegrations } from './integrations.js'
import type { IntegrationEvent, IntegrationsOptions } from './integrations-types.js'
import { defineProvider } from './provider.js'

const local = _useOidc({ accountIdPath: 'sub' })
const BASE = 'https://app.example'
const SECRET_ENV = 'KW_INTEGRATIONS_TEST_SECRET'
/** Every token the provider issued (oidc-provider's opaque token values): canaries. */
const issued: string[] = []
const refreshIssued: string[] = []
let dir = ''

beforeAll(async () => {
  process.env[SECRET_ENV] = _CLIENT.clientSecret
  dir = await mkdtemp(join(tmpdir(), 'kw-integrations-'))
  for (const model of ['access_token', 'refresh_token', 'authorization_code'])
    local.oidc.provider.on(`${model}.saved`, (token: { jti: string }) => {
      issued.push(token.jti)
      if (model === 'refresh_token') refreshIssued.push(token.jti)
    })
})
afterAll(async () => {
  delete process.env[SECRET_ENV]
  await rm(dir, { recursive: true, force: true })
})

/** One app: a memory driver, an AuthStore on it, the integrations, a clock the test moves. */
function app(overrides: Partial<IntegrationsOptions> = {}) {
  const time = { offsetMs: 0 }
  const clock = () => Date.now() + time.offsetMs
  const driver = memoryDriver()
  const store = new AuthStore({ driver, namespace: 'integration-tokens', clock })
  const events: IntegrationEvent[] = []
  const audit = createAuditLog({ path: join(dir, `${Math.random().toString(36).slice(2)}.jsonl`) })
  const integrations = createIntegrations({
    driver,
    store,
    baseUrl: BASE,
    dev: true,
    clock,
    audit,
    currentUser: (request) => request.headers.get('x-user'),
    onEvent: (event) => events.push(event),
    integrations: {
      calendar: {
        provider: local.provider,
        client: { clientId: _CLIENT.clientId, clientSecret: `@env:${SECRET_ENV}` },
        scopes: ['openid', 'offline_access', 'email'],
        upgradeScopes: ['profile'],
        mode: 'required',
        onboarding: { title: 'Calendar', description: 'See your free slots' },
      },
    },
    ...overrides,
  })
  return { integrations, store, driver, events, audit, time }
}

type App = ReturnType<typeof app>

/** A browser request from `user` on the app's own origin. */
function request(path: string, user: string | null, init: RequestInit = {}): Request {
  const headers = new Headers(init.headers)
  if (user !== null) headers.set('x-user', user)
  if ((init.method ?? 'GET') === 'POST' && !headers.has('origin')) headers.set('origin', BASE)
  return new Request(`${BASE}${path}`, { ...init, headers })
}

/** POSTs connect (or upgrade) through the handler and drives the provider to the callback URL. */
async function authorize(a: App, user: string, action: 'connect' | 'upgrade' = 'connect') {
  const started = await a.integrations.handler(
    request(`/__integrations/calendar/${action}`, user, { method: 'POST' }),
  )
  expect(started.status).toBe(303)
  const location = started.headers.get('location') ?? ''
  expect(location.startsWith(`${local.oidc.issuer}/`)).toBe(true)
  return new _Browser().authorize(location, { login: user })
}

async function connect(a: App, user: string) {
  const callbackUrl = await authorize(a, user)
  const done = await a.integrations.handler(
    request(new URL(callbackUrl).pathname + new URL(callbackUrl).search, user),
  )
  expect(done.status).toBe(303)
  return done
}

async function errorOf(response: Response): Promise<string> {
  const body = (await response.json()) as { error: string }
  return body.error
}

describe('integrations through the handler, against oidc-provider', () => {
  it('connect → callback → use → upgrade → disconnect, with events, an audit trail and no token anywhere', async () => {
    const a = app()
    const list = await a.integrations.handler(request('/__integrations', 'alice'))
    expect(list.status).toBe(200)
    expect(await list.json()).toMatchObject({
      integrations: [{ integration: 'calendar', state: 'not_connected', mode: 'required' }],
    })

    const done = await connect(a, 'alice')
    expect(done.headers.get('location')).toBe(`${BASE}/`)
    const status = await a.integrations.status('alice', 'calendar')
    expect(status).toMatchObject({
      state: 'connected',
      account: { id: 'alice', email: 'alice@example.test' },
      // oidc-provider grants offline_access without listing it in the token's scope.
      scopes: ['email', 'openid'],
    })
    expect(status.connectedAt).toBeInstanceOf(Date)

    // Use: a short-lived access token that the provider accepts.
    const token = await a.integrations.getAccessToken('alice', 'calendar')
    expect(await fetchAccount(local.provider, token)).toMatchObject({ id: 'alice' })
    const viaHelper = await a.integrations.withIntegrationAccess('alice', 'calendar', (t) => t)
    expect(viaHelper).toBe(token)
    await expectKeywardError(
      a.integrations.getAccessToken('alice', 'calendar', { scopes: ['profile'] }),
      codes.KEYWARD_INTEGRATION_UPGRADE_REQUIRED,
    )

    // Upgrade: the new grant holds what was granted plus the upgrade scopes.
    const upgradeCallback = await authorize(a, 'alice', 'upgrade')
    expect(new URL(upgradeCallback).searchParams.get('state')).toBeTruthy()
    const upgraded = await a.integrations.handler(
      request(new URL(upgradeCallback).pathname + new URL(upgradeCallback).search, 'alice'),
    )
    expect(upgraded.status).toBe(303)
    const after = await a.integrations.status('alice', 'calendar')
    expect(after.scopes).toEqual(['email', 'openid', 'profile'])
    expect(after.connectedAt).toEqual(status.connectedAt)
    expect(
      await a.integrations.getAccessToken('alice', 'calendar', { scopes: ['profile'] }),
    ).toEqual(expect.any(String))

    // Disconnect: revoked at the provider, then deleted. The connection's current refresh token
    // (the last one issued) no longer works there.
    const current = refreshIssued.at(-1) ?? ''
    const gone = await a.integrations.handler(
      request('/__integrations/calendar/disconnect', 'alice', { method: 'POST' }),
    )
    expect(gone.status).toBe(200)
    expect(await gone.json()).toMatchObject({
      disconnected: true,
      revoked: true,
      status: { state: 'not_connected' },
    })
    await expectKeywardError(
      a.integrations.getAccessToken('alice', 'calendar'),
      codes.KEYWARD_INTEGRATION_NOT_CONNECTED,
    )
    const refusals = local.oidc.invalidGrants
    await expect(
      refreshTokens(local.provider, _CLIENT, { refreshToken: current }),
    ).rejects.toThrow()
    expect(local.oidc.invalidGrants).toBe(refusals + 1)

    expect(a.events.map((e) => e.type)).toEqual(['connected', 'connected', 'disconnected'])
    const trail = await a.integrations.auditTrail('alice')
    expect(trail.map((r) => [r.entry.type, r.entry.outcome])).toEqual([
      ['integration.connect', 'started'],
      ['integration.callback', 'connected'],
      ['integration.upgrade', 'started'],
      ['integration.callback', 'upgraded'],
      ['integration.disconnect', 'revoked'],
    ])
    expect(await a.integrations.auditTrail('bob')).toEqual([])
    expect((await verifyAuditLog(a.audit.path)).ok).toBe(true)

    const seen = [
      status,
      after,
      await a.integrations.list('alice'),
      a.events,
      trail,
      await (await a.integrations.handler(request('/__integrations', 'alice'))).text(),
    ]
    expect(issued.length).toBeGreaterThan(3)
    expectNoLeak(JSON.stringify(seen), [...issued, _CLIENT.clientSecret])
  })

  it('refreshes through the store when the token expires (one refresh grant, a `refreshed` event)', async () => {
    const a = app()
    await connect(a, 'carol')
    const first = await a.integrations.getAccessToken('carol', 'calendar')
    const before = local.oidc.refreshGrants
    a.time.offsetMs = 3_600_000
    const calls = await Promise.all(
      Array.from({ length: 20 }, () => a.integrations.getAccessToken('carol', 'calendar')),
    )
    expect(new Set(calls).size).toBe(1)
    expect(calls[0]).not.toBe(first)
    expect(local.oidc.refreshGrants).toBe(before + 1)
    expect(a.events.map((e) => e.type)).toContain('refreshed')
    // The refresh's audit line is appended after the event (the refresh does not wait for it).
    await vi.waitFor(async () =>
      expect((await a.integrations.auditTrail('carol')).map((r) => r.entry.outcome)).toContain(
        'success',
      ),
    )
  })

  it('failure policy: a 503 degrades and keeps serving the unexpired token; a refused refresh token means reconnect_required', async () => {
    const a = app()
    await connect(a, 'dave')
    const token = await a.integrations.getAccessToken('dave', 'calendar')
    a.time.offsetMs = 3_400_000 // inside the refresh leeway, before expiry
    local.oidc.outage = '503'
    try {
      expect(await a.integrations.getAccessToken('dave', 'calendar')).toBe(token)
    } finally {
      local.oidc.outage = undefined
    }
    expect(await a.integrations.status('dave', 'calendar')).toMatchObject({
      state: 'degraded',
      lastError: 'temporarily_unavailable',
    })
    expect(a.events.map((e) => e.type)).toContain('degraded')

    // The provider forgets the grant (the user revoked access there): a permanent refusal.
    const { provider } = local.oidc
    for (const jti of issued) {
      const refresh = await provider.RefreshToken.find(jti)
      if (refresh?.accountId === 'dave') await refresh.destroy()
    }
    a.time.offsetMs = 3_700_000
    await expectKeywardError(
      a.integrations.getAccessToken('dave', 'calendar'),
      codes.KEYWARD_INTEGRATION_RECONNECT_REQUIRED,
    )
    expect((await a.integrations.status('dave', 'calendar')).state).toBe('reconnect_required')
    expect(a.events.map((e) => e.type)).toContain('reconnect_required')
  })

  it('keepAlive refreshes connections idle longer than idleFor and leaves fresh ones', async () => {
    const a = app()
    await connect(a, 'erin')
    expect(await a.integrations.keepAlive({ idleFor: '30m' })).toEqual({
      refreshed: 0,
      failed: 0,
      skipped: 1,
    })
    const before = local.oidc.refreshGrants
    const token = await a.integrations.getAccessToken('erin', 'calendar')
    a.time.offsetMs = 40 * 60_000
    expect(await a.integrations.keepAlive({ idleFor: '30m' })).toEqual({
      refreshed: 1,
      failed: 0,
      skipped: 0,
    })
    expect(local.oidc.refreshGrants).toBe(before + 1)
    expect(await a.integrations.getAccessToken('erin', 'calendar')).not.toBe(token)
    await expectKeywardError(
      a.integrations.keepAlive({ idleFor: 'soon' }),
      KEYWARD_INVALID_ARGUMENT,
    )
  })
})

describe('callback state: bound to the user, single use, expiring', () => {
  it("another user's state is refused (403) and burnt; a reused state is refused; an expired one too", async () => {
    const a = app()
    const callbackUrl = new URL(await authorize(a, 'frank'))
    const path = callbackUrl.pathname + callbackUrl.search

    const stolen = await a.integrations.handler(request(path, 'mallory'))
    expect(stolen.status).toBe(403)
    expect(await errorOf(stolen)).toBe(codes.KEYWARD_INTEGRATION_STATE_USER_MISMATCH)
    expect((await a.integrations.status('mallory', 'calendar')).state).toBe('not_connected')
    const reused = await a.integrations.handler(request(path, 'frank'))
    expect(await errorOf(reused)).toBe(codes.KEYWARD_INTEGRATION_STATE_REUSED)
    expect((await a.integrations.status('frank', 'calendar')).state).toBe('not_connected')

    // Single use even when two callbacks race with the same state.
    const again = new URL(await authorize(a, 'frank'))
    const racing = await Promise.all(
      [1, 2].map(() => a.integrations.handler(request(again.pathname + again.search, 'frank'))),
    )
    expect(racing.map((r) => r.status).sort()).toEqual([303, 400])

    const late = new URL(await authorize(a, 'grace'))
    a.time.offsetMs = 601_000
    const expired = await a.integrations.handler(request(late.pathname + late.search, 'grace'))
    expect(await errorOf(expired)).toBe(codes.KEYWARD_INTEGRATION_STATE_EXPIRED)

    const forged = await a.integrations.handler(
      request('/__integrations/callback?state=made-up-state-value-123&code=x', 'grace'),
    )
    expect(await errorOf(forged)).toBe(codes.KEYWARD_INTEGRATION_STATE_INVALID)
  })

  it('a provider error on the callback is answered with its code only, never its description', async () => {
    const a = app()
    const callbackUrl = new URL(await authorize(a, 'heidi'))
    const state = callbackUrl.searchParams.get('state') ?? ''
    const canary = 'provider-error-body-canary-5d2'
    const response = await a.integrations.handler(
      request(
        `/__integrations/callback?state=${state}&error=access_denied&error_description=${canary}&iss=${encodeURIComponent(local.oidc.issuer)}`,
        'heidi',
      ),
    )
    expect(response.status).toBe(400)
    const text = await response.text()
    expect(text).not.toContain(canary)
    expect(JSON.parse(text).error).toMatch(/^KEYWARD_OAUTH_/)
  })
})

describe('the handler: methods, CSRF, users', () => {
  it('state-changing routes are POST with an Origin check; no user is 401', async () => {
    const a = app()
    const h = a.integrations.handler
    expect((await h(request('/__integrations/calendar/connect', 'ivan'))).status).toBe(405)
    const foreign = await h(
      request('/__integrations/calendar/connect', 'ivan', {
        method: 'POST',
        headers: { origin: 'https://evil.example' },
      }),
    )
    expect(foreign.status).toBe(403)
    expect(await errorOf(foreign)).toBe(codes.KEYWARD_INTEGRATION_CSRF)
    const noOrigin = new Request(`${BASE}/__integrations/calendar/disconnect`, {
      method: 'POST',
      headers: { 'x-user': 'ivan' },
    })
    expect(await errorOf(await h(noOrigin))).toBe(codes.KEYWARD_INTEGRATION_CSRF)
    const sameSite = new Request(`${BASE}/__integrations/calendar/disconnect`, {
      method: 'POST',
      headers: { 'x-user': 'ivan', 'sec-fetch-site': 'same-origin' },
    })
    expect((await h(sameSite)).status).toBe(200)
    const anonymous = await h(request('/__integrations', null))
    expect(anonymous.status).toBe(401)
    expect(await errorOf(anonymous)).toBe(codes.KEYWARD_INTEGRATION_UNAUTHENTICATED)
    expect((await h(request('/__integrations/nope', 'ivan'))).status).toBe(404)
    expect((await h(request('/elsewhere', 'ivan'))).status).toBe(404)
  })

  it('mounts in Hono: the same handler behind app.all', async () => {
    const a = app()
    const hono = new Hono()
    hono.all('/__integrations/*', (c) => a.integrations.handler(c.req.raw))
    hono.all('/__integrations', (c) => a.integrations.handler(c.req.raw))
    const listed = await hono.request(`${BASE}/__integrations`, { headers: { 'x-user': 'judy' } })
    expect(listed.status).toBe(200)
    expect(await listed.json()).toMatchObject({ integrations: [{ state: 'not_connected' }] })
    const started = await hono.request(`${BASE}/__integrations/calendar/connect`, {
      method: 'POST',
      headers: { 'x-user': 'judy', origin: BASE },
    })
    expect(started.status).toBe(303)
    const callbackUrl = new URL(
      await new _Browser().authorize(started.headers.get('location') ?? '', { login: 'judy' }),
    )
    const done = await hono.request(callbackUrl.href, { headers: { 'x-user': 'judy' } })
    expect(done.status).toBe(303)
    expect((await a.integrations.status('judy', 'calendar')).state).toBe('connected')
  })
})

describe('configuration', () => {
  it('client secrets are references: a literal in code, an http provider without dev, an http baseUrl are refused', () => {
    const base = {
      driver: memoryDriver(),
      store: new AuthStore({ driver: memoryDriver() }),
      baseUrl: BASE,
      currentUser: () => null,
    }
    const literal = () =>
      createIntegrations({
        ...base,
        dev: true,
        integrations: {
          calendar: {
            provider: local.provider,
            client: { clientId: 'x', clientSecret: 'hunter2' },
          },
        },
      })
    expect(literal).toThrow(KeywardError)
    try {
      literal()
    } catch (error) {
      expect((error as KeywardError).code).toBe(KEYWARD_INVALID_ARGUMENT)
      expectNoLeak(error, ['hunter2'])
    }
    expect(() =>
      createIntegrations({
        ...base,
        integrations: { calendar: { provider: local.provider, client: { clientId: 'x' } } },
      }),
    ).toThrow(/dev: true/)
    expect(() =>
      createIntegrations({
        ...base,
        baseUrl: 'http://app.example',
        integrations: {
          calendar: {
            provider: defineProvider({
              id: 'x',
              authorizeUrl: 'https://a.example/a',
              tokenUrl: 'https://a.example/t',
            }),
            client: { clientId: 'x' },
          },
        },
      }),
    ).toThrow(/baseUrl/)
  })

  it('getAccessToken hands out tokens of declared integrations only, not of other services in the store', async () => {
    const a = app()
    await a.store.setToken('github', { accessToken: 'gho_other_service_canary', account: 'olivia' })
    await expectKeywardError(
      a.integrations.getAccessToken('olivia', 'github'),
      codes.KEYWARD_INTEGRATION_UNKNOWN,
    )
    await expectKeywardError(
      a.integrations.withIntegrationAccess('olivia', 'github', (token) => token),
      codes.KEYWARD_INTEGRATION_UNKNOWN,
    )
  })

  it('@secret: references come from the secrets source; a missing one is codes.KEYWARD_INTEGRATION_SECRET_MISSING', async () => {
    const values = new Map<string, string>()
    const secrets: SecretSource = {
      resolve: async (keys) => new Map([...values].filter(([k]) => keys.includes(k))),
    }
    const a = app({
      secrets,
      integrations: {
        calendar: {
          provider: local.provider,
          client: { clientId: _CLIENT.clientId, clientSecret: '@secret:CALENDAR_SECRET' },
          scopes: ['openid', 'offline_access'],
        },
      },
    })
    await expectKeywardError(
      a.integrations.beginConnect('kim', 'calendar'),
      codes.KEYWARD_INTEGRATION_SECRET_MISSING,
    )
    values.set('CALENDAR_SECRET', _CLIENT.clientSecret)
    await connect(a, 'kim')
    expect((await a.integrations.status('kim', 'calendar')).state).toBe('connected')
  })
})
