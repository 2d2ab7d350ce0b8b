// Four app-instance processes share one PostgreSQL database (a throwaway server,
// test/_postgres.ts; each instance its own postgresDriver, pool and change feed) and call
// getAccessToken for the same users' connections at once, across two expiries, against a real
// oidc-provider that rotates refresh tokens: exactly one refresh per connection per expiry
// (counted at the provider, per account), zero invalid_grant, no lost connection. The children
// import the built packages. The race itself is _integrations-race.ts.
//
// Size: the largest run is 1,000 connections. Measured on this project's two shared
// cores (load average ~17 from other work), that run took 27 s for the first expiry and 12 s
// for the second, plus 4 s of seeding — over this file's budget of about 30 s per Node version
// in CI — so the test runs USERS = 200 connections (15 s alone on that machine; 250 took 17 s
// alone and 29 s beside another test file) and `npm run bench` (bench/integrations.bench.ts)
// runs the 1,000 and prints its figures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PostgresCluster, postgresTestEnv, startPostgres } from '../../../test/_postgres.js'
import { useRaceChildren } from '../../../test/_race.js'
import { _integrationsRace, _mapAdapter } from './_integrations-race.js'
import { _useOidc } from './_oidc.js'

const PROCESSES = 4
const USERS = 200
const CALLS = 2
const pgEnv = postgresTestEnv('Integrations on PostgreSQL')
const local = _useOidc({ accountIdPath: 'sub' }, { adapter: _mapAdapter() })

describe.skipIf(!pgEnv.available)(
  'integrations across app-instance processes on PostgreSQL',
  () => {
    const racers = useRaceChildren({
      packages: ['core', 'authstore', 'oauth'],
      child: new URL('./_integrations-race-child.mjs', import.meta.url),
      prefix: 'keyward-integrations-race-',
    })
    let cluster: PostgresCluster | undefined
    beforeAll(async () => {
      cluster = await startPostgres()
    }, 120_000)
    afterAll(async () => {
      await cluster?.stop()
    })

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
