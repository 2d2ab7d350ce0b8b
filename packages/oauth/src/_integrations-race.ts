// The race of integrations.processes.e2e.test.ts, also run at full size by
// bench/integrations.bench.ts: app-instance processes (_integrations-race-child.mjs) share one
// PostgreSQL table and call getAccessToken for the same users' connections at once, across
// expiries, against a real oidc-provider that rotates refresh tokens. It returns what happened
// (per round: time, calls served, errors, users who got more than one token or a stale one,
// refreshes counted at the provider per connection); the caller asserts or reports.
//
// Two users connect through beginConnect, the provider's pages and handleCallback, as users
// would; the others get their grant and tokens minted inside oidc-provider (its own Grant,
// RefreshToken and AccessToken models, so the refresh tokens are real, rotating ones) and stored
// with setToken: hundreds of interactive sign-ins would take minutes and test nothing the race
// needs. oidc-provider must keep its state in `mapAdapter()`: its default memory adapter is an
// LRU of about 2,000 entries, fewer than 1,000 connections' grants and tokens.
import { randomBytes } from 'node:crypto'
import { AuthStore } from '@keyward/authstore'
import { type Clock, type Driver, envKey } from '@keyward/core'
import { postgresDriver } from '@keyward/core/drivers/postgres'
import type { Racers } from '../../../test/_race.js'
import { _Browser } from './_browser.js'
import { _CLIENT, type _OidcServer } from './_oidc.js'
import { createIntegrations } from './integrations.js'
import type { IntegrationsOptions } from './integrations-types.js'
import type { Provider } from './provider.js'

const SCOPE = 'openid offline_access'
/** Users who connect through the handler and the provider's pages; the rest are minted. */
const BROWSER_USERS = 2

/** oidc-provider's storage on a plain Map (see the file comment); no expiry: races are short. */
export function _mapAdapter() {
  const rows = new Map<string, Record<string, unknown>>()
  const byUid = new Map<string, string>()
  const byGrant = new Map<string, Set<string>>()
  return class MapAdapter {
    constructor(readonly model: string) {}
    key(id: string) {
      return `${this.model}:${id}`
    }
    async upsert(id: string, payload: Record<string, unknown>) {
      rows.set(this.key(id), payload)
      if (this.model === 'Session') byUid.set(payload.uid as string, id)
      if (typeof payload.grantId === 'string') {
        const members = byGrant.get(payload.grantId) ?? new Set()
        byGrant.set(payload.grantId, members.add(this.key(id)))
      }
    }
    async find(id: string) {
      return rows.get(this.key(id))
    }
    async findByUid(uid: string) {
      const id = byUid.get(uid)
      return id === undefined ? undefined : this.find(id)
    }
    async findByUserCode() {
      return undefined
    }
    async consume(id: string) {
      const row = rows.get(this.key(id))
      if (row !== undefined) row.consumed = Math.floor(Date.now() / 1000)
    }
    async destroy(id: string) {
      rows.delete(this.key(id))
    }
    async revokeByGrantId(grantId: string) {
      for (const key of byGrant.get(grantId) ?? []) rows.delete(key)
      byGrant.delete(grantId)
    }
  }
}

/** What one round of the race did. */
export interface _RaceRound {
  readonly ms: number
  /** getAccessToken calls that returned a token (all of them: processes × users × calls). */
  readonly served: number
  readonly errors: readonly string[]
  /** Users whose calls got more than one token across the processes. */
  readonly split: readonly string[]
  /** Users served the token of the round before (not refreshed). */
  readonly stale: readonly string[]
  /** Users not refreshed exactly once per round so far, counted at the provider. */
  readonly miscounted: readonly string[]
  /** Refresh grants the provider answered during the round. */
  readonly refreshGrants: number
  /** `invalid_grant` answers of the provider during the round. */
  readonly invalidGrants: number
}

/** What the race did. */
export interface _RaceOutcome {
  readonly seedMs: number
  readonly rounds: readonly _RaceRound[]
  /** Users whose record is not valid at generation `rounds + 1` afterwards. */
  readonly lost: readonly string[]
}

/** Options of {@link _integrationsRace}. */
export interface _RaceOptions {
  readonly oidc: _OidcServer
  /** The provider on `oidc` (loopback http allowed). */
  readonly provider: Provider
  /** The PostgreSQL server's URL. */
  readonly url: string
  /** The children (started here), running _integrations-race-child.mjs. */
  readonly racers: Racers
  readonly processes: number
  readonly users: number
  /** Concurrent getAccessToken per user, per process, per round. */
  readonly calls: number
  /** Expiries to cross (each round moves the children's clocks past the last token's). */
  readonly rounds: number
  /** The children's AuthStore lockTimeoutMs (default the AuthStore's). */
  readonly lockTimeoutMs?: number | undefined
  /** Each child's pool size (default the driver's). */
  readonly maxConnections?: number | undefined
}

/** Options of {@link _calendarIntegrations}. */
export interface _CalendarOptions {
  readonly clock?: Clock | undefined
  readonly lockTimeoutMs?: number | undefined
  readonly onEvent?: IntegrationsOptions['onEvent']
  readonly audit?: IntegrationsOptions['audit']
}

/**
 * An AuthStore (namespace `integration-tokens`) and createIntegrations on `driver` with one
 * integration, `calendar`, on `provider` with the test client (its secret through
 * `@env:KW_INTEGRATIONS_RACE_SECRET`, set here); the signed-in user is the `x-user` header.
 */
export function _calendarIntegrations(
  driver: Driver,
  provider: Provider,
  options: _CalendarOptions = {},
) {
  process.env.KW_INTEGRATIONS_RACE_SECRET = _CLIENT.clientSecret
  const { clock, lockTimeoutMs, onEvent, audit } = options
  const store = new AuthStore({ driver, namespace: 'integration-tokens', clock, lockTimeoutMs })
  const integrations = createIntegrations({
    driver,
    store,
    baseUrl: 'https://app.example',
    dev: true,
    clock,
    onEvent,
    audit,
    currentUser: (request) => request.headers.get('x-user'),
    integrations: {
      calendar: {
        provider,
        client: { clientId: _CLIENT.clientId, clientSecret: '@env:KW_INTEGRATIONS_RACE_SECRET' },
        scopes: SCOPE.split(' '),
      },
    },
  })
  return { store, integrations }
}

/** A postgresDriver on `table` of the server at `url`, with the store key `key` (base64). */
export function _tableDriver(url: string, table: string, key: string) {
  return postgresDriver({
    connectionString: url,
    table,
    key: envKey('KW_INTEGRATIONS_RACE_KEY', { env: { KW_INTEGRATIONS_RACE_KEY: key } }),
  })
}

/** A grant with a real refresh and access token for `user`, made inside oidc-provider. */
async function mintConnection(oidc: _OidcServer, user: string) {
  const { provider } = oidc
  const client = await provider.Client.find(_CLIENT.clientId)
  const grant = new provider.Grant({ accountId: user, clientId: _CLIENT.clientId })
  grant.addOIDCScope(SCOPE)
  const grantId = await grant.save()
  const made = { accountId: user, client, grantId, scope: SCOPE, gty: 'authorization_code' }
  return {
    refreshToken: (await new provider.RefreshToken(made).save()) as string,
    accessToken: (await new provider.AccessToken(made).save()) as string,
  }
}

/** Where and how {@link _seedConnections} connects users. */
export interface _SeedOptions {
  readonly oidc: _OidcServer
  readonly provider: Provider
  readonly url: string
  readonly table: string
  /** The store key (base64 of 32 bytes), as the children's KW_INTEGRATIONS_RACE_KEY. */
  readonly key: string
  readonly users: readonly string[]
  /** How many of them connect through the handler and the provider's pages (default 0). */
  readonly browserUsers?: number | undefined
}

/**
 * Connects `users` (integration `calendar`, AuthStore namespace `integration-tokens`) on a fresh,
 * migrated `table` of `url`; see the file comment. Access tokens expire in an hour.
 */
export async function _seedConnections(options: _SeedOptions): Promise<void> {
  const { oidc, table, key, users } = options
  const driver = _tableDriver(options.url, table, key)
  try {
    await driver.migrate()
    const { store, integrations } = _calendarIntegrations(driver, options.provider)
    const browserUsers = options.browserUsers ?? 0
    for (const user of users.slice(0, browserUsers)) {
      const { url } = await integrations.beginConnect(user, 'calendar')
      const callback = await new _Browser().authorize(url, { login: user })
      await integrations.handleCallback(new Request(callback, { headers: { 'x-user': user } }))
    }
    const minted = users.slice(browserUsers)
    for (let i = 0; i < minted.length; i += 50)
      await Promise.all(
        minted.slice(i, i + 50).map(async (user) =>
          store.setToken('calendar', {
            ...(await mintConnection(oidc, user)),
            expiresIn: 3600,
            scopes: SCOPE.split(' '),
            account: user,
          }),
        ),
      )
  } finally {
    await driver.close()
  }
}

/** Users whose record is not valid at `generation`, read afresh. */
async function lostConnections(
  url: string,
  table: string,
  key: string,
  users: string[],
  generation: number,
) {
  const reader = _tableDriver(url, table, key)
  try {
    const store = new AuthStore({ driver: reader, namespace: 'integration-tokens' })
    const lost: string[] = []
    for (const user of users) {
      const meta = await store.getMetadata('calendar', { account: user })
      if (meta?.state !== 'valid' || meta.generation !== generation) lost.push(user)
    }
    return lost
  } finally {
    await reader.close()
  }
}

/** Runs the race (see the file comment) on a fresh table and returns what happened. */
export async function _integrationsRace(options: _RaceOptions): Promise<_RaceOutcome> {
  const { oidc, racers } = options
  const table = `integrations_race_${randomBytes(4).toString('hex')}`
  const key = randomBytes(32).toString('base64')
  const users = Array.from({ length: options.users }, (_, i) => `user-${i}`)
  const seedStarted = performance.now()
  await _seedConnections({ ...options, table, key, users, browserUsers: BROWSER_USERS })
  const seedMs = performance.now() - seedStarted

  const config = {
    url: options.url,
    table,
    issuer: oidc.issuer,
    clientId: _CLIENT.clientId,
    lockTimeoutMs: options.lockTimeoutMs,
    maxConnections: options.maxConnections,
  }
  await racers.start(options.processes, [JSON.stringify(config)], {
    KW_INTEGRATIONS_RACE_KEY: key,
    KW_INTEGRATIONS_RACE_SECRET: _CLIENT.clientSecret,
  })
  const refreshes = new Map<string, number>()
  const count = (token: { accountId: string }) =>
    refreshes.set(token.accountId, (refreshes.get(token.accountId) ?? 0) + 1)
  oidc.provider.on('refresh_token.consumed', count)
  const rounds: _RaceRound[] = []
  const previous = new Map<string, string>()
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const invalidBefore = oidc.invalidGrants
      const grantsBefore = oidc.refreshGrants
      const started = performance.now()
      // Round r: 1 h, 3 h, 5 h… later: past the expiry of the token the round before got.
      const results = await racers.ask<{
        tokens: Record<string, string[]>
        served: number
        errors: string[]
      }>({ offsetSeconds: (2 * round - 1) * 3600, users, calls: options.calls })
      const ms = performance.now() - started
      const perUser = new Map<string, Set<string>>()
      for (const r of results)
        for (const [user, tokens] of Object.entries(r.tokens))
          for (const token of tokens) perUser.set(user, (perUser.get(user) ?? new Set()).add(token))
      const first = (user: string) => [...(perUser.get(user) ?? [])][0]
      rounds.push({
        ms,
        served: results.reduce((n, r) => n + r.served, 0),
        errors: results.flatMap((r) => r.errors),
        split: users.filter((u) => (perUser.get(u)?.size ?? 0) > 1),
        stale: users.filter((u) => first(u) !== undefined && previous.get(u) === first(u)),
        miscounted: users.filter((u) => refreshes.get(u) !== round),
        refreshGrants: oidc.refreshGrants - grantsBefore,
        invalidGrants: oidc.invalidGrants - invalidBefore,
      })
      for (const user of users) previous.set(user, first(user) ?? '')
    }
  } finally {
    oidc.provider.off('refresh_token.consumed', count)
    racers.exit()
  }
  const lost = await lostConnections(options.url, table, key, users, options.rounds + 1)
  return { seedMs, rounds, lost }
}
