// Hot `getToken` with a scope check, against a read from the OS keyring per call (what a
// design that reads the keychain on every request pays), measured in the same run; and the
// refresh coalescing counts: callers vs refreshes per expiry, in one process and across
// 8 processes sharing one file store, against a token endpoint that rotates refresh tokens.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AuthStore, type Refresher } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { keyringDriver, probeKeyring } from '@keyward/core/drivers/keyring'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { opsPerSecond, report } from '../../../scripts/bench-kit.js'
import { tokenRound } from '../../../test/_built.js'
import { racers } from '../../../test/_race.js'
import { _httpRefresher, _startTokenServer } from '../src/_token-server.js'

const GROUP = 'authstore'
const tokenValue = `tok_${randomBytes(20).toString('hex')}`

/**
 * The two figures of a refresh coalescing run: refreshes per expiry against the number of
 * callers (goal: exactly 1), and the calls that failed (goal: 0).
 */
function reportCoalescing(
  run: string,
  refreshesPerExpiry: number,
  callers: number,
  failed: { name: string; calls: number },
): void {
  report({
    group: GROUP,
    name: `refreshes per expiry, ${run}`,
    value: refreshesPerExpiry,
    unit: 'refreshes',
    baseline: { name: 'callers', value: callers },
    higherIsBetter: false,
    goal: 'exactly 1',
  })
  report({
    group: GROUP,
    name: failed.name,
    value: failed.calls,
    unit: 'calls',
    higherIsBetter: false,
    goal: '0',
  })
}
const dir = await mkdtemp(join(tmpdir(), 'keyward-authstore-bench-'))

try {
  // ---- hot getToken ----------------------------------------------------------------------
  const hotStore = new AuthStore({ driver: memoryDriver() })
  await hotStore.setToken('registry', {
    accessToken: tokenValue,
    expiresIn: 3600,
    scopes: 'registry:read registry:write',
  })
  const wanted = { scope: 'registry:write' }
  await hotStore.getToken('registry', wanted)
  const hotOps = await opsPerSecond(() => hotStore.getToken('registry', wanted), {
    batch: 1000,
    durationMs: 2000,
  })

  // Baseline: a driver read per call, as a store without a memory cache would do.
  const probe = await probeKeyring({ service: 'keyward-authstore-bench-probe' })
  const record = new TextEncoder().encode(
    JSON.stringify({ accessToken: tokenValue, scopes: ['registry:write'] }),
  )
  if (probe.available) {
    const service = `keyward-authstore-bench-${randomUUID()}`
    const keyring = keyringDriver({ service })
    try {
      await keyring.set('authstore/registry/default', record)
      const keyringOps = await opsPerSecond(() => keyring.get('authstore/registry/default'), {
        durationMs: 2000,
      })
      report({
        group: GROUP,
        name: 'hot getToken with scope check',
        value: hotOps,
        unit: 'ops/s',
        baseline: { name: `keyring driver get per call (${probe.backend})`, value: keyringOps },
        higherIsBetter: true,
        goal: '≥ 1M ops/s and ≥ 1000× baseline',
      })
    } finally {
      for (const key of await keyring.list()) await keyring.delete(key)
    }
  } else {
    console.error(`keyring unavailable (${probe.code}); baseline is the file driver instead`)
  }
  // A second baseline that runs everywhere: the encrypted file driver's get per call.
  const file = fileDriver({
    path: join(dir, 'baseline.kw'),
    key: envKey('K', { env: { K: randomBytes(32).toString('base64') } }),
  })
  await file.set('authstore/registry/default', record)
  const fileOps = await opsPerSecond(() => file.get('authstore/registry/default'), {
    batch: 10,
    durationMs: 1000,
  })
  await file.close()
  report({
    group: GROUP,
    name: 'hot getToken with scope check',
    value: hotOps,
    unit: 'ops/s',
    baseline: { name: 'file driver get per call (stat + in-memory store)', value: fileOps },
    higherIsBetter: true,
  })

  // ---- refresh coalescing, one process ----------------------------------------------------
  const server = await _startTokenServer({ delayMs: 20 })
  try {
    let now = Date.now()
    const refresher: Refresher = _httpRefresher(server.url, () => now)
    const store = new AuthStore({
      driver: memoryDriver(),
      refreshers: { registry: refresher },
      clock: () => now,
    })
    await store.setToken('registry', {
      ...server.issue('registry:write'),
      expiresIn: 600,
      scopes: 'registry:write',
    })
    const rounds = 5
    for (let i = 0; i < rounds; i++) {
      now += 3600_000
      await Promise.all(Array.from({ length: 1000 }, () => store.getToken('registry', wanted)))
    }
    reportCoalescing('1,000 concurrent getToken in one process', server.refreshes / rounds, 1000, {
      name: 'invalid_grant answers, one process',
      calls: server.invalidGrants,
    })
  } finally {
    await server.close()
  }

  // ---- refresh coalescing, 8 processes on one file store ----------------------------------
  const xserver = await _startTokenServer({ delayMs: 20 })
  const child = fileURLToPath(new URL('../src/_cross-process-child.mjs', import.meta.url))
  const race = racers(() => child)
  try {
    const key = randomBytes(32).toString('base64')
    const env = { KW_AUTHSTORE_TEST_KEY: key }
    const path = join(dir, 'tokens.kw')
    const driver = fileDriver({ path, key: envKey('KW_AUTHSTORE_TEST_KEY', { env }) })
    await new AuthStore({ driver }).setToken('registry', {
      ...xserver.issue('registry:write'),
      expiresIn: 600,
      scopes: 'registry:write',
    })
    await driver.close()
    const config = JSON.stringify({ path, url: xserver.url, scope: 'registry:write' })
    await race.start(8, [config], env)
    const rounds = 3
    let errors = 0
    for (let round = 1; round <= rounds; round++)
      errors += (await tokenRound(race.children, { offsetSeconds: round * 2 * 3600, calls: 50 }))
        .errors.length
    race.exit()
    reportCoalescing(
      '8 processes × 50 concurrent getToken, one file store',
      xserver.refreshes / rounds,
      400,
      {
        name: 'invalid_grant answers + failed callers, 8 processes',
        calls: xserver.invalidGrants + errors,
      },
    )
  } finally {
    race.kill()
    await xserver.close()
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
