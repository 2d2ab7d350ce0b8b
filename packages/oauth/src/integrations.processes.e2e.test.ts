// Four app-instance processes share one PostgreSQL database (a throwaway server,
// test/_postgres.ts; each instance its own postgresDriver, pool and change feed) and call
// getAccessToken for the same users' connections at once, across two expiries, against a real
// oidc-provider that rotates refresh tokens: exactly one refresh per connection per expiry
// (counted at the provider, per account), zero invalid_grant, no lost connection. The children
// import the built packages. The race itself is _integrations-race.ts.
// Then an instance stuck in a refresh holds the connection's lock: the others' lock timeouts
// never mark the connection failed, and once it is killed with SIGKILL the server releases
// the lock with its session and the others carry on.
//
// Size: the largest run is 1,000 connections. Measured on this project's two shared
// cores (load average ~17 from other work), that run took 27 s for the first expiry and 12 s
// for the second, plus 4 s of seeding — over this file's budget of about 30 s per Node version
// in CI — so the test runs USERS = 200 connections (15 s alone on that machine; 250 took 17 s
// alone and 29 s beside another test file) and `npm run bench` (bench/integrations.bench.ts)
// runs the 1,000 and prints its figures.
import { randomBytes } from 'node:crypto'
import { KEYWARD_LOCK_TIMEOUT } from '@keyward/core'
import { expectKeywardError } from '@keyward/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PostgresCluster, postgresTestEnv, startPostgres } from '../../../test/_postgres.js'
import { useRaceChildren } from '../../../test/_race.js'
import { _Browser } from './_browser.js'
import {
  _calendarIntegrations,
  _integrationsRace,
  _mapAdapter,
  _seedConnections,
  _tableDriver,
} from './_integrations-race.js'
import { _CLIENT, _useOidc } from './_oidc.js'
import type { IntegrationEvent } from './integrations-types.js'

const PROCESSES = 4
const USERS = 200
const CALLS = 2
const pgEnv = postgresTestEnv('Integrations on PostgreSQL')
const local = _useOidc({ accountIdPath: 'sub' }, { adapter: _mapAdapter() })

// One snapshot of the built packages for both races; each race starts its own children.
const race = useRaceChildren({
  packages: ['core', 'authstore', 'oauth'],
  child: new URL('./_integrations-race-child.mjs', import.meta.url),
  prefix: 'keyward-integrations-race-',
})
let cluster: PostgresCluster | undefined
beforeAll(async () => {
  if (pgEnv.available) cluster = await startPostgres()
}, 120_000)
afterAll(async () => {
  await cluster?.stop()
})

describe.skipIf(!pgEnv.available)(
  'integrations across app-instance processes on PostgreSQL',
  () => {
    const racers = race.group()
    it(`${PROCESSES} processes × ${USERS} connections × ${CALLS} concurrent getAccessToken, two expiries: one refresh per connection per expiry, zero invalid_grant, none lost`, async () => {
      if (cluster === undefined) throw new Error('no PostgreSQL server')
      const outcome = await _integrationsRace({
        oidc: local.oidc,
        provider: local.provider,
        url: cluster.url,
        racers,
        processes: PROCESSES,
        users: USERS,
        calls: CALLS,
        rounds: 2,
      })
      for (const round of outcome.rounds) {
        expect(round.errors.slice(0, 5)).toEqual([])
        expect(round.served).toBe(PROCESSES * USERS * CALLS)
        // Every process got the same, new token per user; the provider refreshed each once.
        expect(round.split).toEqual([])
        expect(round.stale).toEqual([])
        expect(round.miscounted).toEqual([])
        expect(round.invalidGrants).toBe(0)
      }
      expect(outcome.rounds).toHaveLength(2)
      expect(outcome.lost).toEqual([])
    }, 180_000)
  },
)

describe.skipIf(!pgEnv.available)(
  'an app instance stuck or killed while it holds a refresh lock',
  () => {
    const racers = race.group()
    const LOCK_TIMEOUT_MS = 2000

    it('a lock timeout serves the unexpired token or fails with KEYWARD_LOCK_TIMEOUT, never reconnect_required; after SIGKILL the others refresh within the lock timeout, once', async () => {
      if (cluster === undefined) throw new Error('no PostgreSQL server')
      const table = 'integrations_stuck'
      const key = randomBytes(32).toString('base64')
      const user = 'user-stuck'
      await _seedConnections({
        oidc: local.oidc,
        provider: local.provider,
        url: cluster.url,
        table,
        key,
        users: [user],
      })
      const [stuck] = await racers.start(
        1,
        [
          JSON.stringify({
            url: cluster.url,
            table,
            issuer: local.oidc.issuer,
            clientId: _CLIENT.clientId,
            stuck: true,
          }),
        ],
        { KW_INTEGRATIONS_RACE_KEY: key, KW_INTEGRATIONS_RACE_SECRET: _CLIENT.clientSecret },
      )
      // The stuck instance, an hour later by its clock, starts the refresh and hangs in it.
      expect(await racers.ask({ type: 'hold', user, offsetSeconds: 3600 })).toEqual([
        { holding: user },
      ])

      // Two more instances in this process, each its own driver and pool.
      let offsetMs = 0
      const clock = () => Date.now() + offsetMs
      const events: IntegrationEvent[] = []
      const instance = () => {
        const driver = _tableDriver(cluster!.url, table, key)
        const { integrations } = _calendarIntegrations(driver, local.provider, {
          clock,
          lockTimeoutMs: LOCK_TIMEOUT_MS,
          onEvent: (event) => events.push(event),
        })
        return { driver, integrations }
      }
      const [a, b] = [instance(), instance()]
      const refreshesBefore = local.oidc.refreshGrants
      try {
        // Due (inside the refresh leeway) but not expired: the lock times out, the token is served.
        offsetMs = 3500_000
        const seeded = await a.integrations.getAccessToken(user, 'calendar')
        expect((await a.integrations.status(user, 'calendar')).state).toBe('connected')
        // Expired: the lock times out again, and that is what the caller hears.
        offsetMs = 3700_000
        await expectKeywardError(
          a.integrations.getAccessToken(user, 'calendar'),
          KEYWARD_LOCK_TIMEOUT,
        )
        for (const { integrations } of [a, b])
          expect(['connected', 'degraded']).toContain(
            (await integrations.status(user, 'calendar')).state,
          )
        expect(events.map((e) => e.type)).not.toContain('reconnect_required')

        // Both wait for the lock; the stuck instance is killed while it holds it.
        const waiting = [a, b].map(({ integrations }) =>
          integrations.getAccessToken(user, 'calendar'),
        )
        await new Promise((resolve) => setTimeout(resolve, 300))
        stuck!.kill('SIGKILL')
        const tokens = await Promise.all(waiting)
        // Both got the lock within their lock timeout (the token has expired: a timeout would
        // have rejected): the server released it with the dead instance's session.
        expect(new Set(tokens).size).toBe(1)
        expect(tokens[0]).not.toBe(seeded)
        expect(local.oidc.refreshGrants - refreshesBefore).toBe(1)
        for (const { integrations } of [a, b])
          expect((await integrations.status(user, 'calendar')).state).toBe('connected')
        expect(events.map((e) => e.type)).toEqual(['refreshed'])
      } finally {
        await a.driver.close()
        await b.driver.close()
      }
    })
  },
)

describe.skipIf(!pgEnv.available)(
  "the audit trail kept through the driver (audit: 'driver')",
  () => {
    it('two instances on one database append to one hash chain per user, read the same trail, and a deleted line is found', async () => {
      if (cluster === undefined) throw new Error('no PostgreSQL server')
      const table = 'integrations_audit'
      const key = randomBytes(32).toString('base64')
      const issued: string[] = []
      const onSaved = (token: { jti: string }) => issued.push(token.jti)
      for (const model of ['access_token', 'refresh_token', 'authorization_code'])
        local.oidc.provider.on(`${model}.saved`, onSaved)
      let offsetMs = 0
      const clock = () => Date.now() + offsetMs
      const instance = () => {
        const driver = _tableDriver(cluster!.url, table, key)
        const { integrations } = _calendarIntegrations(driver, local.provider, {
          clock,
          audit: 'driver',
        })
        return { driver, integrations }
      }
      const a = instance()
      await a.driver.migrate()
      const b = instance()
      try {
        // A connects the user through the provider's pages; B refreshes later; both start
        // connects at once, 12 each, racing for the chain's next line.
        const { url } = await a.integrations.beginConnect('ann', 'calendar')
        const callback = await new _Browser().authorize(url, { login: 'ann' })
        await a.integrations.handleCallback(new Request(callback, { headers: { 'x-user': 'ann' } }))
        offsetMs = 3600_000
        await b.integrations.getAccessToken('ann', 'calendar')
        await Promise.all(
          [a, b].flatMap(({ integrations }) =>
            Array.from({ length: 12 }, () => integrations.beginConnect('ann', 'calendar')),
          ),
        )
        // The refresh line is appended after the refresh returns: wait for it.
        const deadline = Date.now() + 10_000
        while ((await a.integrations.auditTrail('ann')).length < 27 && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 50))

        const trail = await a.integrations.auditTrail('ann')
        expect(await b.integrations.auditTrail('ann')).toEqual(trail)
        expect(trail.map((r) => r.seq)).toEqual(Array.from({ length: 27 }, (_, i) => i + 1))
        const kinds = trail.map((r) => `${r.entry.type} ${r.entry.outcome}`)
        expect(kinds.filter((k) => k === 'integration.connect started')).toHaveLength(25)
        expect(kinds).toContain('integration.callback connected')
        expect(kinds).toContain('integration.refresh success')
        expect(await b.integrations.verifyAuditTrail('ann')).toEqual({
          ok: true,
          lines: 27,
          head: trail[26]?.hash,
        })
        expect(await a.integrations.auditTrail('bob')).toEqual([])
        // Never a token, a code or the client secret.
        const text = JSON.stringify(trail)
        expect(issued.length).toBeGreaterThan(2)
        for (const secret of [...issued, _CLIENT.clientSecret]) expect(text).not.toContain(secret)

        // Someone deletes a line in the middle, then the last one: the chain says where.
        await a.driver.delete('integrations/audit/ann/000000000010')
        expect(await a.integrations.verifyAuditTrail('ann')).toMatchObject({
          ok: false,
          line: 10,
          reason: 'chain',
        })
        const fresh = instance()
        await fresh.integrations.beginConnect('cyd', 'calendar')
        await fresh.integrations.beginConnect('cyd', 'calendar')
        await fresh.driver.delete('integrations/audit/cyd/000000000002')
        expect(await b.integrations.verifyAuditTrail('cyd')).toMatchObject({
          ok: false,
          reason: 'head',
        })
        await fresh.driver.close()
      } finally {
        for (const model of ['access_token', 'refresh_token', 'authorization_code'])
          local.oidc.provider.off(`${model}.saved`, onSaved)
        await a.driver.close()
        await b.driver.close()
      }
    })
  },
)
