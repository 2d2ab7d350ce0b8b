// getAccessToken for a valid cached connection (one instance), beside the AuthStore hot path it
// is built on (getToken of the same record), measured in the same run. No provider is called:
// the connection is stored as a callback would store it.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuthStore } from '@keyward/authstore'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { createIntegrations, defineProvider } from '@keyward/oauth'
import { opsPerSecond, report } from '../../../scripts/bench-kit.js'
import { snapshotBuilt } from '../../../test/_built.js'
import { postgresBinDir, startPostgres } from '../../../test/_postgres.js'
import { racers } from '../../../test/_race.js'
import { _integrationsRace, _mapAdapter } from '../src/_integrations-race.js'
import { _startOidc } from '../src/_oidc.js'
import { _standInIntegration } from '../src/_stand-in.js'

const driver = memoryDriver()
const store = new AuthStore({ driver, namespace: 'integration-tokens' })
const integrations = createIntegrations({
  driver,
  store,
  baseUrl: 'https://app.example.com',
  currentUser: () => null,
  integrations: {
    calendar: {
      ..._standInIntegration(),
      scopes: ['calendar.read'],
    },
  },
})
await store.setToken('calendar', {
  accessToken: `tok_${randomBytes(20).toString('hex')}`,
  refreshToken: `rt_${randomBytes(20).toString('hex')}`,
  expiresIn: 3600,
  scopes: ['calendar.read'],
  account: 'user-42',
})
await integrations.getAccessToken('user-42', 'calendar')
const wanted = { account: 'user-42' }
const storeOps = await opsPerSecond(() => store.getToken('calendar', wanted), {
  batch: 1000,
  durationMs: 2000,
})
const integrationOps = await opsPerSecond(
  () => integrations.getAccessToken('user-42', 'calendar'),
  { batch: 1000, durationMs: 2000 },
)
report({
  group: 'oauth',
  name: 'integrations.getAccessToken, valid cached connection',
  value: integrationOps,
  unit: 'ops/s',
  baseline: { name: 'AuthStore getToken of the same record', value: storeOps },
  higherIsBetter: true,
  goal: '≥ 1M ops/s',
})

// ---- The largest race: 4 app-instance processes × 1,000 connections on PostgreSQL ----
// (the test, integrations.processes.e2e.test.ts, runs a smaller one to fit CI's time budget).
await raceOnPostgres()

async function raceOnPostgres(): Promise<void> {
  if (postgresBinDir() === undefined) {
    process.stderr.write('skipping the PostgreSQL race: no PostgreSQL server binaries here\n')
    return
  }
  const [processes, users, calls, rounds] = [4, 1000, 2, 2]
  const cluster = await startPostgres()
  const oidc = await _startOidc({ adapter: _mapAdapter() })
  const dir = await mkdtemp(join(tmpdir(), 'keyward-integrations-bench-'))
  const script = await snapshotBuilt(
    dir,
    ['core', 'authstore', 'oauth'],
    new URL('../src/_integrations-race-child.mjs', import.meta.url),
  )
  const children = racers(() => script)
  try {
    const outcome = await _integrationsRace({
      oidc,
      provider: defineProvider({ id: 'local', issuer: oidc.issuer, allowLoopbackHttp: true }),
      url: cluster.url,
      racers: children,
      processes,
      users,
      calls,
      rounds,
      // Four pools of 20 (10 lock holders each) and a lock wait long enough for a whole
      // instance's queue of 1,000 refreshes on a loaded two-core machine.
      maxConnections: 20,
      lockTimeoutMs: 120_000,
    })
    const perExpiry = outcome.rounds.map((r) => r.ms)
    const wrong = outcome.rounds.flatMap((r) => [...r.split, ...r.stale, ...r.miscounted])
    const errors = outcome.rounds.reduce((n, r) => n + r.errors.length, 0)
    const invalid = outcome.rounds.reduce((n, r) => n + r.invalidGrants, 0)
    process.stderr.write(
      `race: ${processes} processes × ${users} connections × ${calls} calls, ${rounds} expiries: ` +
        `seeded in ${Math.round(outcome.seedMs)} ms; per expiry ${perExpiry.map(Math.round).join(' / ')} ms; ` +
        `users refreshed other than once per expiry: ${new Set(wrong).size}; errors: ${errors} ` +
        `${outcome.rounds
          .flatMap((r) => r.errors)
          .slice(0, 3)
          .join(' | ')}; invalid_grant: ${invalid}; ` +
        `lost connections: ${outcome.lost.length}; load average ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores\n`,
    )
    report({
      group: 'oauth',
      name: `integrations race on PostgreSQL, ${processes} processes × ${users} connections: time per expiry`,
      value: Math.max(...perExpiry),
      unit: 'ms',
      higherIsBetter: false,
      goal: 'one refresh per connection per expiry, 0 invalid_grant (see the line above)',
    })
    report({
      group: 'oauth',
      name: `integrations race on PostgreSQL: provider refreshes per connection per expiry (${users} connections)`,
      value: outcome.rounds.reduce((n, r) => n + r.refreshGrants, 0) / (users * rounds),
      unit: 'refreshes',
      higherIsBetter: true,
      goal: '1.00',
    })
  } finally {
    children.kill()
    await oidc.close()
    await cluster.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
